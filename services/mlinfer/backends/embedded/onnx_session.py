"""ONNX Runtime sessions for one model version, and the config checks against the graph."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument as OrtInvalidArgument
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.backends.embedded.session import ModelInputError
from mlinfer.core import datatypes
from mlinfer.core.errors import InvalidInputError, ModelLoadError
from mlinfer.core.model_config import boolean_parameter, parameter

log = logging.getLogger("mlinfer.onnxruntime")

_ORT_TYPES = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}
_GPU_ACCELERATORS = {"tensorrt": "TensorrtExecutionProvider", "cuda": "CUDAExecutionProvider"}


@dataclass(frozen=True)
class GraphTensor:
    name: str
    datatype: str
    shape: tuple[int | None, ...]  # None = dynamic dimension


@dataclass(frozen=True)
class InstancePlacement:
    providers: list[Any]  # names or (name, options) tuples, as ORT takes them


class OnnxSession:
    """One ONNX Runtime session as an engine :class:`~mlinfer.backends.embedded.session.Session`."""

    def __init__(self, session: ort.InferenceSession, output_names: Sequence[str]) -> None:
        self._session = session
        self._output_names = list(output_names)

    def run(self, feeds: Mapping[str, NDArray[Any]]) -> list[NDArray[Any]]:
        prepared = {
            name: _strings_for_ort(name, a) if a.dtype == np.object_ else a
            for name, a in feeds.items()
        }
        try:
            return list(self._session.run(self._output_names, prepared))
        except OrtInvalidArgument as exc:
            raise ModelInputError(_ort_message(exc)) from None

    def close(self) -> None:
        return None


def open_sessions(
    config: mc.ModelConfig,
    model_path: Path,
    default_providers: Sequence[str],
    intra_op_threads: int,
) -> list[OnnxSession]:
    """One session per instance; the config is completed from and checked against the graph."""
    sessions = [
        create_session(model_path, config, p, intra_op_threads)
        for p in placements(config, default_providers)
    ]
    complete_config(config, sessions[0])
    check_against_graph(config, sessions[0])
    names = [o.name for o in config.output]
    return [OnnxSession(s, names) for s in sessions]


def instance_factory(
    config: mc.ModelConfig,
    model_path: Path,
    default_providers: Sequence[str],
    intra_op_threads: int,
) -> Callable[[int], OnnxSession]:
    """Instance ``i`` on the ``i``-th configured placement (round robin)."""
    places = placements(config, default_providers)
    names = [o.name for o in config.output]
    return lambda i: OnnxSession(
        create_session(model_path, config, places[i % len(places)], intra_op_threads), names
    )


def _ort_message(exc: Exception) -> str:
    """The useful part of an ONNX Runtime error (after 'Status Message:'), without colours."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines()[0]
    return text.split("Status Message: ", 1)[-1].strip()


def _strings_for_ort(name: str, array: NDArray[Any]) -> NDArray[Any]:
    out = np.empty(array.shape, dtype=np.object_)
    try:
        out.reshape(-1)[:] = [
            v.decode() if isinstance(v, bytes) else str(v) for v in array.reshape(-1)
        ]
    except UnicodeDecodeError:
        raise InvalidInputError(
            f"BYTES input '{name}' must hold UTF-8 text: ONNX string tensors are text"
        ) from None
    return out


def graph_tensors(nodes: Sequence[Any]) -> list[GraphTensor]:
    out = []
    for node in nodes:
        datatype = _ORT_TYPES.get(node.type)
        if datatype is None:
            raise ModelLoadError(f"ONNX tensor '{node.name}' has unsupported type {node.type}")
        shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in node.shape)
        out.append(GraphTensor(node.name, datatype, shape))
    return out


def placements(config: mc.ModelConfig, default_providers: Sequence[str]) -> list[InstancePlacement]:
    """One placement per model instance, from ``instance_group`` (default: one, on CPU)."""
    available = ort.get_available_providers()
    groups = list(config.instance_group) or [mc.ModelInstanceGroup(count=1)]
    out: list[InstancePlacement] = []
    for group in groups:
        count = max(group.count, 1)  # as Triton: a count below 1 is one instance
        gpus = list(group.gpus) or [0]
        for i in range(count):
            providers = _providers_for(config, group.kind, gpus[i % len(gpus)], default_providers)
            for p in providers:
                name = p if isinstance(p, str) else p[0]
                if name not in available:
                    raise ModelLoadError(
                        f"model '{config.name}': execution provider '{name}' is not available "
                        f"in this onnxruntime build (available: {', '.join(available)})"
                    )
            out.append(InstancePlacement(providers))
    return out


def _providers_for(
    config: mc.ModelConfig, kind: int, gpu: int, default_providers: Sequence[str]
) -> list[Any]:
    if kind == mc.ModelInstanceGroup.KIND_CPU:
        return ["CPUExecutionProvider"]
    if kind == mc.ModelInstanceGroup.KIND_GPU:
        accelerators = config.optimization.execution_accelerators.gpu_execution_accelerator
        chosen: list[Any] = []
        for acc in accelerators:
            name = _GPU_ACCELERATORS.get(acc.name)
            if name is None:
                raise ModelLoadError(
                    f"model '{config.name}': gpu_execution_accelerator '{acc.name}' is not "
                    f"supported (supported: {', '.join(_GPU_ACCELERATORS)})"
                )
            chosen.append((name, {"device_id": gpu, **dict(acc.parameters)}))
        if not any(p[0] == "CUDAExecutionProvider" for p in chosen):
            chosen.append(("CUDAExecutionProvider", {"device_id": gpu}))
        return [*chosen, "CPUExecutionProvider"]
    if kind not in (mc.ModelInstanceGroup.KIND_AUTO, mc.ModelInstanceGroup.KIND_CPU):
        raise ModelLoadError(
            f"model '{config.name}': instance_group.kind "
            f"{mc.ModelInstanceGroup.Kind.Name(kind)} is not supported by the embedded engine"
        )
    return list(default_providers) or ["CPUExecutionProvider"]


def ort_log_severity() -> int:
    """ONNX Runtime's own logger writes plain text to stderr (a coloured line for every
    input it rejects, which any client can trigger); it has no hook into Python logging. Its
    failures reach us as exceptions, which our logs and error responses carry, so it speaks
    only when ``mlinfer.onnxruntime`` is at DEBUG (then 1 = info) and is otherwise limited to
    fatal errors (4)."""
    return 1 if log.isEnabledFor(logging.DEBUG) else 4


SPINNING_PARAMETER = "allow_spinning"


def spinning_by_default(config: mc.ModelConfig, intra_op_threads: int) -> bool:
    """Whether ONNX Runtime's intra-op threads may busy-wait for work between operators.

    Measured on 2 vCPUs (``bench/spinning.py``, docs/PERFORMANCE.md): with one instance of
    2 threads the two settings stayed within the machine's noise (0.70-1.19x), so ORT's
    default (on) stays wherever the instances' threads fit in the cores; with two instances
    of 2 threads the CNN served 1.6-1.8x the rate at c=8 with spinning off (an idle
    instance's spinning threads took the cores the busy one and the event loop needed), so
    there it is off. ``allow_spinning`` in the config decides for itself."""
    cores = os.cpu_count() or 1
    per_instance = intra_op_threads or cores  # 0 = ORT's default: one thread per core
    instances = sum(max(g.count, 1) for g in config.instance_group) or 1
    return instances * per_instance <= cores


def create_session(
    model_path: Path, config: mc.ModelConfig, placement: InstancePlacement, intra_op_threads: int
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = ort_log_severity()
    ort.set_default_logger_severity(ort_log_severity())  # the process-wide logger as well
    threads = int(parameter(config, "intra_op_thread_count", str(intra_op_threads)) or 0)
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = int(parameter(config, "inter_op_thread_count", "0") or 0)
    spinning = boolean_parameter(config, SPINNING_PARAMETER, spinning_by_default(config, threads))
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    try:
        return ort.InferenceSession(str(model_path), options, providers=placement.providers)
    except Exception as exc:  # ORT raises its own exception types for bad graphs
        raise ModelLoadError(
            f"model '{config.name}': onnxruntime could not load {model_path.name}: {exc}"
        ) from None


def complete_config(config: mc.ModelConfig, session: ort.InferenceSession) -> None:
    """Fill inputs/outputs a config leaves out from the graph, as Triton's autocomplete does."""
    batched = config.max_batch_size > 0
    if not config.input:
        for t in graph_tensors(session.get_inputs()):
            config.input.add(
                name=t.name,
                data_type=datatypes.BY_NAME[t.datatype].config,
                dims=_config_dims(t, batched),
            )
    if not config.output:
        for t in graph_tensors(session.get_outputs()):
            config.output.add(
                name=t.name,
                data_type=datatypes.BY_NAME[t.datatype].config,
                dims=_config_dims(t, batched),
            )


def _config_dims(t: GraphTensor, batched: bool) -> list[int]:
    shape = t.shape[1:] if batched else t.shape
    return [-1 if d is None else d for d in shape]


def check_against_graph(config: mc.ModelConfig, session: ort.InferenceSession) -> None:
    """Config inputs/outputs must exist in the graph with the same dtype and compatible dims."""
    model = config.name
    graph_in = {t.name: t for t in graph_tensors(session.get_inputs())}
    graph_out = {t.name: t for t in graph_tensors(session.get_outputs())}
    configured_in = {t.name for t in config.input}
    missing = [n for n in graph_in if n not in configured_in]
    if missing:
        raise ModelLoadError(
            f"model '{model}': the ONNX graph has input(s) {missing} that config.pbtxt does "
            "not declare"
        )
    for kind, tensors, graph in (
        ("input", config.input, graph_in),
        ("output", config.output, graph_out),
    ):
        for t in tensors:
            g = graph.get(t.name)
            if g is None:
                raise ModelLoadError(
                    f"model '{model}': config {kind} '{t.name}' is not in the ONNX graph "
                    f"(graph {kind}s: {sorted(graph)})"
                )
            _check_tensor(model, kind, t, g, config.max_batch_size > 0)


def _check_tensor(model: str, kind: str, t: Any, g: GraphTensor, batched: bool) -> None:
    declared = datatypes.BY_CONFIG[t.data_type].name
    if declared != g.datatype:
        raise ModelLoadError(
            f"model '{model}': {kind} '{t.name}' is {declared} in config.pbtxt but "
            f"{g.datatype} in the ONNX graph"
        )
    dims = list(t.reshape.shape) if t.HasField("reshape") else list(t.dims)
    expected: list[int] = ([-1] if batched else []) + [int(d) for d in dims]
    if len(expected) != len(g.shape):
        raise ModelLoadError(
            f"model '{model}': {kind} '{t.name}' has {len(expected)} dimensions with "
            f"max_batch_size={'>0' if batched else '0'} ({expected}) but the ONNX graph has "
            f"{len(g.shape)} ({_fmt(g.shape)})"
        )
    if batched and g.shape[0] is not None:
        raise ModelLoadError(
            f"model '{model}': max_batch_size > 0 needs a dynamic first dimension on {kind} "
            f"'{t.name}', but the ONNX graph fixes it to {g.shape[0]}"
        )
    for i, (want, have) in enumerate(zip(expected, g.shape, strict=True)):
        if have is not None and want != have and not (batched and i == 0):
            raise ModelLoadError(
                f"model '{model}': {kind} '{t.name}' dimension {i} is {want} in config.pbtxt "
                f"but {have} in the ONNX graph"
            )


def _fmt(shape: Sequence[int | None]) -> str:
    return "[" + ",".join("-1" if d is None else str(d) for d in shape) + "]"
