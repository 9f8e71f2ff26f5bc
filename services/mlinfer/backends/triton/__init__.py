"""Fronting a real NVIDIA Triton Inference Server over its gRPC API."""

from mlinfer.backends.triton.backend import TritonBackend
from mlinfer.backends.triton.errors import TritonError, TritonUnavailableError

__all__ = ["TritonBackend", "TritonError", "TritonUnavailableError"]
