"""The DataPlane hook: routes requests naming no version, falls back when the policy names
a version the engine lacks, and reports each outcome with the version that served."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlinfer.backends.embedded.backend import EmbeddedBackend
from mlinfer.backends.settings import EngineSettings
from mlinfer.core.errors import InvalidInputError, ModelNotFoundError
from mlinfer.core.types import InferRequest, Tensor
from mlinfer.dataplane import DataPlane
from mlinfer.registry.traffic import TrafficPolicy, TrafficRouter
from mlinfer.samples.models import simple_add_sub
from mlinfer.samples.writer import write_model
from tests.support.raising_backend import RAISE_ID, RaisingBackend


def _request(model: str = "simple", version: str = "", n: int = 16) -> InferRequest:
    a = np.ones((1, n), np.int32)
    return InferRequest(
        model, [Tensor("INPUT0", "INT32", (1, n), a), Tensor("INPUT1", "INT32", (1, n), a)],
        model_version=version,
    )


@pytest.fixture
async def backend(tmp_path: Path) -> EmbeddedBackend:
    for version in (1, 2):
        write_model(simple_add_sub(), tmp_path, version)
    config = tmp_path / "simple" / "config.pbtxt"
    config.write_text(config.read_text() + "version_policy { all { } }\n")
    engine = EmbeddedBackend(EngineSettings(model_repository=tmp_path))
    await engine.start()
    yield engine  # type: ignore[misc]
    await engine.stop()


async def test_routes_falls_back_and_observes(backend: EmbeddedBackend) -> None:
    seen: list[tuple[str, str, str]] = []
    router = TrafficRouter([TrafficPolicy("simple", {"1": 100})])
    dataplane = DataPlane(
        backend, traffic=router, on_result=lambda m, v, o, _s: seen.append((m, v, o))
    )
    assert (await dataplane.infer(_request())).model_version == "1"  # policy, not latest
    assert (await dataplane.infer(_request(version="2"))).model_version == "2"  # named: bypass
    router.replace([TrafficPolicy("simple", {"7": 100})])  # a version this engine lacks
    assert (await dataplane.infer(_request())).model_version == "2"  # the default serves
    with pytest.raises(InvalidInputError):
        await dataplane.infer(_request(version="2", n=3))
    with pytest.raises(ModelNotFoundError):
        await dataplane.infer(_request(model="nope"))
    assert seen == [
        ("simple", "1", "success"),
        ("simple", "2", "success"),
        ("simple", "2", "success"),
        ("simple", "", "client_error"),
    ]  # the unknown model made no series


async def test_failures_of_unversioned_requests_count_for_the_version_that_failed(
    tmp_path: Path,
) -> None:
    """No version named, no policy: a server-side failure is the served version's failure."""
    write_model(simple_add_sub(), tmp_path, 3)
    engine = RaisingBackend(EngineSettings(model_repository=tmp_path))
    await engine.start()
    try:
        seen: list[tuple[str, str, str]] = []
        dataplane = DataPlane(engine, on_result=lambda m, v, o, _s: seen.append((m, v, o)))
        failing = _request()
        failing.id = RAISE_ID
        with pytest.raises(RuntimeError):
            await dataplane.infer(failing)
        with pytest.raises(InvalidInputError):
            await dataplane.infer(_request(n=3))
        assert seen == [("simple", "3", "failure"), ("simple", "", "client_error")]
    finally:
        await engine.stop()
