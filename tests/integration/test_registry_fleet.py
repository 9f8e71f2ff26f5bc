"""A fleet simulation: one registry process and three ``mlinfer serve`` boxes on loopback,
each with its own model repository, enrolled with labels through the CLI.

- a good version reaches every box wave by wave with 0 failed requests on each under load;
- a version whose requests fail passes its first wave (no traffic there to judge), is
  caught by the boxes' own metrics in the second, and every box of both waves returns to
  what it served;
- a box stopped before its wave is reported offline, and gets the version when it returns
  (from a registry restarted meanwhile).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.fleet import Box, BoxLoad, Registry, failing_variant, wait_rollout
from tests.support.registry import SIMPLE_BODY, RegistryClient, simple_variant

WAVES = [{"count": 1}, {"percent": 100}]  # box-a first, then the rest
# Same code on every box: latency is noise on a shared machine, so only errors judge here.
ANALYSIS = {"min_requests": 10, "threshold": 2, "max_p99_factor": None}
ENDED = ("succeeded", "partial", "rolled_back", "aborted")


class Fleet:
    def __init__(self, registry: Registry, boxes: dict[str, Box]) -> None:
        self.registry, self.boxes = registry, boxes
        self.http = httpx.Client(base_url=registry.url, timeout=120)

    def rollout(self, version: str, **body: Any) -> int:
        body = {"model": "simple", "version": version, "waves": WAVES, **body}
        response = self.http.post("/v1/fleet/rollouts", json=body)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def serving(self) -> dict[str, list[str]]:
        return {name: box.ready_versions() for name, box in self.boxes.items()}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    registry = Registry(root, MLINFER_REGISTRY_FLEET_RETRY_SECONDS="0.5")
    boxes = {name: Box(root, name) for name in ("box-a", "box-b", "box-c")}
    try:
        registry.start()
        for box in boxes.values():
            box.start()
        for name, site, hw in (("box-a", "lab", "orin"), ("box-b", "north", "x86"),
                               ("box-c", "south", "x86")):  # fmt: skip
            enrolled = registry.cli(
                "fleet", "enroll", name, "--box-url", boxes[name].url,
                "--repository", str(boxes[name].repository),
                "--label", f"site={site}", "--label", f"hardware={hw}",
            )  # fmt: skip
            assert enrolled.returncode == 0, enrolled.stderr
            assert f"box {name} enrolled" in enrolled.stdout
        client = RegistryClient(registry.url)
        for model in (simple_variant("Add"), simple_variant("Sub"), failing_variant(),
                      simple_variant("Mul")):  # fmt: skip
            pushed = client.push(model)  # versions 1 (what the boxes hold), 2, 3 (bad), 4
            assert pushed.status_code == 201, pushed.text
        client.close()
        fleet = Fleet(registry, boxes)
        yield fleet
        fleet.http.close()
    finally:
        for box in boxes.values():
            box.stop()
        registry.stop()


def test_enrolled_boxes_list_by_label(fleet: Fleet) -> None:
    listed = fleet.registry.cli("fleet", "boxes", "--selector", "hardware=x86", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [b["name"] for b in json.loads(listed.stdout)] == ["box-b", "box-c"]
    bad = fleet.http.post("/v1/fleet/rollouts", json={"model": "simple", "version": "2",
                                                      "selector": {"site": "mars"}})  # fmt: skip
    assert bad.status_code == 400 and "no enrolled box matches" in bad.text


def test_good_version_reaches_every_box_in_waves_without_a_failed_request(fleet: Fleet) -> None:
    loads = {name: BoxLoad(box) for name, box in fleet.boxes.items()}
    for load in loads.values():
        load.__enter__()
    try:
        rollout_id = fleet.rollout("2", analysis=ANALYSIS, criteria={"soak_s": 1.5})
        done = wait_rollout(fleet.registry.url, rollout_id, ENDED)
    finally:
        for load in loads.values():
            load.__exit__()
    assert done["state"] == "succeeded", done
    boxes = done["boxes"]
    assert {n: (t["wave"], t["state"]) for n, t in boxes.items()} == {
        "box-a": (0, "succeeded"), "box-b": (1, "succeeded"), "box-c": (1, "succeeded"),
    }  # fmt: skip
    # The second wave began only after the first box had been judged on its traffic.
    assert boxes["box-a"]["last_check"]["result"] == "pass"
    assert boxes["box-a"]["last_check"]["canary"]["requests"] >= ANALYSIS["min_requests"]
    assert boxes["box-b"]["deployed_at"] > boxes["box-a"]["last_check"]["at"]
    for name, load in loads.items():
        assert load.failures == [], (name, load.failures[:3])
        assert load.versions["2"] > 0, (name, load.versions)
    assert fleet.serving() == {name: ["2"] for name in fleet.boxes}


def test_failing_version_aborts_in_its_wave_and_every_wave_rolls_back(fleet: Fleet) -> None:
    before = fleet.serving()
    # No traffic on box-a: its wave passes on readiness alone, and the failure is caught
    # in wave 2, so the rollback must reach a box of an earlier wave too.
    loads = [BoxLoad(fleet.boxes["box-b"]), BoxLoad(fleet.boxes["box-c"])]
    for load in loads:
        load.__enter__()
    try:
        rollout_id = fleet.rollout(
            "3",
            analysis={**ANALYSIS, "threshold": 1},
            criteria={"soak_s": 1.5, "require_traffic": False, "max_holds": 2},
        )
        done = wait_rollout(fleet.registry.url, rollout_id, ENDED)
    finally:
        for load in loads:
            load.__exit__()
    assert done["state"] == "rolled_back", json.dumps(done, indent=1)
    assert done["reason"].startswith("wave 2:") and "judged boxes failed" in done["reason"]
    boxes = done["boxes"]
    failed = [n for n, t in boxes.items() if t["state"] == "failed"]
    assert failed and set(failed) <= {"box-b", "box-c"}, boxes  # caught in wave 2
    for name in failed:  # by the box's own error rate, and given back at once
        assert boxes[name]["last_check"]["result"] == "fail"
        assert "success rate" in boxes[name]["last_check"]["reason"]
        assert boxes[name]["rollback"] == f"back on version {before[name][0]}"
    assert boxes["box-a"]["state"] == "rolled_back", boxes  # an earlier wave, rolled back too
    assert all(t["state"] == "rolled_back" for n, t in boxes.items() if n not in failed)
    assert sum(len(load.failures) for load in loads) > 0  # the bad version did serve
    assert fleet.serving() == before
    for box in fleet.boxes.values():  # and what served before serves again
        response = httpx.post(f"{box.url}/v2/models/simple/infer", json=SIMPLE_BODY, timeout=30)
        assert response.status_code == 200, response.text
        assert [response.json()["model_version"]] == before[box.name]
    status = fleet.registry.cli("fleet", "status", str(rollout_id))
    assert status.returncode == 0 and "rolled_back" in status.stdout, status.stderr


def test_offline_box_is_reported_then_catches_up_when_it_returns(fleet: Fleet) -> None:
    box_c = fleet.boxes["box-c"]
    box_c.stop()
    try:
        loads = [BoxLoad(fleet.boxes["box-a"]), BoxLoad(fleet.boxes["box-b"])]
        for load in loads:
            load.__enter__()
        try:
            rollout_id = fleet.rollout("4", analysis=ANALYSIS, criteria={"soak_s": 1.5})
            partial = wait_rollout(fleet.registry.url, rollout_id, ENDED)
        finally:
            for load in loads:
                load.__exit__()
        assert partial["state"] == "partial", partial
        assert partial["boxes"]["box-c"]["state"] == "offline"
        assert "unreachable" in partial["boxes"]["box-c"]["reason"]
        assert "box-c" in partial["reason"]
        assert all(not load.failures for load in loads)
        shown = fleet.http.get("/v1/fleet/boxes/box-c").json()
        assert "unreachable" in shown["last_error"]
    finally:
        # The registry restarts while box-c is away: the catch-up is in its database.
        fleet.registry.stop()
        box_c.start()
        fleet.registry.start()
    done = wait_rollout(fleet.registry.url, rollout_id, ("succeeded",))
    assert done["boxes"]["box-c"]["state"] == "succeeded"
    assert done["boxes"]["box-c"]["caught_up"] is True
    assert fleet.serving() == {name: ["4"] for name in fleet.boxes}
    response = httpx.post(f"{box_c.url}/v2/models/simple/infer", json=SIMPLE_BODY, timeout=30)
    outputs = {o["name"]: o["data"] for o in response.json()["outputs"]}
    assert outputs["OUTPUT0"] == list(range(16))  # Mul: INPUT0 x 1, the pushed bytes
    history = fleet.registry.cli("fleet", "rollouts", "--model", "simple")
    assert history.returncode == 0, history.stderr
    (row,) = [line for line in history.stdout.splitlines() if line.split()[0] == str(rollout_id)]
    assert row.split()[1:4] == ["simple", "4", "succeeded"], history.stdout
