"""Request parameters as the Open Inference Protocol defines them, read the same everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlinfer.core.errors import InvalidInputError


def ascii_digits(value: str) -> bool:
    """``0``-``9`` only: ``str.isdigit`` also takes superscripts (which ``int`` refuses) and
    other scripts' digits (which ``int`` reads as numbers); versions, sizes and priorities are
    ASCII on the wire."""
    return value.isascii() and value.isdigit()


def non_negative(parameters: Mapping[str, Any], key: str) -> int:
    """An integer parameter >= 0 such as ``priority`` or ``timeout``; 0 when absent."""
    value = parameters.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInputError(f"parameter '{key}' must be a non-negative integer")
    return value


def classification(parameters: Mapping[str, Any], output: str) -> int:
    """The classification extension's ``classification`` count of one requested output."""
    count = parameters.get("classification", 0)
    if not isinstance(count, int) or isinstance(count, bool):
        raise InvalidInputError(f"output '{output}': classification must be an integer")
    return count


def priority_header(value: str) -> int:
    """``X-Priority`` (HTTP header or WebSocket field): the ``priority`` parameter's value."""
    if not ascii_digits(value.strip()):
        raise InvalidInputError(f"X-Priority header must be a non-negative integer, got '{value}'")
    return int(value)
