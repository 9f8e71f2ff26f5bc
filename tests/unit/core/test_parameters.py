"""Request parameters read by one set of rules, whichever transport carried them."""

from __future__ import annotations

import pytest

from mlinfer.core.errors import InvalidInputError
from mlinfer.core.parameters import classification, non_negative, priority_header


def test_non_negative() -> None:
    assert non_negative({}, "priority") == 0
    assert non_negative({"timeout": 250}, "timeout") == 250
    for bad in (-1, True, 1.5, "3"):
        with pytest.raises(InvalidInputError, match="parameter 'priority' must be a non-negative"):
            non_negative({"priority": bad}, "priority")


def test_classification() -> None:
    assert classification({}, "probs") == 0
    assert classification({"classification": 3}, "probs") == 3
    for bad in (True, "3", 2.0):
        with pytest.raises(InvalidInputError, match="output 'probs': classification must be"):
            classification({"classification": bad}, "probs")


def test_priority_header() -> None:
    assert priority_header(" 2 ") == 2
    for bad in ("-1", "high", ""):
        with pytest.raises(InvalidInputError, match="X-Priority header must be"):
            priority_header(bad)
