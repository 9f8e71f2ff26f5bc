"""TorchScript on an NVIDIA GPU: streams, FP16, CUDA graphs per bucket, served end to end.

Run where torch sees a CUDA device (the team's H200 machine): ``pytest -m gpu``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from mlinfer.core.model_config import parse_config
from tests.support.servers import ServerThread, settings_for

torch = pytest.importorskip("torch", reason="TorchScript tests need torch (extra 'torch')")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason=f"needs a CUDA GPU visible to torch (torch {torch.__version__} sees none)",
    ),
]

from mlinfer.backends.embedded.torch_session import open_sessions  # noqa: E402
from tests.support.torchscript import (  # noqa: E402
    AFFINE_CONFIG,
    write_affine,
    write_embed,
)

GPU_FP16 = (
    "instance_group [ { count: 2 kind: KIND_GPU gpus: [ 0 ] } ]\n"
    'parameters { key: "precision" value { string_value: "fp16" } }\n'
)


def _sessions(repo: Path, extra: str) -> tuple[list[Any], Any]:
    module = write_affine(repo, extra=extra)
    config = parse_config(AFFINE_CONFIG.format(name="affine", extra=extra))
    return open_sessions(config, repo / "affine" / "1" / "model.pt"), module


def _reference(module: Any, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return module(torch.from_numpy(x))[0].numpy()


def test_graphs_are_captured_per_bucket_and_padding_is_dropped(tmp_path: Path) -> None:
    sessions, module = _sessions(tmp_path / "repo", GPU_FP16)
    assert [s.device for s in sessions] == ["cuda:0", "cuda:0"]
    assert sessions[0].graph_buckets == [1, 2, 4, 8]
    assert sessions[0]._stream is not sessions[1]._stream  # one CUDA stream per instance
    rng = np.random.default_rng(7)
    for batch in (1, 3, 5, 8):  # 3 -> bucket 4, 5 -> bucket 8: padded rows never come back
        x = rng.standard_normal((batch, 4)).astype(np.float32)
        top, y = sessions[0].run({"INPUT__0": x})  # config order: OUTPUT__1 first
        assert y.shape == (batch, 3) and y.dtype == np.float32
        assert top.shape == (batch, 1) and top.dtype == np.int64
        np.testing.assert_allclose(y, _reference(module, x), rtol=2e-2, atol=2e-2)
    for s in sessions:
        s.close()


def test_graph_replay_equals_eager_and_batches_outside_buckets_run_eagerly(
    tmp_path: Path,
) -> None:
    graphs, module = _sessions(
        tmp_path / "a",
        GPU_FP16 + 'parameters { key: "cuda_graph_batch_sizes" value { string_value: "2" } }',
    )
    eager, _ = _sessions(
        tmp_path / "b",
        GPU_FP16 + 'parameters { key: "cuda_graphs" value { string_value: "false" } }',
    )
    assert graphs[0].graph_buckets == [2] and eager[0].graph_buckets == []
    rng = np.random.default_rng(8)
    for batch in (1, 2, 7):  # 7 has no bucket: eager on the same instance
        x = rng.standard_normal((batch, 4)).astype(np.float32)
        got = graphs[0].run({"INPUT__0": x})[1]  # OUTPUT__0, declared second
        # Same FP16 math; a padded batch may pick another GEMM kernel, hence not bitwise.
        np.testing.assert_allclose(got, eager[0].run({"INPUT__0": x})[1], rtol=5e-3, atol=5e-3)
        np.testing.assert_allclose(got, _reference(module, x), rtol=2e-2, atol=2e-2)


def test_gpu_model_serves_batched_grpc_clients(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    module = write_embed(
        repo,
        extra=GPU_FP16 + "dynamic_batching { max_queue_delay_microseconds: 2000 }",
    )
    with ServerThread(settings_for(repo), rest=False, grpc=True) as srv:

        def worker(index: int) -> float:
            client = grpcclient.InferenceServerClient(srv.grpc)
            rng = np.random.default_rng(index)
            worst = 0.0
            for _ in range(20):
                ids = rng.integers(0, 50, (1, 6), dtype=np.int64)
                scale = rng.random((1, 1), dtype=np.float32)
                inputs = [
                    grpcclient.InferInput("ids", [1, 6], "INT64"),
                    grpcclient.InferInput("scale", [1, 1], "FP32"),
                ]
                inputs[0].set_data_from_numpy(ids)
                inputs[1].set_data_from_numpy(scale)
                got = client.infer("embed", inputs).as_numpy("pooled")
                with torch.inference_mode():
                    want = module(torch.from_numpy(ids), torch.from_numpy(scale)).numpy()
                worst = max(worst, float(np.abs(got - want).max()))
            client.close()
            return worst

        with ThreadPoolExecutor(16) as pool:
            assert max(pool.map(worker, range(16))) < 2e-2
        client = grpcclient.InferenceServerClient(srv.grpc)
        stats = client.get_inference_statistics("embed", as_json=True)["model_stats"][0]
        assert int(stats["inference_count"]) == 320
        assert int(stats["execution_count"]) < 320, "16 concurrent clients should batch"
        client.close()
