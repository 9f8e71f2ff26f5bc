"""The headers an error carries are declared on the error, the same for every transport."""

from __future__ import annotations

from mlinfer.auth import PermissionDeniedError, UnauthenticatedError
from mlinfer.core.errors import InvalidInputError, UnavailableError
from mlinfer.ratelimit.errors import RateLimitedError


def test_plain_error_has_no_headers() -> None:
    error = InvalidInputError("bad")
    assert (error.headers(), error.retry_after, error.www_authenticate) == ({}, None, None)


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert UnavailableError("busy", retry_after_s=0.2).headers() == {"Retry-After": "1"}
    assert UnavailableError("busy", retry_after_s=2.01).headers() == {"Retry-After": "3"}
    assert RateLimitedError("slow down", retry_after_s=0.5).retry_after == "1"


def test_auth_errors_carry_their_challenge() -> None:
    assert UnauthenticatedError("no credentials", error=None).headers() == {
        "WWW-Authenticate": 'Bearer realm="mlinfer"'
    }
    denied = PermissionDeniedError("missing scope", scope="infer")
    assert denied.headers()["WWW-Authenticate"].endswith(', scope="infer"')
