"""Stage 3: TensorRT engines, through the ``tensorrt`` Python API or ``trtexec``.

Written against TensorRT 8.5 (JetPack 5) and TensorRT 10 (JetPack 6). Nothing here imports
``tensorrt`` at import time: the module is only needed when an engine is built.
"""
