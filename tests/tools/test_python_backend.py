"""ONNX repository -> Triton Python-backend repository conversion (no Triton needed)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2 as mc

from tests.support.triton.python_backend import (
    load_model_config,
    python_model_source,
    write_python_backend_repository,
)

ADDSUB_CONFIG = """
name: "addsub"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  { name: "INPUT0" data_type: TYPE_FP32 dims: [ 16 ] },
  { name: "INPUT1" data_type: TYPE_FP32 dims: [ 16 ] }
]
output [
  { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 16 ] label_filename: "labels.txt" },
  { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 16 ] }
]
dynamic_batching { max_queue_delay_microseconds: 100 preferred_batch_size: [ 4, 8 ] }
instance_group [ { kind: KIND_GPU count: 2 gpus: [ 0 ] } ]
version_policy { all { } }
optimization { execution_accelerators { gpu_execution_accelerator [ { name: "tensorrt" } ] } }
parameters { key: "intra_op_thread_count" value { string_value: "2" } }
"""


def _addsub_onnx() -> bytes:
    onnx = pytest.importorskip("onnx")
    helper = onnx.helper
    fp32 = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        [
            helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
            helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"]),
        ],
        "addsub",
        [helper.make_tensor_value_info(n, fp32, [None, 16]) for n in ("INPUT0", "INPUT1")],
        [helper.make_tensor_value_info(n, fp32, [None, 16]) for n in ("OUTPUT0", "OUTPUT1")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    data: bytes = model.SerializeToString()
    return data


def _make_repo(root: Path, onnx_bytes: bytes = b"not really onnx") -> Path:
    repo = root / "onnx_repo"
    model = repo / "addsub"
    for version in ("1", "3"):
        (model / version).mkdir(parents=True)
        (model / version / "model.onnx").write_bytes(onnx_bytes)
    (model / "config.pbtxt").write_text(ADDSUB_CONFIG)
    (model / "labels.txt").write_text("\n".join(f"label{i}" for i in range(16)))

    custom = repo / "custom_name"
    (custom / "2").mkdir(parents=True)
    (custom / "2" / "net.onnx").write_bytes(onnx_bytes)
    (custom / "2" / "net.onnx.data").write_bytes(b"external weights")
    (custom / "config.pbtxt").write_text(
        'backend: "onnxruntime"\ndefault_model_filename: "net.onnx"\nmax_batch_size: 0\n'
        'input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 2, 16 ] } ]\n'
        'output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 2, 16 ] } ]\n'
    )
    return repo


def test_conversion_writes_python_backend_repository(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path)
    out = tmp_path / "py_repo"

    written = write_python_backend_repository(repo, out)

    assert written == ["addsub", "custom_name"]
    config = load_model_config(out / "addsub" / "config.pbtxt")
    assert config.name == "addsub"
    assert config.backend == "python"
    assert config.platform == ""
    assert config.max_batch_size == 8
    assert [i.name for i in config.input] == ["INPUT0", "INPUT1"]
    assert [list(i.dims) for i in config.input] == [[16], [16]]
    assert [o.name for o in config.output] == ["OUTPUT0", "OUTPUT1"]
    assert config.output[0].label_filename == "labels.txt"
    assert config.output[1].data_type == mc.DataType.TYPE_FP32
    assert config.HasField("dynamic_batching")
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8]
    assert config.dynamic_batching.max_queue_delay_microseconds == 100
    assert len(config.instance_group) == 1
    assert config.instance_group[0].kind == mc.ModelInstanceGroup.Kind.KIND_CPU
    assert config.instance_group[0].count == 2
    assert list(config.instance_group[0].gpus) == []
    assert config.version_policy.HasField("all")
    assert not config.HasField("optimization")
    assert config.parameters["intra_op_thread_count"].string_value == "2"

    template = python_model_source()
    for version in ("1", "3"):
        vdir = out / "addsub" / version
        assert (vdir / "model.onnx").read_bytes() == b"not really onnx"
        assert (vdir / "model.py").read_text() == template
    assert (out / "addsub" / "labels.txt").read_text().startswith("label0\n")
    # The source repository is untouched.
    assert (repo / "addsub" / "1" / "model.py").exists() is False


def test_default_model_filename_is_renamed_and_name_filled(tmp_path: Path) -> None:
    out = tmp_path / "py_repo"
    write_python_backend_repository(_make_repo(tmp_path), out, models=["custom_name"])

    assert sorted(p.name for p in out.iterdir()) == ["custom_name"]
    config = load_model_config(out / "custom_name" / "config.pbtxt")
    assert config.name == "custom_name"
    assert config.backend == "python"
    assert config.default_model_filename == ""
    vdir = out / "custom_name" / "2"
    assert sorted(p.name for p in vdir.iterdir()) == ["model.onnx", "model.py", "net.onnx.data"]


def test_written_config_round_trips_through_text_format(tmp_path: Path) -> None:
    out = tmp_path / "py_repo"
    write_python_backend_repository(_make_repo(tmp_path), out)
    text = (out / "addsub" / "config.pbtxt").read_text()
    parsed = text_format.Parse(text, mc.ModelConfig())
    assert text_format.MessageToString(parsed) == text


def test_rerun_replaces_models(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path)
    out = tmp_path / "py_repo"
    write_python_backend_repository(repo, out)
    (out / "addsub" / "stale.txt").write_text("x")
    write_python_backend_repository(repo, out)
    assert not (out / "addsub" / "stale.txt").exists()


def test_errors(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path)
    with pytest.raises(ValueError, match="differ"):
        write_python_backend_repository(repo, repo)
    with pytest.raises(FileNotFoundError):
        write_python_backend_repository(repo, tmp_path / "o1", models=["nope"])
    (repo / "torch" / "1").mkdir(parents=True)
    (repo / "torch" / "config.pbtxt").write_text('platform: "pytorch_libtorch"\n')
    with pytest.raises(ValueError, match="pytorch_libtorch"):
        write_python_backend_repository(repo, tmp_path / "o2")
    (repo / "torch" / "config.pbtxt").unlink()
    with pytest.raises(ValueError, match=r"config\.pbtxt"):
        write_python_backend_repository(repo, tmp_path / "o3")


def test_ensemble_is_copied_unchanged(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path)
    ensemble = repo / "pipeline"
    (ensemble / "1").mkdir(parents=True)
    text = 'name: "pipeline"\nplatform: "ensemble"\nmax_batch_size: 8\n'
    (ensemble / "config.pbtxt").write_text(text)
    out = tmp_path / "py_repo"
    assert "pipeline" in write_python_backend_repository(repo, out)
    assert (out / "pipeline" / "config.pbtxt").read_text() == text
    assert (out / "pipeline" / "1").is_dir()


# ---------------------------------------------------------------------------------------------
# The generated model.py, run against a stand-in for triton_python_backend_utils.


class _Tensor:
    def __init__(self, name: str, array: Any) -> None:
        self._name = name
        self._array = np.asarray(array)

    def name(self) -> str:
        return self._name

    def as_numpy(self) -> Any:
        return self._array


class _Request:
    def __init__(self, tensors: dict[str, Any], requested: list[str] | None = None) -> None:
        self.tensors = {k: _Tensor(k, v) for k, v in tensors.items()}
        self.requested = requested or []

    def requested_output_names(self) -> list[str]:
        return self.requested


class _Response:
    def __init__(self, output_tensors: list[_Tensor] | None = None, error: Any = None) -> None:
        self.outputs = {t.name(): t.as_numpy() for t in output_tensors or []}
        self.error = error


def _fake_pb_utils() -> types.ModuleType:
    module = types.ModuleType("triton_python_backend_utils")
    numpy_types = {"TYPE_FP32": np.float32, "TYPE_INT64": np.int64, "TYPE_STRING": np.object_}
    attrs: dict[str, Any] = {
        "Tensor": _Tensor,
        "InferenceResponse": _Response,
        "TritonError": str,
        "TritonModelException": RuntimeError,
        "get_input_tensor_by_name": lambda req, name: req.tensors.get(name),
        "triton_string_to_numpy": numpy_types.__getitem__,
    }
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


def _load_generated_model(
    out: Path, monkeypatch: pytest.MonkeyPatch, model: str, version: str
) -> Any:
    pytest.importorskip("onnxruntime")
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", _fake_pb_utils())
    namespace: dict[str, Any] = {"__name__": "generated_model"}
    source = (out / model / version / "model.py").read_text()
    exec(compile(source, str(out / model / version / "model.py"), "exec"), namespace)
    instance = namespace["TritonPythonModel"]()
    config = load_model_config(out / model / "config.pbtxt")
    instance.initialize(
        {
            "model_config": json.dumps(
                json_format.MessageToDict(config, preserving_proto_field_name=True)
            ),
            "model_repository": str(out / model),
            "model_version": version,
        }
    )
    return instance


def test_generated_model_runs_onnx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "py_repo"
    write_python_backend_repository(_make_repo(tmp_path, _addsub_onnx()), out)
    model = _load_generated_model(out, monkeypatch, "addsub", "3")

    rng = np.random.default_rng(0)
    a = rng.random((3, 16), dtype=np.float32)
    b = rng.random((3, 16), dtype=np.float32)
    c = rng.random((1, 16), dtype=np.float32)
    requests = [
        _Request({"INPUT0": a, "INPUT1": b}),
        _Request({"INPUT0": c, "INPUT1": c}, requested=["OUTPUT1"]),
    ]
    responses = model.execute(requests)  # batched: 3 + 1 rows in one run

    assert len(responses) == 2
    np.testing.assert_allclose(responses[0].outputs["OUTPUT0"], a + b, rtol=1e-6)
    np.testing.assert_allclose(responses[0].outputs["OUTPUT1"], a - b, rtol=1e-6)
    assert list(responses[1].outputs) == ["OUTPUT1"]
    np.testing.assert_array_equal(responses[1].outputs["OUTPUT1"], np.zeros((1, 16)))
    assert responses[0].outputs["OUTPUT0"].dtype == np.float32

    bad = model.execute([_Request({"INPUT0": a})])  # missing INPUT1: error, no crash
    assert bad[0].error is not None
    model.finalize()


def test_generated_model_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    onnx = pytest.importorskip("onnx")
    helper = onnx.helper
    graph = helper.make_graph(
        [helper.make_node("Identity", ["TEXT"], ["OUT"])],
        "identity",
        [helper.make_tensor_value_info("TEXT", onnx.TensorProto.STRING, [None, 1])],
        [helper.make_tensor_value_info("OUT", onnx.TensorProto.STRING, [None, 1])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    repo = tmp_path / "repo"
    (repo / "ident" / "1").mkdir(parents=True)
    (repo / "ident" / "1" / "model.onnx").write_bytes(proto.SerializeToString())
    (repo / "ident" / "config.pbtxt").write_text(
        'platform: "onnxruntime_onnx"\nmax_batch_size: 4\n'
        'input [ { name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] } ]\n'
        'output [ { name: "OUT" data_type: TYPE_STRING dims: [ 1 ] } ]\n'
    )
    out = tmp_path / "out"
    write_python_backend_repository(repo, out)
    model = _load_generated_model(out, monkeypatch, "ident", "1")

    text = np.array([["héllo".encode()], [b"world"]], dtype=object)
    (response,) = model.execute([_Request({"TEXT": text})])
    assert response.error is None
    assert response.outputs["OUT"].dtype == np.object_
    assert response.outputs["OUT"].tolist() == [["héllo".encode()], [b"world"]]
