"""Request payloads for the load generator, from a model's metadata (random data, encoded once).

The data is generated once per run and the encoded request reused for every call, as
``perf_analyzer`` does: the load generator measures the server, not numpy.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

# Triton datatype -> numpy dtype (BYTES: object arrays of bytes).
NUMPY_TYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}


@dataclass(frozen=True)
class TensorMeta:
    name: str
    datatype: str
    shape: tuple[int, ...]
    """As the metadata reports it: -1 for the batch dimension and any dynamic one."""


@dataclass(frozen=True)
class ModelMeta:
    name: str
    version: str
    max_batch_size: int
    inputs: tuple[TensorMeta, ...]
    outputs: tuple[TensorMeta, ...]


def model_meta_from_json(metadata: Mapping[str, Any], config: Mapping[str, Any]) -> ModelMeta:
    """From ``GET /v2/models/{m}`` and ``GET /v2/models/{m}/config`` documents."""

    def tensors(key: str) -> tuple[TensorMeta, ...]:
        return tuple(
            TensorMeta(t["name"], t["datatype"], tuple(int(d) for d in t["shape"]))
            for t in metadata.get(key, [])
        )

    versions = metadata.get("versions") or [""]
    return ModelMeta(
        name=str(metadata["name"]),
        version=str(versions[-1]),
        max_batch_size=int(config.get("max_batch_size", 0)),
        inputs=tensors("inputs"),
        outputs=tensors("outputs"),
    )


def fetch_model_meta(url: str, protocol: str, model: str, version: str = "") -> ModelMeta:
    """Ask a running server (HTTP ``host:port`` or gRPC ``host:port``) about ``model``."""
    if protocol == "grpc":
        import tritonclient.grpc as grpcclient

        client = grpcclient.InferenceServerClient(url)
        try:
            metadata = client.get_model_metadata(model, version, as_json=True)
            config = client.get_model_config(model, version, as_json=True)["config"]
        finally:
            client.close()
        config = {**config, "max_batch_size": int(config.get("max_batch_size", 0))}
        return model_meta_from_json(metadata, config)
    import httpx

    base = f"http://{url}/v2/models/{model}" + (f"/versions/{version}" if version else "")
    with httpx.Client(timeout=30) as client:
        meta_response = client.get(base)
        meta_response.raise_for_status()
        config_response = client.get(f"{base}/config")
        config_response.raise_for_status()
    return model_meta_from_json(meta_response.json(), config_response.json())


def resolve_shape(
    tensor: TensorMeta,
    meta: ModelMeta,
    batch_size: int,
    overrides: Mapping[str, Sequence[int]],
    dynamic_dim: int,
) -> tuple[int, ...]:
    """Concrete request shape: the batch dimension, then -1s from ``overrides`` or the default."""
    dims = list(tensor.shape)
    lead: list[int] = []
    if meta.max_batch_size > 0:
        if batch_size > meta.max_batch_size:
            raise ValueError(
                f"batch size {batch_size} exceeds {meta.name}'s max_batch_size "
                f"{meta.max_batch_size}"
            )
        lead, dims = [batch_size], dims[1:]
    elif batch_size != 1:
        raise ValueError(f"model {meta.name} does not batch (max_batch_size 0): use -b 1")
    override = overrides.get(tensor.name)
    if override is not None:
        if len(override) != len(dims):
            raise ValueError(
                f"--shape {tensor.name}: {len(override)} dims given, the model has {len(dims)} "
                f"(without the batch dimension): {dims}"
            )
        dims = list(override)
    return tuple(lead + [dynamic_dim if d < 0 else d for d in dims])


def random_tensor(
    datatype: str, shape: tuple[int, ...], rng: np.random.Generator, int_range: tuple[int, int]
) -> NDArray[Any]:
    """Uniform [0, 1) floats; integers in ``int_range`` (half-open); BYTES: short digit strings."""
    dtype = NUMPY_TYPES.get(datatype)
    if dtype is None:
        raise ValueError(f"unsupported datatype {datatype}")
    if datatype == "BYTES":
        values = rng.integers(0, 10_000, size=shape)
        out = np.empty(shape, dtype=np.object_)
        out.reshape(-1)[:] = [str(v).encode() for v in values.reshape(-1)]
        return out
    if datatype == "BOOL":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.dtype(dtype).kind == "f":
        return rng.random(size=shape, dtype=np.float64).astype(dtype)
    low, high = int_range
    info = np.iinfo(dtype)
    return rng.integers(max(low, info.min), min(high, int(info.max) + 1), size=shape).astype(dtype)


def tensor_bytes(array: NDArray[Any]) -> bytes:
    """Raw little-endian contents; BYTES elements as 4-byte length + bytes (Triton's layout)."""
    if array.dtype == np.object_:
        return b"".join(struct.pack("<I", len(v)) + v for v in array.reshape(-1))
    return np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def _json_data(array: NDArray[Any]) -> list[Any]:
    if array.dtype == np.object_:
        return [v.decode() for v in array.reshape(-1)]
    values: list[Any] = array.reshape(-1).tolist()
    return values


@dataclass(frozen=True)
class Payload:
    """One encoded request for one transport."""

    path: str
    """HTTP path (``/v2/models/m/infer``); empty for gRPC."""
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def make_inputs(
    meta: ModelMeta,
    batch_size: int,
    *,
    shapes: Mapping[str, Sequence[int]] | None = None,
    dynamic_dim: int = 8,
    int_range: tuple[int, int] = (0, 2),
    seed: int = 0,
) -> dict[str, NDArray[Any]]:
    rng = np.random.default_rng(seed)
    return {
        t.name: random_tensor(
            t.datatype,
            resolve_shape(t, meta, batch_size, shapes or {}, dynamic_dim),
            rng,
            int_range,
        )
        for t in meta.inputs
    }


def _datatype(meta: ModelMeta, name: str) -> str:
    return next(t.datatype for t in meta.inputs if t.name == name)


def http_payload(
    meta: ModelMeta, arrays: Mapping[str, NDArray[Any]], binary: bool = True
) -> Payload:
    """An Open Inference Protocol REST request; binary tensor extension both ways if ``binary``."""
    version = f"/versions/{meta.version}" if meta.version else ""
    path = f"/v2/models/{meta.name}{version}/infer"
    inputs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name, array in arrays.items():
        entry: dict[str, Any] = {
            "name": name,
            "shape": list(array.shape),
            "datatype": _datatype(meta, name),
        }
        if binary:
            blob = tensor_bytes(array)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = _json_data(array)
        inputs.append(entry)
    doc: dict[str, Any] = {"inputs": inputs}
    if binary:
        doc["outputs"] = [
            {"name": o.name, "parameters": {"binary_data": True}} for o in meta.outputs
        ]
        header = orjson.dumps(doc)
        return Payload(
            path,
            header + b"".join(blobs),
            (
                ("Content-Type", "application/octet-stream"),
                ("Inference-Header-Content-Length", str(len(header))),
            ),
        )
    return Payload(path, orjson.dumps(doc), (("Content-Type", "application/json"),))


def grpc_payload(meta: ModelMeta, arrays: Mapping[str, NDArray[Any]]) -> Payload:
    """A serialized ``inference.ModelInferRequest`` with ``raw_input_contents``."""
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest(model_name=meta.name, model_version=meta.version)
    for name, array in arrays.items():
        tensor = request.inputs.add()
        tensor.name = name
        tensor.datatype = _datatype(meta, name)
        tensor.shape.extend(array.shape)
        request.raw_input_contents.append(tensor_bytes(array))
    for output in meta.outputs:
        request.outputs.add().name = output.name
    return Payload("", request.SerializeToString())


def perf_analyzer_input_data(arrays: Mapping[str, NDArray[Any]]) -> dict[str, Any]:
    """The same data as a ``perf_analyzer --input-data`` JSON document (one batch-1 sample)."""
    step: dict[str, Any] = {}
    for name, array in arrays.items():
        one = array[:1] if array.ndim else array
        step[name] = {"content": _json_data(one), "shape": list(one.shape[1:])}
    return {"data": [step]}
