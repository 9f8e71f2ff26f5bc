"""Which models a caller sees in lists, the repository index and statistics."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from tritonclient.grpc import service_pb2 as pb

from mlinfer.auth.identity import Identity

T = TypeVar("T")


def visible(identity: Identity, items: Iterable[T], name: Callable[[T], str]) -> list[T]:
    """The ``items`` whose model (``name(item)``) ``identity`` may access, in order."""
    rows = list(items)
    allowed = set(identity.visible_models(name(row) for row in rows))
    return [row for row in rows if name(row) in allowed]


def visible_statistics(
    identity: Identity, stats: pb.ModelStatisticsResponse
) -> pb.ModelStatisticsResponse:
    """Triton's statistics response with only the models ``identity`` may access."""
    return pb.ModelStatisticsResponse(
        model_stats=visible(identity, stats.model_stats, lambda s: s.name)
    )
