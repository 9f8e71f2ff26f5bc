"""The TorchScript runtime on CPU, through the embedded engine (and without torch at all)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mlinfer.backends.embedded.backend import EmbeddedBackend
from mlinfer.core.errors import InvalidInputError
from mlinfer.core.types import InferRequest, Tensor
from mlinfer.dataplane import DataPlane
from mlinfer.samples.models import simple_add_sub
from mlinfer.samples.writer import write_model
from tests.support.servers import settings_for


async def _started(repo: Path) -> tuple[EmbeddedBackend, DataPlane]:
    settings = settings_for(repo)
    backend = EmbeddedBackend(settings.engine, drain_seconds=settings.shutdown_grace_seconds)
    await backend.start()
    return backend, DataPlane(backend)


def _simple_request() -> InferRequest:
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    return InferRequest(
        "simple", [Tensor("INPUT0", "INT32", (1, 16), a), Tensor("INPUT1", "INT32", (1, 16), a)]
    )


async def test_without_torch_the_model_fails_its_load_and_others_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes ``import torch`` raise ImportError, as on a server without it.
    monkeypatch.setitem(sys.modules, "torch", None)
    repo = tmp_path / "repo"
    write_model(simple_add_sub(), repo)
    (repo / "scripted" / "1").mkdir(parents=True)
    (repo / "scripted" / "1" / "model.pt").write_bytes(b"never read without torch")
    (repo / "scripted" / "config.pbtxt").write_text(
        'name: "scripted"\nplatform: "pytorch_libtorch"\nmax_batch_size: 1\n'
        'input [ { name: "INPUT__0" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
        'output [ { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
    )
    backend, dp = await _started(repo)
    try:
        rows = {r.name: r for r in await dp.repository_index()}
        assert rows["scripted"].state == "UNAVAILABLE"
        assert "needs PyTorch, which is not installed" in rows["scripted"].reason
        assert "pip install 'mlinfer[torch]'" in rows["scripted"].reason
        assert rows["simple"].state == "READY"
        response = await dp.infer(_simple_request())
        assert response.outputs[0].data.sum() == 2 * np.arange(16).sum()
    finally:
        await backend.stop()


torch = pytest.importorskip("torch", reason="TorchScript tests need torch (extra 'torch')")

from tests.support.torchscript import (  # noqa: E402  (after the importorskip above)
    AFFINE_CONFIG,
    VOCAB,
    affine_module,
    write_affine,
    write_embed,
    write_torch_model,
)

CPU = "instance_group [ { kind: KIND_CPU } ]"


def _reference(module: object, *arrays: np.ndarray) -> list[np.ndarray]:
    with torch.inference_mode():
        result = module(*(torch.from_numpy(a) for a in arrays))  # type: ignore[operator]
    values = result if isinstance(result, tuple) else (result,)
    return [v.numpy() for v in values]


def _affine_request(x: np.ndarray) -> InferRequest:
    return InferRequest("affine", [Tensor("INPUT__0", "FP32", x.shape, x)])


async def test_cpu_model_serves_outputs_in_index_order(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    module = write_affine(repo, extra=CPU)
    backend, dp = await _started(repo)
    try:
        x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
        response = await dp.infer(_affine_request(x))
        y, top = _reference(module, x)
        outputs = {t.name: t for t in response.outputs}
        assert outputs["OUTPUT__0"].datatype == "FP32"
        np.testing.assert_allclose(outputs["OUTPUT__0"].data, y, rtol=1e-6)
        assert outputs["OUTPUT__1"].datatype == "INT64"
        np.testing.assert_array_equal(outputs["OUTPUT__1"].data, top)
    finally:
        await backend.stop()


async def test_named_inputs_reach_forward_by_name(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    module = write_embed(repo, extra=CPU)
    backend, dp = await _started(repo)
    try:
        ids = np.array([[1, 2, 3, 4, 5, 6]], dtype=np.int64)
        scale = np.array([[2.0]], dtype=np.float32)
        request = InferRequest(
            "embed",
            [Tensor("scale", "FP32", (1, 1), scale), Tensor("ids", "INT64", (1, 6), ids)],
        )
        response = await dp.infer(request)
        (expected,) = _reference(module, ids, scale)
        np.testing.assert_allclose(response.outputs[0].data, expected, rtol=1e-6)
    finally:
        await backend.stop()


async def test_input_the_model_rejects_is_a_400_naming_the_cause(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    # CPU on purpose: on a GPU an out-of-range index is a device-side assert that aborts
    # the process (see docs/PERFORMANCE-GPU.md, "Known limits").
    write_embed(repo, extra=CPU)
    backend, dp = await _started(repo)
    try:
        ids = np.full((1, 6), VOCAB + 5, dtype=np.int64)
        scale = np.ones((1, 1), dtype=np.float32)
        request = InferRequest(
            "embed", [Tensor("ids", "INT64", (1, 6), ids), Tensor("scale", "FP32", (1, 1), scale)]
        )
        with pytest.raises(InvalidInputError, match="index out of range"):
            await dp.infer(request)
        good = InferRequest(
            "embed",
            [Tensor("ids", "INT64", (1, 6), ids % VOCAB), Tensor("scale", "FP32", (1, 1), scale)],
        )
        assert (await dp.infer(good)).outputs[0].data.shape == (1, 8)
    finally:
        await backend.stop()


@pytest.mark.parametrize(
    ("config_edit", "reason"),
    [
        (("TYPE_INT64 dims: [ 1 ]", "TYPE_INT32 dims: [ 1 ]"), "is INT32 in config.pbtxt but"),
        (("TYPE_FP32 dims: [ 3 ]", "TYPE_FP32 dims: [ 5 ]"), "has dims [5] in config.pbtxt"),
        (
            ('{ name: "OUTPUT__1" data_type: TYPE_INT64 dims: [ 1 ] },', ""),
            "returned 2 tensor(s) but config.pbtxt declares 1",
        ),
        (("KIND_CPU", "KIND_MODEL"), "KIND_MODEL is not supported"),
    ],
)
async def test_config_that_does_not_match_the_model_fails_its_load(
    tmp_path: Path, config_edit: tuple[str, str], reason: str
) -> None:
    repo = tmp_path / "repo"
    config = AFFINE_CONFIG.format(name="affine", extra="instance_group [ { kind: KIND_CPU } ]")
    write_torch_model(repo, "affine", affine_module(), config.replace(*config_edit))
    backend, dp = await _started(repo)
    try:
        rows = {r.name: r for r in await dp.repository_index()}
        assert rows["affine"].state == "UNAVAILABLE"
        assert reason in rows["affine"].reason
    finally:
        await backend.stop()


async def test_a_file_that_is_not_torchscript_fails_with_the_reason(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_affine(repo)
    (repo / "affine" / "1" / "model.pt").write_bytes(b"not a zip archive")
    backend, dp = await _started(repo)
    try:
        rows = {r.name: r for r in await dp.repository_index()}
        assert "torch.jit.load could not load model.pt" in rows["affine"].reason
    finally:
        await backend.stop()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a host without CUDA")
async def test_gpu_instances_without_cuda_fail_with_a_clear_message(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_affine(repo, extra="instance_group [ { kind: KIND_GPU gpus: [ 0 ] } ]")
    backend, dp = await _started(repo)
    try:
        rows = {r.name: r for r in await dp.repository_index()}
        assert "KIND_GPU needs a CUDA GPU" in rows["affine"].reason
    finally:
        await backend.stop()


async def test_fp16_precision_keeps_the_declared_output_types(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    module = write_affine(
        repo,
        extra="instance_group [ { kind: KIND_CPU } ]\n"
        'parameters { key: "precision" value { string_value: "fp16" } }',
    )
    backend, dp = await _started(repo)
    try:
        x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
        response = await dp.infer(_affine_request(x))
        y = {t.name: t for t in response.outputs}["OUTPUT__0"]
        assert y.datatype == "FP32" and y.data.dtype == np.float32
        reference = _reference(module, x)[0]
        np.testing.assert_allclose(y.data, reference, rtol=2e-2, atol=2e-2)
    finally:
        await backend.stop()
