"""The Triton actuator against a real Triton: a load with a config override that changes
``instance_group.count``, verified by reading the config back; the autoscaler reads Triton's
own /metrics. The Triton is private: these tests reload its models.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
from prometheus_client import CollectorRegistry

from mlinfer.autoscaler.actuators import ActuatorError, TritonActuator
from mlinfer.autoscaler.service import Autoscaler, make_client
from mlinfer.autoscaler.settings import AutoscalerSettings
from tests.support.triton.server_process import TritonServerProcess
from tests.support.triton.targets import python_repository, require_triton, start_triton

pytestmark = pytest.mark.triton
MODEL = "simple"


@pytest.fixture(scope="module")
def triton(
    sample_repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TritonServerProcess]:
    require_triton()
    repo = python_repository(
        sample_repository, tmp_path_factory.mktemp("autoscale-triton") / "models", [MODEL]
    )
    proc = start_triton(
        repo, repo.parent / "triton.log", model_control_mode="explicit", load_models=[MODEL]
    )
    try:
        yield proc
    finally:
        proc.stop()


def _infer_ok(url: str) -> bool:
    client = httpclient.InferenceServerClient(url)
    inputs = []
    for name in ("INPUT0", "INPUT1"):
        tensor = httpclient.InferInput(name, [1, 16], "INT32")
        tensor.set_data_from_numpy(np.arange(16, dtype=np.int32).reshape(1, 16))
        inputs.append(tensor)
    result = client.infer(MODEL, inputs)
    return bool((result.as_numpy("OUTPUT0") == 2 * np.arange(16).reshape(1, 16)).all())


async def test_config_override_changes_the_instance_count_in_place(
    triton: TritonServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=f"http://{triton.http_url}", timeout=120) as client:
        actuator = TritonActuator(client)
        assert await actuator.current(MODEL) == 1
        assert await actuator.scale(MODEL, 3) == 3
        config = (await client.get(f"/v2/models/{MODEL}/config")).json()
        assert sum(g["count"] for g in config["instance_group"]) == 3
        assert _infer_ok(triton.http_url)
        assert await actuator.scale(MODEL, 1) == 1
        assert await actuator.ready_models() == [MODEL]
        with pytest.raises(ActuatorError, match="HTTP 404: Request for unknown model"):
            await actuator.scale("not_a_model", 2)


async def test_autoscaler_reads_tritons_metrics_and_scales_through_it(
    triton: TritonServerProcess,
) -> None:
    settings = AutoscalerSettings(
        actuator="triton",
        server_url=f"http://{triton.http_url}",
        metrics_url=triton.metrics_url,
        models=[MODEL],
        min_instances=2,
    )
    async with make_client(settings) as client:
        scaler = await Autoscaler.create(settings, client, CollectorRegistry())
        step = await scaler.step()
        after = await scaler.step()
    assert [(d.current, d.desired, d.reason) for d in step.decisions] == [(1, 2, "below_min")]
    assert step.applied == {MODEL: 2}
    assert after.decisions[0].current == 2 and after.decisions[0].direction == "hold"
    assert _infer_ok(triton.http_url)
