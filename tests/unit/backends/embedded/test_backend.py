"""The embedded engine's repository handling: load errors, versions, reload, poll mode."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest

from mlinfer.backends.embedded.backend import EmbeddedBackend
from mlinfer.core.errors import (
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    OperationNotAllowedError,
)
from mlinfer.core.types import InferRequest, Tensor
from mlinfer.dataplane import DataPlane
from mlinfer.samples.models import simple_add_sub
from mlinfer.samples.writer import write_model
from tests.support.servers import settings_for


def _simple_request(version: str = "") -> InferRequest:
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    return InferRequest(
        "simple",
        [Tensor("INPUT0", "INT32", (1, 16), a), Tensor("INPUT1", "INT32", (1, 16), a)],
        model_version=version,
    )


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_model(simple_add_sub(), root)
    return root


async def _started(repo: Path, **overrides: object) -> tuple[EmbeddedBackend, DataPlane]:
    settings = settings_for(repo, **overrides)
    backend = EmbeddedBackend(settings.engine, drain_seconds=settings.shutdown_grace_seconds)
    await backend.start()
    return backend, DataPlane(backend)


async def test_bad_model_shows_reason_and_others_keep_serving(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    bad = repo / "broken"
    (bad / "1").mkdir(parents=True)
    (bad / "1" / "model.onnx").write_bytes(b"not an onnx file")
    (bad / "config.pbtxt").write_text('name: "broken"\nplatform: "onnxruntime_onnx"\n')
    backend, dp = await _started(repo)
    try:
        rows = {r.name: r for r in await dp.repository_index()}
        assert rows["broken"].state == "UNAVAILABLE"
        assert "onnxruntime could not load model.onnx" in rows["broken"].reason
        assert rows["simple"].state == "READY"
        response = await dp.infer(_simple_request())
        assert response.outputs[0].data.sum() == 2 * np.arange(16).sum()
    finally:
        await backend.stop()


async def test_unsupported_config_field_is_named(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    config = repo / "simple" / "config.pbtxt"
    config.write_text(
        config.read_text() + "sequence_batching { max_sequence_idle_microseconds: 5 }\n"
    )
    backend, dp = await _started(repo)
    try:
        (row,) = await dp.repository_index()
        assert row.state == "UNAVAILABLE"
        assert "config field 'sequence_batching' is not supported" in row.reason
        with pytest.raises(ModelNotFoundError, match="has no available versions"):
            await dp.infer(_simple_request())
    finally:
        await backend.stop()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace(
                'TYPE_INT32 dims: [ 16 ] },\n  { name: "INPUT1"',
                'TYPE_FP32 dims: [ 16 ] },\n  { name: "INPUT1"',
            ),
            "input 'INPUT0' is FP32 in config.pbtxt but INT32 in the ONNX graph",
        ),
        (
            lambda t: t.replace('name: "INPUT1"', 'name: "INPUT9"'),
            "the ONNX graph has input(s) ['INPUT1'] that config.pbtxt does not declare",
        ),
        (
            lambda t: t.replace(
                'dims: [ 16 ] },\n  { name: "INPUT1"', 'dims: [ 8 ] },\n  { name: "INPUT1"'
            ),
            "input 'INPUT0' dimension 1 is 8 in config.pbtxt but 16 in the ONNX graph",
        ),
        (
            lambda t: t.replace("max_batch_size: 8", "max_batch_size: 0"),
            "input 'INPUT0' has 1 dimensions with max_batch_size=0",
        ),
    ],
    ids=["dtype", "undeclared input", "dims", "batch dimension"],
)
async def test_config_checked_against_graph(tmp_path: Path, edit: object, message: str) -> None:
    repo = _repo(tmp_path)
    config = repo / "simple" / "config.pbtxt"
    config.write_text(edit(config.read_text()))  # type: ignore[operator]
    backend, dp = await _started(repo)
    try:
        (row,) = await dp.repository_index()
        assert row.state == "UNAVAILABLE"
        assert message in row.reason
    finally:
        await backend.stop()


async def test_version_policies(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    for v in (2, 3):
        shutil.copytree(repo / "simple" / "1", repo / "simple" / str(v))
    backend, dp = await _started(repo)
    try:
        assert await backend.model_versions("simple") == ["3"]  # default: latest 1
        config = repo / "simple" / "config.pbtxt"
        config.write_text(config.read_text() + "version_policy { specific { versions: [1, 3] } }\n")
        await dp.load_model("simple")
        assert await backend.model_versions("simple") == ["1", "3"]
        assert (await dp.infer(_simple_request("1"))).model_version == "1"
        assert (await dp.infer(_simple_request())).model_version == "3"
        with pytest.raises(ModelNotFoundError, match="version 2 is not found"):
            await dp.infer(_simple_request("2"))
        config.write_text(
            config.read_text().replace(
                "version_policy { specific { versions: [1, 3] } }", "version_policy { all {} }"
            )
        )
        await dp.load_model("simple")
        assert await backend.model_versions("simple") == ["1", "2", "3"]
        config.write_text(
            config.read_text().replace(
                "version_policy { all {} }", "version_policy { specific { versions: [7] } }"
            )
        )
        with pytest.raises(ModelLoadError, match=r"names version\(s\) \[7\]"):
            await dp.load_model("simple")
        # The failed reload left the previous versions serving: nothing is lost.
        assert await backend.model_versions("simple") == ["1", "2", "3"]
    finally:
        await backend.stop()


async def test_reload_under_load_fails_no_request(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    backend, dp = await _started(repo)
    try:
        stop = asyncio.Event()
        failures: list[BaseException] = []
        done = 0

        async def client() -> None:
            nonlocal done
            while not stop.is_set():
                try:
                    await dp.infer(_simple_request())
                    done += 1
                except Exception as exc:  # collected: the assertion below reports them
                    failures.append(exc)

        clients = [asyncio.create_task(client()) for _ in range(4)]
        shutil.copytree(repo / "simple" / "1", repo / "simple" / "2")
        for _ in range(3):
            await dp.load_model("simple")
            await asyncio.sleep(0)
        seen_v2 = (await dp.infer(_simple_request())).model_version
        stop.set()
        await asyncio.gather(*clients)
        assert failures == []
        assert done > 0
        assert seen_v2 == "2"
    finally:
        await backend.stop()


async def test_control_modes(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    backend, dp = await _started(repo, model_control_mode="none")
    try:
        with pytest.raises(OperationNotAllowedError, match="model control mode is 'none'"):
            await dp.unload_model("simple")
    finally:
        await backend.stop()
    backend, dp = await _started(repo, model_control_mode="explicit", startup_models=["none"])
    try:
        assert not await dp.model_ready("simple")
        with pytest.raises(ModelNotFoundError):
            await dp.load_model("does_not_exist")
        await dp.load_model("simple")
        assert await dp.model_ready("simple")
    finally:
        await backend.stop()


async def test_poll_mode_picks_up_new_versions_and_models(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    # A long period: the test drives the rescans itself through poll_once().
    backend, dp = await _started(repo, model_control_mode="poll", repository_poll_seconds=3600)
    try:
        assert await backend.model_versions("simple") == ["1"]
        shutil.copytree(repo / "simple" / "1", repo / "simple" / "2")
        await backend.poll_once()
        assert await backend.model_versions("simple") == ["2"]
        shutil.copytree(repo / "simple", repo / "simple_copy")
        cfg = repo / "simple_copy" / "config.pbtxt"
        cfg.write_text(cfg.read_text().replace('name: "simple"', 'name: "simple_copy"'))
        await backend.poll_once()
        assert await dp.model_ready("simple_copy")
        shutil.rmtree(repo / "simple_copy")
        await backend.poll_once()
        assert not await dp.model_ready("simple_copy")
        with pytest.raises(OperationNotAllowedError):
            await dp.load_model("simple")
    finally:
        await backend.stop()


def _gpu_config(repo: Path) -> None:
    config = repo / "simple" / "config.pbtxt"
    config.write_text(config.read_text() + "instance_group [ { count: 1 kind: KIND_GPU } ]\n")


async def test_gpu_instances_need_the_cuda_provider(tmp_path: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA: the CPU-only refusal cannot be shown here")
    repo = _repo(tmp_path)
    _gpu_config(repo)
    backend, dp = await _started(repo)
    try:
        (row,) = await dp.repository_index()
        assert row.state == "UNAVAILABLE"
        assert "execution provider 'CUDAExecutionProvider' is not available" in row.reason
    finally:
        await backend.stop()


@pytest.mark.gpu
async def test_gpu_instance_serves_on_cuda(tmp_path: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("needs onnxruntime-gpu with a CUDA device (CUDAExecutionProvider missing)")
    repo = _repo(tmp_path)
    _gpu_config(repo)
    backend, dp = await _started(repo)
    try:
        response = await dp.infer(_simple_request())
        assert response.outputs[0].data.sum() == 2 * np.arange(16).sum()
    finally:
        await backend.stop()


async def test_input_the_model_rejects_is_a_400_for_that_request_only(
    sample_repository: Path,
) -> None:
    """Out-of-range token ids: ONNX Runtime's INVALID_ARGUMENT becomes the client's 400,
    and a good request batched with the bad one still succeeds."""
    backend, dp = await _started(sample_repository, startup_models=["text_encoder"])

    def tokens(value: int) -> InferRequest:
        ids = np.array([[value, 1, 2]], np.int64)
        return InferRequest(
            "text_encoder",
            [
                Tensor("input_ids", "INT64", (1, 3), ids),
                Tensor("attention_mask", "INT64", (1, 3), np.ones_like(ids)),
            ],
        )

    try:
        bad, good = await asyncio.gather(
            dp.infer(tokens(5000)), dp.infer(tokens(7)), return_exceptions=True
        )
        assert isinstance(bad, InvalidInputError)
        assert "indices element out of data bounds" in bad.message
        assert not isinstance(good, BaseException)
        assert good.outputs[0].data.shape == (1, 32)
    finally:
        await backend.stop()
