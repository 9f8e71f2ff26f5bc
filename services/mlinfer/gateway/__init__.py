"""REST gateway: the Open Inference Protocol (as Triton speaks it) over FastAPI."""
