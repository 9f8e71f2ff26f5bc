"""JSON responses serialized with orjson (numpy-aware, fast)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code, headers, media_type="application/json")
