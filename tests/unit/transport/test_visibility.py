"""A caller sees only the models its identity may access, in lists and statistics."""

from __future__ import annotations

from tritonclient.grpc import service_pb2 as pb

from mlinfer.auth import ANONYMOUS
from mlinfer.auth.identity import Identity
from mlinfer.core.types import ModelIndexEntry
from mlinfer.transport.visibility import visible, visible_statistics

CAMERA = Identity("camera-7", "api_key", frozenset({"models:read"}), models=("det*",))


def _rows(*names: str) -> list[ModelIndexEntry]:
    return [ModelIndexEntry(name, "1", "READY", "") for name in names]


def test_visible_keeps_order_and_filters_by_pattern() -> None:
    rows = _rows("detector", "simple", "detector-v2", "detector")
    assert [r.name for r in visible(CAMERA, rows, lambda r: r.name)] == [
        "detector",
        "detector-v2",
        "detector",
    ]
    assert visible(ANONYMOUS, rows, lambda r: r.name) == rows


def test_visible_statistics_drops_other_models() -> None:
    stats = pb.ModelStatisticsResponse(
        model_stats=[
            pb.ModelStatistics(name="simple"),
            pb.ModelStatistics(name="detector", version="1"),
        ]
    )
    assert visible_statistics(CAMERA, stats) == pb.ModelStatisticsResponse(
        model_stats=[pb.ModelStatistics(name="detector", version="1")]
    )
