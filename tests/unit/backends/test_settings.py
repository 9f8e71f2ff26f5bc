"""What a Triton to front may be told: refusals name the variable and the mistake."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlinfer.backends.settings import TritonSettings


def test_the_http_endpoint_alone_is_refused() -> None:
    with pytest.raises(ValidationError, match="MLINFER_TRITON_HTTP_URL needs MLINFER_TRITON_URL"):
        TritonSettings(http_url="127.0.0.1:8000")


@pytest.mark.parametrize("field", ["url", "http_url"])
def test_a_scheme_is_refused(field: str) -> None:
    values = {"url": "127.0.0.1:8001", field: "http://127.0.0.1:8000"}
    with pytest.raises(ValidationError, match="is host:port, without a scheme: got 'http://"):
        TritonSettings(**values)


def test_both_endpoints() -> None:
    settings = TritonSettings(url="127.0.0.1:8001", http_url="127.0.0.1:8000")
    assert (settings.url, settings.http_url) == ("127.0.0.1:8001", "127.0.0.1:8000")
