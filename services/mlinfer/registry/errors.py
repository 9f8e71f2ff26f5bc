"""Registry errors, on the one hierarchy every transport maps (``core.errors``).

Each is a core kind (same status, same mapping); the names say where they come from.
``RegistryNotFoundError`` stays apart from ``ModelNotFoundError`` on purpose: the DataPlane
catches the latter to fall back from a routed version, and a missing registry record must
never be mistaken for that.
"""

from __future__ import annotations

from mlinfer.core.errors import InvalidInputError, MLInferError, StatusCode, UnavailableError


class RegistryNotFoundError(MLInferError):
    status = StatusCode.NOT_FOUND


class ConflictError(MLInferError):
    """Another deploy or rollout owns the model."""

    status = StatusCode.ALREADY_EXISTS


class BadRequestError(InvalidInputError):
    pass


class StorageUnavailableError(UnavailableError):
    """The artifact store or the database cannot be reached: retry later."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after_s=5)


class ChecksumMismatchError(InvalidInputError):
    pass
