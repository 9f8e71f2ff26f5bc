"""What the embedded engine needs from a runtime: one session per model instance.

A runtime (ONNX Runtime, TorchScript) opens the sessions for one model version, completes
and checks its config against the model file, and then only has to ``run`` batches: the
instances, the scheduler, warm-up, splitting and statistics live in :mod:`model` and are
the same for every runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from numpy.typing import NDArray
from tritonclient.grpc import model_config_pb2 as mc

TORCH_PLATFORM = "pytorch_libtorch"
TORCH_BACKEND = "pytorch"


class ModelInputError(Exception):
    """The runtime rejected a batch's input values (e.g. a token id past the vocabulary).

    Shapes and datatypes are checked before a request is queued; this is what only the
    model can tell. The message is the runtime's own, shortened to its useful part.
    """


class Session(Protocol):
    """One model instance. ``run`` is called from one worker thread at a time."""

    def run(self, feeds: Mapping[str, NDArray[Any]]) -> Sequence[NDArray[Any]]:
        """Execute one batch; outputs in ``config.output`` order. Raises ModelInputError."""
        ...

    def close(self) -> None:
        """Release what the instance holds (device memory, captured graphs)."""
        ...


def is_torch(config: mc.ModelConfig) -> bool:
    return bool(config.platform == TORCH_PLATFORM or config.backend == TORCH_BACKEND)


def open_sessions(
    config: mc.ModelConfig,
    model_path: Path,
    default_providers: Sequence[str],
    intra_op_threads: int,
) -> list[Session]:
    """One session per configured instance; ``config`` is completed from the model in place."""
    # Imported on use: a server without torch (or without onnxruntime) still serves the rest.
    if is_torch(config):
        from mlinfer.backends.embedded import torch_session

        return list(torch_session.open_sessions(config, model_path))
    from mlinfer.backends.embedded import onnx_session

    return list(onnx_session.open_sessions(config, model_path, default_providers, intra_op_threads))


def instance_factory(
    config: mc.ModelConfig,
    model_path: Path,
    default_providers: Sequence[str],
    intra_op_threads: int,
) -> Callable[[int], Session]:
    """Opens instance ``i`` of a loaded model where :func:`open_sessions` would have placed
    it (round robin over the configured placements): how instances are added at run time."""
    if is_torch(config):
        from mlinfer.backends.embedded import torch_session

        return torch_session.instance_factory(config, model_path)
    from mlinfer.backends.embedded import onnx_session

    return onnx_session.instance_factory(config, model_path, default_providers, intra_op_threads)
