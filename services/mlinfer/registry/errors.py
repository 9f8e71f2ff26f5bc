"""Registry errors, on the one hierarchy every transport maps (``core.errors``)."""

from __future__ import annotations

from mlinfer.core.errors import MLInferError, StatusCode


class RegistryNotFoundError(MLInferError):
    status = StatusCode.NOT_FOUND


class ConflictError(MLInferError):
    """Another deploy or rollout owns the model."""

    status = StatusCode.ALREADY_EXISTS


class BadRequestError(MLInferError):
    status = StatusCode.INVALID_ARGUMENT


class StorageUnavailableError(MLInferError):
    """The artifact store or the database cannot be reached: retry later."""

    status = StatusCode.UNAVAILABLE

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after_s=5)


class ChecksumMismatchError(MLInferError):
    status = StatusCode.INVALID_ARGUMENT
