"""The last resort for an exception no layer expected: logged in full, answered briefly.

The client gets a short message with an id; the operator finds the traceback in the log
under the same id. Exception text is not echoed to clients (it may name files or hosts).
"""

from __future__ import annotations

import logging
import uuid

log = logging.getLogger(__name__)


def report_unexpected(exc: BaseException, call: str) -> str:
    """Log ``exc`` with its traceback under a fresh request id; the client's message."""
    request_id = uuid.uuid4().hex
    log.error(
        "unexpected error in %s (request id %s)",
        call,
        request_id,
        exc_info=exc,
        extra={"request_id": request_id},
    )
    return f"internal error (request id {request_id})"
