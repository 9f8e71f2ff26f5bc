"""TorchScript models on CPU served through the stock tritonclient (HTTP and gRPC)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from mlinfer.samples.models import simple_add_sub
from mlinfer.samples.writer import write_model
from tests.support.servers import ServerThread, settings_for

torch = pytest.importorskip("torch", reason="TorchScript tests need torch (extra 'torch')")

from tests.support.torchscript import VOCAB, write_affine, write_embed  # noqa: E402

BATCHING = "dynamic_batching { max_queue_delay_microseconds: 20000 }"


@pytest.fixture(scope="module")
def torch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, Any]]:
    repo = tmp_path_factory.mktemp("torch") / "models"
    affine = write_affine(repo, extra="instance_group [ { count: 1 kind: KIND_CPU } ]\n" + BATCHING)
    # KIND_CPU: an out-of-range token id on a GPU is a device-side assert (process abort).
    write_embed(repo, extra="instance_group [ { kind: KIND_CPU } ]\n" + BATCHING)
    write_model(simple_add_sub(), repo)
    with ServerThread(settings_for(repo), rest=True, grpc=True) as srv:
        yield srv, affine


def _reference(module: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.inference_mode():
        y, top = module(torch.from_numpy(x))
    return y.numpy(), top.numpy()


def test_http_binary_infer_matches_torch(torch_server: tuple[ServerThread, Any]) -> None:
    srv, module = torch_server
    client = httpclient.InferenceServerClient(srv.http)
    x = np.random.default_rng(2).standard_normal((2, 4)).astype(np.float32)
    tensor = httpclient.InferInput("INPUT__0", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=True)
    outputs = [
        httpclient.InferRequestedOutput(n, binary_data=True) for n in ("OUTPUT__0", "OUTPUT__1")
    ]
    result = client.infer("affine", [tensor], outputs=outputs)
    y, top = _reference(module, x)
    np.testing.assert_allclose(result.as_numpy("OUTPUT__0"), y, rtol=1e-6)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT__1"), top)
    config = client.get_model_config("affine")
    assert config["platform"] == "pytorch_libtorch"
    client.close()


def test_grpc_infer_matches_torch(torch_server: tuple[ServerThread, Any]) -> None:
    srv, module = torch_server
    client = grpcclient.InferenceServerClient(srv.grpc)
    x = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
    tensor = grpcclient.InferInput("INPUT__0", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    result = client.infer("affine", [tensor])
    y, top = _reference(module, x)
    np.testing.assert_allclose(result.as_numpy("OUTPUT__0"), y, rtol=1e-6)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT__1"), top)
    assert client.get_model_metadata("affine").platform == "pytorch_libtorch"
    client.close()


def test_concurrent_batch1_requests_are_batched_and_answered_each(
    torch_server: tuple[ServerThread, Any],
) -> None:
    srv, module = torch_server
    before = _counts(srv)

    def worker(index: int) -> int:
        client = httpclient.InferenceServerClient(srv.http)
        rng = np.random.default_rng(100 + index)
        wrong = 0
        for _ in range(10):
            x = rng.standard_normal((1, 4)).astype(np.float32)
            tensor = httpclient.InferInput("INPUT__0", [1, 4], "FP32")
            tensor.set_data_from_numpy(x)
            got = client.infer("affine", [tensor]).as_numpy("OUTPUT__0")
            # Each client gets its own row back, not a neighbour's from the same batch.
            wrong += not np.allclose(got, _reference(module, x)[0], rtol=1e-5)
        client.close()
        return wrong

    with ThreadPoolExecutor(12) as pool:
        assert sum(pool.map(worker, range(12))) == 0
    inferences, executions = (a - b for a, b in zip(_counts(srv), before, strict=True))
    assert inferences == 120
    assert executions < inferences, "12 concurrent clients should have been batched"
    stats = httpclient.InferenceServerClient(srv.http).get_inference_statistics("affine")
    assert max(int(b["batch_size"]) for b in stats["model_stats"][0]["batch_stats"]) > 1


def _counts(srv: ServerThread) -> tuple[int, int]:
    client = httpclient.InferenceServerClient(srv.http)
    stats = client.get_inference_statistics("affine")["model_stats"][0]
    client.close()
    return int(stats["inference_count"]), int(stats["execution_count"])


def test_bad_input_is_a_400_naming_it_and_the_server_keeps_serving(
    torch_server: tuple[ServerThread, Any],
) -> None:
    srv, _ = torch_server
    client = httpclient.InferenceServerClient(srv.http)
    ids = httpclient.InferInput("ids", [1, 6], "INT64")
    ids.set_data_from_numpy(np.full((1, 6), VOCAB + 1, dtype=np.int64))
    scale = httpclient.InferInput("scale", [1, 1], "FP32")
    scale.set_data_from_numpy(np.ones((1, 1), dtype=np.float32))
    with pytest.raises(InferenceServerException, match="index out of range") as info:
        client.infer("embed", [ids, scale])
    assert info.value.status() == "400"

    wrong_shape = httpclient.InferInput("INPUT__0", [1, 5], "FP32")
    wrong_shape.set_data_from_numpy(np.ones((1, 5), dtype=np.float32))
    with pytest.raises(InferenceServerException, match="INPUT__0") as info:
        client.infer("affine", [wrong_shape])
    assert info.value.status() == "400"

    ids.set_data_from_numpy(np.arange(6, dtype=np.int64).reshape(1, 6))
    assert client.infer("embed", [ids, scale]).as_numpy("pooled").shape == (1, 8)
    a = httpclient.InferInput("INPUT0", [1, 16], "INT32")
    a.set_data_from_numpy(np.ones((1, 16), dtype=np.int32))
    b = httpclient.InferInput("INPUT1", [1, 16], "INT32")
    b.set_data_from_numpy(np.ones((1, 16), dtype=np.int32))
    assert client.infer("simple", [a, b]).as_numpy("OUTPUT0").sum() == 32
    client.close()
