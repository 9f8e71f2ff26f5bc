"""Fleet tables on both database engines: enrollment, rollout rows, one running per model."""

from __future__ import annotations

from typing import Any

import pytest

from mlinfer.registry.catalog import Catalog
from mlinfer.registry.errors import ConflictError, RegistryNotFoundError
from mlinfer.registry.fleet_boxes import FleetBoxes
from mlinfer.registry.fleet_store import FleetStore


def _values(model: str = "m", **extra: Any) -> dict[str, Any]:
    values = {
        "model": model, "version": 2, "selector": {}, "waves": [{"count": 1}],
        "analysis": {}, "criteria": {}, "wave_started_at": None,
        "targets": {"a": {"wave": 0, "state": "pending", "reason": "", "counters": {"2": {}}}},
    }  # fmt: skip
    values.update(extra)
    return values


def test_enroll_updates_in_place_and_lists_by_label(catalog: Catalog) -> None:
    boxes = FleetBoxes(catalog)
    boxes.enroll("b", "http://10.0.0.2:8000/", "/srv/b", {"site": "north"}, "ops")
    boxes.enroll("a", "http://10.0.0.1:8000", "/srv/a", {"site": "south"}, "ops")
    again = boxes.enroll("b", "http://10.0.0.9:8000", "/srv/b", {"site": "south"}, "ops")
    assert again["url"] == "http://10.0.0.9:8000" and again["labels"] == {"site": "south"}
    assert [b["name"] for b in boxes.matching()] == ["a", "b"]
    assert [b["name"] for b in boxes.matching({"site": "north"})] == []
    boxes.seen("a", "unreachable: refused")
    assert boxes.get("a")["last_error"] == "unreachable: refused"
    assert boxes.get("a")["last_seen"] is None
    boxes.seen("a")
    assert boxes.get("a")["last_error"] == "" and boxes.get("a")["last_seen"]
    boxes.remove("a", "ops")
    with pytest.raises(RegistryNotFoundError):
        boxes.get("a")
    actions = [e["action"] for e in catalog.audit("(fleet)")]
    assert actions.count("fleet-enroll") == 3 and "fleet-remove" in actions


def test_one_running_rollout_per_model_and_partial_ones_are_superseded(
    catalog: Catalog,
) -> None:
    store = FleetStore(catalog)
    first = store.create(_values(), "ops")
    assert first["state"] == "running" and first["planned_waves"] == 1
    assert "counters" not in first["boxes"]["a"]  # kept for the loop, not shown
    with pytest.raises(ConflictError):
        store.create(_values(), "ops")
    store.create(_values("other"), "ops")  # another model is independent
    store.update(first["id"], "registry", "fleet-partial", state="partial", reason="a offline")
    second = store.create(_values(), "ops")
    assert store.get(first["id"])["state"] == "superseded"
    assert [r["id"] for r in store.recent("m", 10)] == [second["id"], first["id"]]
    assert {r.id for r in store.live()} >= {second["id"]}
    assert first["id"] not in {r.id for r in store.live()}
    events = [e["action"] for e in catalog.audit("m")]
    assert events.count("fleet-rollout") == 2 and "fleet-partial" in events
