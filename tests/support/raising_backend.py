"""The embedded engine with a bug on demand: a request with id ``RAISE_ID`` fails with an
exception that no layer maps to a client error, the way a programming error would."""

from __future__ import annotations

from typing import Any

from mlinfer.backends.embedded.backend import EmbeddedBackend
from mlinfer.core.model_spec import ModelSpec
from mlinfer.core.types import InferRequest, InferResponse
from mlinfer.settings import Settings

RAISE_ID = "raise-unexpected"
SECRET_DETAIL = "/srv/internal/path-that-clients-must-not-see"


class RaisingBackend(EmbeddedBackend):
    async def infer(self, request: InferRequest, spec: ModelSpec, batch_size: int) -> InferResponse:
        if request.id == RAISE_ID:
            raise RuntimeError(f"unexpected failure reading {SECRET_DETAIL}")
        return await super().infer(request, spec, batch_size)


def raising_backend(settings: Settings, tracer: Any) -> RaisingBackend:
    """A ``backend_factory`` for :class:`mlinfer.server.Server`."""
    return RaisingBackend(settings.engine, tracer, drain_seconds=settings.shutdown_grace_seconds)
