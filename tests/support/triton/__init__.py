"""Running a real NVIDIA Triton server locally (the ``tritonserver`` bundled in nvidia-pytriton).

``server_process`` starts and stops the server, ``python_backend`` turns an ONNX model repository
into one the bundled Triton (Python backend only) can serve, and ``perf_analyzer`` runs Triton's
``perf_analyzer`` shipped in the tritonclient wheel.
"""
