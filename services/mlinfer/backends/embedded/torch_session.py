"""TorchScript sessions (platform ``pytorch_libtorch``) on CPU or NVIDIA GPUs.

One :class:`TorchSession` per model instance, each with its own copy of the module. On a
GPU an instance owns a CUDA stream, copies through pinned host memory without blocking (the
H2D copy, the model and the D2H copy queue on that stream; the worker waits once per
batch), and replays CUDA graphs captured at load time for the batch buckets of
:func:`~mlinfer.backends.embedded.torch_config.graph_batch_sizes`: a batch is padded to the
next bucket (rows are independent; the padding rows are never read back) and runs eagerly
when no bucket holds it. Launching ResNet-50 or BERT op by op costs more host time than the
GPU needs for a small batch: the graph is one launch.

``instance_group`` follows Triton: ``KIND_GPU`` puts ``count`` instances on each listed GPU
(every visible GPU when ``gpus`` is empty), ``KIND_CPU`` runs on the host, ``KIND_AUTO``
picks the GPUs when CUDA is available.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.backends.embedded import torch_config
from mlinfer.backends.embedded.session import ModelInputError
from mlinfer.backends.embedded.torch_config import TorchOptions, TorchTensor
from mlinfer.core import datatypes
from mlinfer.core.errors import ModelLoadError

log = logging.getLogger(__name__)

_WARMUP_RUNS = 3  # before a capture: lets TorchScript's profiling executor settle per shape


def import_torch(model: str) -> Any:
    """``torch``, or a load error that says how to get it."""
    try:
        import torch
    except ImportError as exc:
        raise ModelLoadError(
            f"model '{model}': platform pytorch_libtorch needs PyTorch, which is not installed "
            f"where this server runs ({exc}); install it with: pip install 'mlinfer[torch]'"
        ) from None
    return torch


@dataclass
class _Graph:
    """A captured bucket: pinned host inputs -> H2D -> model -> D2H -> pinned host outputs.

    The copies are in the graph too, so a batch is one numpy copy in, ``replay``, one
    wait and one numpy copy out: two torch calls, two GIL hand-offs, however many tensors.
    """

    graph: Any  # torch.cuda.CUDAGraph
    host_inputs: list[NDArray[Any]]  # views of pinned buffers, forward order, batch = bucket
    host_outputs: list[NDArray[Any]]  # views of pinned buffers, config.output order
    device: list[Any]  # the static device tensors the graph reads and writes (kept alive)


class TorchSession:
    def __init__(
        self,
        torch: Any,
        module: Any,
        device: str,
        inputs: Sequence[TorchTensor],
        outputs: Sequence[TorchTensor],
        returned: Sequence[TorchTensor],
        options: TorchOptions,
        batched: bool,
        model: str,
    ) -> None:
        self._torch = torch
        self._module = module
        self._device = torch.device(device)
        self._cuda = self._device.type == "cuda"
        self._stream = torch.cuda.Stream(self._device) if self._cuda else None
        self._inputs = list(inputs)  # forward order
        self._outputs = list(outputs)  # config order
        self._positions = [list(returned).index(t) for t in outputs]
        self._options = options
        self._batched = batched
        self._model = model
        self._dtypes = {name: _torch_dtype(torch, name) for name in torch_config.TORCH_DATATYPES}
        self._graphs: dict[int, _Graph] = {}  # bucket (0 = the model does not batch) -> graph

    @property
    def device(self) -> str:
        return str(self._device)

    @property
    def graph_buckets(self) -> list[int]:
        return sorted(self._graphs)

    # -- running ---------------------------------------------------------------------------
    def run(self, feeds: Mapping[str, NDArray[Any]]) -> list[NDArray[Any]]:
        torch = self._torch
        arrays = [feeds[t.name] for t in self._inputs]
        try:
            with torch.inference_mode():
                if not self._cuda:
                    tensors = [torch.from_numpy(np.require(a, requirements="W")) for a in arrays]
                    return [o.contiguous().numpy() for o in self._forward(tensors)]
                with torch.cuda.stream(self._stream):
                    return self._run_cuda(arrays)
        except torch.cuda.OutOfMemoryError:
            raise
        except RuntimeError as exc:  # TorchScript raises RuntimeError for what the model rejects
            raise ModelInputError(_torch_message(exc)) from None

    def _run_cuda(self, arrays: Sequence[NDArray[Any]]) -> list[NDArray[Any]]:
        torch = self._torch
        n = int(arrays[0].shape[0]) if self._batched else 0
        graph = self._graph_for(n, arrays)
        assert self._stream is not None
        if graph is not None:
            for view, array in zip(graph.host_inputs, arrays, strict=True):
                (view[:n] if self._batched else view)[...] = array  # rows past n: padding
            graph.graph.replay()
            self._stream.synchronize()
            return [(v[:n] if self._batched else v).copy() for v in graph.host_outputs]
        device = [self._pinned(a).to(self._device, non_blocking=True) for a in arrays]
        outs = self._forward(device)
        host = [torch.empty(o.shape, dtype=o.dtype, pin_memory=True) for o in outs]
        for h, o in zip(host, outs, strict=True):
            h.copy_(o, non_blocking=True)
        self._stream.synchronize()
        # The pinned blocks stay alive while the numpy views (the responses) do.
        return [h.numpy() for h in host]

    def _graph_for(self, n: int, arrays: Sequence[NDArray[Any]]) -> _Graph | None:
        if not self._graphs:
            return None
        if not self._batched:
            graph = self._graphs.get(0)
            same = graph is not None and all(
                h.shape == a.shape for h, a in zip(graph.host_inputs, arrays, strict=True)
            )
            return graph if same else None
        bucket = torch_config.bucket_for(self.graph_buckets, n)
        return self._graphs.get(bucket) if bucket is not None else None

    def _pinned(self, array: NDArray[Any]) -> Any:
        """The array in page-locked host memory, so the copy to the GPU is asynchronous DMA."""
        datatype = datatypes.from_numpy(array.dtype).name
        host = self._torch.empty(array.shape, dtype=self._dtypes[datatype], pin_memory=True)
        host.numpy()[...] = array
        return host

    def _forward(self, tensors: Sequence[Any]) -> list[Any]:
        """The module on device tensors: half-precision compute, declared I/O datatypes."""
        outs = self._pick(self._module(*self._cast_in(tensors)))
        return [o.to(self._dtypes[t.datatype]) for o, t in zip(outs, self._outputs, strict=True)]

    def _pick(self, result: Any) -> list[Any]:
        """forward()'s result as one tensor per config output, in config order."""
        if isinstance(result, dict):
            missing = [t.name for t in self._outputs if t.name not in result]
            if missing:
                raise ModelLoadError(
                    f"model '{self._model}': forward() returned a dict without {missing}"
                )
            return [result[t.name] for t in self._outputs]
        values = list(result) if isinstance(result, tuple | list) else [result]
        if len(values) != len(self._outputs):
            raise ModelLoadError(
                f"model '{self._model}': forward() returned {len(values)} tensor(s) but "
                f"config.pbtxt declares {len(self._outputs)} output(s)"
            )
        return [values[p] for p in self._positions]

    # -- loading ---------------------------------------------------------------------------
    def check_outputs(self) -> None:
        """Run one sample batch and compare what comes back with the declared outputs."""
        torch = self._torch
        with torch.inference_mode():
            sample = self._static_inputs(1)
            if self._stream is not None:
                with torch.cuda.stream(self._stream):
                    raw = self._pick(self._module(*self._cast_in(sample)))
                self._stream.synchronize()
            else:
                raw = self._pick(self._module(*self._cast_in(sample)))
        for tensor, spec in zip(raw, self._outputs, strict=True):
            want = self._dtypes[spec.datatype]
            half = self._options.half and tensor.dtype == torch.float16
            half_ok = half and want.is_floating_point
            if tensor.dtype != want and not half_ok:
                raise ModelLoadError(
                    f"model '{self._model}': output '{spec.name}' is {spec.datatype} in "
                    f"config.pbtxt but the model returns {str(tensor.dtype).replace('torch.', '')}"
                )
            shape = tuple(tensor.shape[1:] if self._batched else tensor.shape)
            ok = len(shape) == len(spec.dims) and all(
                d == -1 or d == s for d, s in zip(spec.dims, shape, strict=True)
            )
            if not ok:
                raise ModelLoadError(
                    f"model '{self._model}': output '{spec.name}' has dims {list(spec.dims)} in "
                    f"config.pbtxt but the model returns {list(shape)} per "
                    f"{'batch item' if self._batched else 'request'}"
                )

    def capture_graphs(self, sizes: Sequence[int]) -> None:
        """One CUDA graph per bucket, largest first so the smaller ones reuse its memory pool."""
        if not self._cuda or not self._options.cuda_graphs:
            return
        if any(d < 0 for t in self._inputs for d in t.dims):
            log.info("model %s: variable input dims, CUDA graphs off", self._model)
            return
        torch = self._torch
        pool = torch.cuda.graph_pool_handle()
        buckets = sorted(sizes, reverse=True) if self._batched else [0]
        for bucket in buckets:
            with torch.inference_mode():
                static = self._static_inputs(bucket)
                host_in = [torch.zeros_like(t, device="cpu").pin_memory() for t in static]
                with torch.cuda.stream(self._stream):
                    for _ in range(_WARMUP_RUNS):
                        outs = self._forward(static)
                host_out = [torch.empty(o.shape, dtype=o.dtype, pin_memory=True) for o in outs]
                assert self._stream is not None
                self._stream.synchronize()
                graph = torch.cuda.CUDAGraph()
                try:
                    with torch.cuda.graph(
                        graph, pool=pool, stream=self._stream, capture_error_mode="thread_local"
                    ):
                        for t, h in zip(static, host_in, strict=True):
                            t.copy_(h, non_blocking=True)
                        outs = self._forward(static)
                        for h, o in zip(host_out, outs, strict=True):
                            h.copy_(o, non_blocking=True)
                except RuntimeError as exc:  # e.g. a model that syncs with the host
                    log.warning(
                        "model %s: CUDA graph capture failed at batch %d, running eagerly: %s",
                        self._model,
                        bucket,
                        _torch_message(exc),
                    )
                    self._graphs.clear()
                    return
            self._graphs[bucket] = _Graph(
                graph, [h.numpy() for h in host_in], [h.numpy() for h in host_out], static + outs
            )

    def _static_inputs(self, batch: int) -> list[Any]:
        torch = self._torch
        lead = (max(batch, 1),) if self._batched else ()
        return [
            torch.zeros(
                lead + tuple(max(d, 1) for d in t.dims),
                dtype=self._dtypes[t.datatype],
                device=self._device,
            )
            for t in self._inputs
        ]

    def _cast_in(self, tensors: Sequence[Any]) -> list[Any]:
        half = self._options.half
        return [t.half() if half and t.is_floating_point() else t for t in tensors]

    def close(self) -> None:
        self._graphs.clear()
        self._module = None


def open_sessions(config: mc.ModelConfig, model_path: Path) -> list[TorchSession]:
    """Load ``model.pt`` once per instance, check it against the config, capture graphs."""
    torch = import_torch(config.name)
    _reject_onnx_only_fields(config)
    return [_open(torch, config, model_path, d) for d in instance_devices(torch, config)]


def instance_factory(config: mc.ModelConfig, model_path: Path) -> Callable[[int], TorchSession]:
    """Instance ``i`` on the ``i``-th configured device (round robin)."""
    torch = import_torch(config.name)
    devices = instance_devices(torch, config)
    return lambda i: _open(torch, config, model_path, devices[i % len(devices)])


def _open(torch: Any, config: mc.ModelConfig, model_path: Path, device: str) -> TorchSession:
    inputs, outputs = torch_config.declared(config)
    opts = torch_config.options(config)
    module = _load_module(torch, config, model_path, device, opts.half)
    ordered = torch_config.input_order(config, inputs, _forward_arguments(module))
    returned = torch_config.output_order(config, outputs)
    session = TorchSession(
        torch, module, device, ordered, outputs, returned, opts,
        config.max_batch_size > 0, config.name,
    )  # fmt: skip
    session.check_outputs()
    session.capture_graphs(opts.graph_batch_sizes)
    if session.graph_buckets:
        log.info(
            "model %s on %s: CUDA graphs for batch sizes %s",
            config.name, device, session.graph_buckets,
        )  # fmt: skip
    return session


def instance_devices(torch: Any, config: mc.ModelConfig) -> list[str]:
    """One torch device name per instance, from ``instance_group`` (default: one instance)."""
    groups = list(config.instance_group) or [mc.ModelInstanceGroup(count=1)]
    cuda = bool(torch.cuda.is_available())
    visible = int(torch.cuda.device_count()) if cuda else 0
    out: list[str] = []
    for group in groups:
        count = max(group.count, 1)  # as Triton: a count below 1 is one instance
        kind = group.kind
        if kind not in (
            mc.ModelInstanceGroup.KIND_AUTO,
            mc.ModelInstanceGroup.KIND_CPU,
            mc.ModelInstanceGroup.KIND_GPU,
        ):
            raise ModelLoadError(
                f"model '{config.name}': instance_group.kind "
                f"{mc.ModelInstanceGroup.Kind.Name(kind)} is not supported by the TorchScript "
                "runtime (supported: KIND_AUTO, KIND_CPU, KIND_GPU)"
            )
        if kind == mc.ModelInstanceGroup.KIND_CPU or (
            kind == mc.ModelInstanceGroup.KIND_AUTO and not cuda
        ):
            out.extend(["cpu"] * count)
            continue
        if not cuda:
            raise ModelLoadError(
                f"model '{config.name}': instance_group KIND_GPU needs a CUDA GPU, but torch "
                f"{torch.__version__} sees none (torch.cuda.is_available() is False)"
            )
        gpus = [int(g) for g in group.gpus] or list(range(visible))
        bad = [g for g in gpus if not 0 <= g < visible]
        if bad:
            raise ModelLoadError(
                f"model '{config.name}': instance_group gpus {bad} do not exist "
                f"({visible} GPU(s) visible: 0..{visible - 1})"
            )
        out.extend(f"cuda:{g}" for g in gpus for _ in range(count))
    return out


def _load_module(torch: Any, config: mc.ModelConfig, path: Path, device: str, half: bool) -> Any:
    try:
        with warnings.catch_warnings():
            # torch >= 2.12 deprecates TorchScript; it is what pytorch_libtorch serves.
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location=device)
    except Exception as exc:  # torch raises RuntimeError / ValueError for files it cannot read
        raise ModelLoadError(
            f"model '{config.name}': torch.jit.load could not load {path.name} "
            f"(a TorchScript file from torch.jit.script/trace + save): {_torch_message(exc)}"
        ) from None
    module.eval()
    return module.half() if half else module


def _forward_arguments(module: Any) -> list[str]:
    arguments = module.forward.schema.arguments
    return [a.name for a in arguments if a.name != "self"]


def _reject_onnx_only_fields(config: mc.ModelConfig) -> None:
    if config.optimization.execution_accelerators.gpu_execution_accelerator:
        raise ModelLoadError(
            f"model '{config.name}': optimization.execution_accelerators is an ONNX Runtime "
            "setting; the TorchScript runtime takes parameters precision and cuda_graphs"
        )


def _torch_dtype(torch: Any, datatype: str) -> Any:
    return {
        "BOOL": torch.bool, "UINT8": torch.uint8, "INT8": torch.int8, "INT16": torch.int16,
        "INT32": torch.int32, "INT64": torch.int64, "FP16": torch.float16,
        "FP32": torch.float32, "FP64": torch.float64,
    }[datatype]  # fmt: skip


def _torch_message(exc: BaseException) -> str:
    """The first meaningful line of a torch error (TorchScript adds a long traceback)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for line in lines:
        for prefix in ("RuntimeError: ", "IndexError: ", "ValueError: "):
            if line.startswith(prefix):
                return line[len(prefix) :]
    return lines[-1] if lines else type(exc).__name__
