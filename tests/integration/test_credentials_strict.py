"""One credential per request, and RFC 7519 dates, on REST, gRPC and the WebSocket handshake.

A proxy and this server could disagree about which of two ``Authorization`` values counts
(REST took the first, gRPC the last): a request carrying more than one is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from mlinfer.auth import hash_api_key, issue_token
from tests.support.servers import ServerThread, settings_for

SECRET = "d" * 48
API_KEY, OTHER_KEY = "mlk_" + "a" * 40, "mlk_" + "b" * 40
SIMPLE = {
    "inputs": [
        {"name": n, "datatype": "INT32", "shape": [1, 16], "data": [1] * 16}
        for n in ("INPUT0", "INPUT1")
    ]
}


@pytest.fixture(scope="module")
def secured(sample_repository: Path) -> Iterator[ServerThread]:
    keys = [
        {"name": name, "hash": hash_api_key(key), "scopes": ["infer"], "models": ["simple"]}
        for name, key in (("camera-1", API_KEY), ("camera-2", OTHER_KEY))
    ]
    settings = settings_for(
        sample_repository,
        auth_mode="required",
        auth_jwt_secret=SECRET,
        auth_api_keys=keys,
        startup_models=["simple"],
    )
    with ServerThread(settings, rest=True, grpc=True) as srv:
        yield srv


def _bearer(subject: str = "alice") -> str:
    return "Bearer " + issue_token(SECRET, subject, ["infer"], ttl_s=600)


def _hs256(claims: dict[str, Any]) -> str:
    """A correctly signed token whose claims pyjwt's encoder would not let us write."""

    def part(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + b"." + part(json.dumps(claims).encode())
    signature = hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + part(signature)).decode()


def _rest(srv: ServerThread, headers: list[tuple[str, str]]) -> httpx.Response:
    return httpx.post(f"http://{srv.http}/v2/models/simple/infer", json=SIMPLE, headers=headers)


def _grpc(srv: ServerThread, metadata: list[tuple[str, str]]) -> grpc.StatusCode:
    request = pb.ModelInferRequest(model_name="simple")
    for name in ("INPUT0", "INPUT1"):
        tensor = request.inputs.add(name=name, datatype="INT32", shape=[1, 16])
        tensor.contents.int_contents.extend([1] * 16)
    with grpc.insecure_channel(srv.grpc) as channel:
        try:
            pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, metadata=metadata)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


DUPLICATES = {
    "valid then garbage": [("authorization", _bearer()), ("authorization", "Bearer x.y.z")],
    "garbage then valid": [("authorization", "Bearer x.y.z"), ("authorization", _bearer())],
    "two valid tokens": [("authorization", _bearer("alice")), ("authorization", _bearer("bob"))],
    "the same token twice": [("authorization", _bearer())] * 2,
    "two api keys": [("x-api-key", API_KEY), ("x-api-key", OTHER_KEY)],
}


def test_one_credential_of_each_kind_is_accepted(secured: ServerThread) -> None:
    for credential in ([("authorization", _bearer())], [("x-api-key", API_KEY)]):
        assert _rest(secured, credential).status_code == 200
        assert _grpc(secured, credential) == grpc.StatusCode.OK


@pytest.mark.parametrize("credentials", DUPLICATES.values(), ids=DUPLICATES.keys())
def test_rest_refuses_repeated_credentials(
    secured: ServerThread, credentials: list[tuple[str, str]]
) -> None:
    response = _rest(secured, credentials)
    assert response.status_code == 401, response.text
    assert "send exactly one" in response.json()["error"]
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("credentials", DUPLICATES.values(), ids=DUPLICATES.keys())
def test_grpc_refuses_repeated_credentials(
    secured: ServerThread, credentials: list[tuple[str, str]]
) -> None:
    assert _grpc(secured, credentials) == grpc.StatusCode.UNAUTHENTICATED


def test_other_rest_routes_refuse_repeated_credentials(secured: ServerThread) -> None:
    twice = DUPLICATES["valid then garbage"]
    base = f"http://{secured.http}"
    for method, path in (
        ("GET", "/v2/models/simple"),
        ("POST", "/v2/repository/index"),
        ("GET", "/models"),
        ("GET", "/admin/services"),
        ("GET", "/v2/admin/models/simple/instances"),
    ):
        response = httpx.request(method, base + path, headers=twice)
        assert response.status_code == 401, (path, response.text)


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_numeric_string_dates_are_refused(secured: ServerThread, claim: str) -> None:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "alice", "scope": "infer", "exp": now + 600}
    claims[claim] = {"exp": now + 600, "nbf": now - 60, "iat": now - 60}[claim]
    good = [("authorization", "Bearer " + _hs256(claims))]
    assert _rest(secured, good).status_code == 200
    assert _grpc(secured, good) == grpc.StatusCode.OK
    claims[claim] = str(claims[claim])
    stringly = [("authorization", "Bearer " + _hs256(claims))]
    response = _rest(secured, stringly)
    assert response.status_code == 401
    assert f"'{claim}' claim must be a number" in response.json()["error"]
    assert _grpc(secured, stringly) == grpc.StatusCode.UNAUTHENTICATED
