"""``mlinfer optimize``: ONNX -> FP16 / INT8 candidates (TensorRT engines where TensorRT exists)
behind an accuracy gate, profiled, published as a Triton version folder.

Stages, one module each, composed by :mod:`mlinfer.optimizer.pipeline`: ``inspect`` and
``clean``; ``fp16`` and ``int8`` candidates on data from ``data`` / ``images``; the gate
(``agreement``, ``gate``) with its fallback (``sensitivity``, ``candidates``); ``profile`` and
``report``; ``tensorrt`` with ``engine_key`` / ``device``; ``publish``. Nothing is imported or
computed at import time.
"""
