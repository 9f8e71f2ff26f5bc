"""JSON text as Triton reads and writes it: standard JSON plus the literals ``NaN``,
``Infinity`` and ``-Infinity``.

Triton's parser takes those literals and its clients write them (Python's ``json`` module
does for float tensors, perf_analyzer for random FP32 data). orjson, which the hot path uses
for its speed, knows neither way, so only a body orjson refuses and a document holding a
non-finite float go through the standard library; every other one costs nothing extra.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson


def loads(raw: bytes | memoryview) -> Any:
    """The document in ``raw``; a :class:`ValueError` (orjson's, which names the position)
    when it is not JSON even with the non-finite literals."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as first:
        try:
            return json.loads(bytes(raw))
        except ValueError:
            raise first from None


def dumps(doc: Any, non_finite: bool = False) -> bytes:
    """``doc`` as compact JSON; ``non_finite``: it may hold NaN or infinities, which orjson
    would write as ``null`` and which are written as Triton writes them instead."""
    if not non_finite:
        return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(doc, separators=(",", ":"), default=_plain).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def has_non_finite(data: np.ndarray[Any, Any]) -> bool:
    """Whether a float array holds NaN or an infinity (other dtypes cannot)."""
    return data.dtype.kind == "f" and not bool(np.isfinite(data).all())
