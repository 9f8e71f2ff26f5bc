"""A real Triton (bundled in nvidia-pytriton) serving converted ONNX models; perf_analyzer on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.triton.perf_analyzer import (
    PerfAnalyzerError,
    PerfAnalyzerNotFoundError,
    perf_analyzer_version,
    run_perf_analyzer,
)
from tests.support.triton.python_backend import write_python_backend_repository
from tests.support.triton.server_process import (
    TritonServerProcess,
    TritonStartError,
    tritonserver_binary,
)

pytestmark = [
    pytest.mark.triton,
    pytest.mark.skipif(
        tritonserver_binary() is None,
        reason="tritonserver binary not found: install nvidia-pytriton==0.7.0 (dev extra), "
        "it ships pytriton/tritonserver/bin/tritonserver",
    ),
]

ADDSUB_CONFIG = """
name: "addsub"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  { name: "INPUT0" data_type: TYPE_FP32 dims: [ 16 ] },
  { name: "INPUT1" data_type: TYPE_FP32 dims: [ 16 ] }
]
output [
  { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 16 ] },
  { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 16 ] }
]
dynamic_batching { max_queue_delay_microseconds: 2000 }
instance_group [ { kind: KIND_GPU count: 1 } ]
"""

IDENT_CONFIG = """
name: "ident_bytes"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] } ]
output [ { name: "OUT" data_type: TYPE_STRING dims: [ 1 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]
"""


def _onnx_model(nodes: list[Any], inputs: list[Any], outputs: list[Any]) -> bytes:
    onnx = pytest.importorskip("onnx")
    helper = onnx.helper
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    data: bytes = model.SerializeToString()
    return data


def _build_onnx_repository(root: Path) -> Path:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")  # the generated model.py needs it inside the stub
    helper, fp32, string = onnx.helper, onnx.TensorProto.FLOAT, onnx.TensorProto.STRING
    repo = root / "onnx_repo"
    addsub = _onnx_model(
        [
            helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
            helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"]),
        ],
        [helper.make_tensor_value_info(n, fp32, [None, 16]) for n in ("INPUT0", "INPUT1")],
        [helper.make_tensor_value_info(n, fp32, [None, 16]) for n in ("OUTPUT0", "OUTPUT1")],
    )
    ident = _onnx_model(
        [helper.make_node("Identity", ["TEXT"], ["OUT"])],
        [helper.make_tensor_value_info("TEXT", string, [None, 1])],
        [helper.make_tensor_value_info("OUT", string, [None, 1])],
    )
    for name, config, model in (
        ("addsub", ADDSUB_CONFIG, addsub),
        ("ident_bytes", IDENT_CONFIG, ident),
    ):
        (repo / name / "1").mkdir(parents=True)
        (repo / name / "1" / "model.onnx").write_bytes(model)
        (repo / name / "config.pbtxt").write_text(config)
    return repo


@pytest.fixture(scope="module")
def python_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("triton")
    out = root / "python_repo"
    assert write_python_backend_repository(_build_onnx_repository(root), out) == [
        "addsub",
        "ident_bytes",
    ]
    return out


@pytest.fixture(scope="module")
def server(python_repo: Path) -> Iterator[TritonServerProcess]:
    proc = TritonServerProcess(python_repo, log_path=python_repo.parent / "triton.log")
    proc.start()
    try:
        proc.wait_ready(timeout_s=120)
        yield proc
    finally:
        proc.stop()


def _addsub_inputs(batch: int, seed: int = 0) -> tuple[np.ndarray[Any, Any], ...]:
    rng = np.random.default_rng(seed)
    return (
        rng.random((batch, 16), dtype=np.float32),
        rng.random((batch, 16), dtype=np.float32),
    )


def test_http_inference(server: TritonServerProcess) -> None:
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(server.http_url)
    try:
        assert client.is_server_ready()
        assert client.is_model_ready("addsub")
        a, b = _addsub_inputs(3)
        inputs = [httpclient.InferInput(n, [3, 16], "FP32") for n in ("INPUT0", "INPUT1")]
        inputs[0].set_data_from_numpy(a)
        inputs[1].set_data_from_numpy(b, binary_data=False)
        result = client.infer("addsub", inputs)
        np.testing.assert_allclose(result.as_numpy("OUTPUT0"), a + b, rtol=1e-6)
        np.testing.assert_allclose(result.as_numpy("OUTPUT1"), a - b, rtol=1e-6)

        text = np.array([["héllo".encode()], [b"triton"]], dtype=np.object_)
        tin = httpclient.InferInput("TEXT", [2, 1], "BYTES")
        tin.set_data_from_numpy(text)
        out = client.infer("ident_bytes", [tin]).as_numpy("OUT")
        assert out.tolist() == text.tolist()
    finally:
        client.close()  # an open keep-alive connection delays Triton's shutdown


def test_grpc_inference_and_config(server: TritonServerProcess) -> None:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        config = client.get_model_config("addsub").config
        assert config.backend == "python"
        assert config.max_batch_size == 8
        assert config.HasField("dynamic_batching")
        assert config.instance_group[0].kind == config.instance_group[0].KIND_CPU

        a, b = _addsub_inputs(8, seed=1)
        inputs = [grpcclient.InferInput(n, [8, 16], "FP32") for n in ("INPUT0", "INPUT1")]
        inputs[0].set_data_from_numpy(a)
        inputs[1].set_data_from_numpy(b)
        outputs = [grpcclient.InferRequestedOutput("OUTPUT1")]
        result = client.infer("addsub", inputs, outputs=outputs)
        np.testing.assert_allclose(result.as_numpy("OUTPUT1"), a - b, rtol=1e-6)
        assert result.as_numpy("OUTPUT0") is None

        tin = grpcclient.InferInput("TEXT", [1, 1], "BYTES")
        tin.set_data_from_numpy(np.array([[b"abc"]], dtype=np.object_))
        assert client.infer("ident_bytes", [tin]).as_numpy("OUT").tolist() == [[b"abc"]]
    finally:
        client.close()


def test_concurrent_requests_are_batched_correctly(server: TritonServerProcess) -> None:
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(server.http_url, concurrency=8)
    try:
        pending = []
        for i in range(16):
            batch = 1 + i % 3
            a, b = _addsub_inputs(batch, seed=100 + i)
            inputs = [httpclient.InferInput(n, [batch, 16], "FP32") for n in ("INPUT0", "INPUT1")]
            inputs[0].set_data_from_numpy(a)
            inputs[1].set_data_from_numpy(b)
            pending.append((a, b, client.async_infer("addsub", inputs)))
        for a, b, request in pending:
            result = request.get_result(timeout=30)
            np.testing.assert_allclose(result.as_numpy("OUTPUT0"), a + b, rtol=1e-6)
            np.testing.assert_allclose(result.as_numpy("OUTPUT1"), a - b, rtol=1e-6)
        stats = client.get_inference_statistics("addsub")["model_stats"][0]
        assert int(stats["inference_count"]) >= sum(1 + i % 3 for i in range(16))
    finally:
        client.close()


def _require_perf_analyzer() -> None:
    try:
        perf_analyzer_version()
    except (PerfAnalyzerNotFoundError, PerfAnalyzerError) as exc:
        pytest.skip(f"perf_analyzer cannot run here: {exc}")


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_perf_analyzer(server: TritonServerProcess, protocol: str) -> None:
    _require_perf_analyzer()
    url = server.grpc_url if protocol == "grpc" else server.http_url
    result = run_perf_analyzer(
        "addsub",
        url,
        "grpc" if protocol == "grpc" else "http",
        (1, 2),
        measurement_interval_ms=500,
        stability_percentage=100,
        max_trials=5,
        timeout_s=120,
    )
    assert [row.concurrency for row in result.rows] == [1, 2]
    for row in result.rows:
        assert row.throughput > 0
        assert row.p50_us is not None and row.p50_us > 0
        assert row.p99_us is not None and row.p99_us >= row.p50_us
    assert result.max_throughput > 0


def test_explicit_mode_kill_and_restart(python_repo: Path, tmp_path: Path) -> None:
    import tritonclient.http as httpclient

    proc = TritonServerProcess(
        python_repo,
        model_control_mode="explicit",
        load_models=["addsub"],
        log_path=tmp_path / "explicit.log",
    )
    proc.start()
    try:
        proc.wait_ready(timeout_s=120, models=["addsub"])
        assert proc.is_ready(["addsub"])
        assert not proc.is_ready(["ident_bytes"])  # not loaded in explicit mode

        assert proc.kill() == -9  # crash
        assert not proc.running
        assert not proc.is_live()

        proc.start()  # same ports, same repository
        proc.wait_ready(timeout_s=120, models=["addsub"])
        client = httpclient.InferenceServerClient(proc.http_url)
        try:
            client.load_model("ident_bytes")
            assert client.is_model_ready("ident_bytes")
        finally:
            client.close()
    finally:
        assert proc.stop() == 0


def test_start_failure_reports_log(tmp_path: Path) -> None:
    repo = tmp_path / "broken"
    (repo / "bad" / "1").mkdir(parents=True)
    (repo / "bad" / "1" / "model.py").write_text("raise RuntimeError('boom at import')\n")
    (repo / "bad" / "config.pbtxt").write_text(
        'backend: "python"\nmax_batch_size: 0\n'
        'input [ { name: "X" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
        'output [ { name: "Y" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
    )
    proc = TritonServerProcess(repo, log_path=tmp_path / "broken.log")
    proc.start()
    try:
        with pytest.raises(TritonStartError, match="boom at import"):
            proc.wait_ready(timeout_s=120)
        assert not proc.running
    finally:
        proc.stop()
