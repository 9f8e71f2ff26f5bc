"""Auth (JWT HS256, JWKS with rotation, API keys), scopes and rate limits on REST and gRPC."""

from __future__ import annotations

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
from tests.support.jwks_server import JwksServer, SigningKey
from tests.support.servers import ServerThread, settings_for, wait_until

SECRET = "s" * 48
API_KEY = "mlk_" + "k" * 40
SIMPLE = {
    "inputs": [
        {"name": n, "datatype": "INT32", "shape": [1, 16], "data": [1] * 16}
        for n in ("INPUT0", "INPUT1")
    ]
}


def _token(scopes: list[str], models: list[str] | None = None, **claims: Any) -> str:
    return issue_token(SECRET, "alice", scopes, models=models, ttl_s=600, **claims)


@pytest.fixture(scope="module")
def secured(sample_repository: Path) -> Iterator[ServerThread]:
    settings = settings_for(
        sample_repository,
        auth_mode="required",
        auth_jwt_secret=SECRET,
        auth_api_keys=[
            {
                "name": "camera-7",
                "hash": hash_api_key(API_KEY),
                "scopes": ["infer"],
                "models": ["simple"],
            }
        ],
        startup_models=["simple", "digits"],
    )
    with ServerThread(settings, rest=True, grpc=True) as srv:
        yield srv


def _infer(srv: ServerThread, headers: dict[str, str], model: str = "simple") -> httpx.Response:
    return httpx.post(f"http://{srv.http}/v2/models/{model}/infer", json=SIMPLE, headers=headers)


def test_rest_401_403_and_success(secured: ServerThread) -> None:
    missing = _infer(secured, {})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith('Bearer realm="mlinfer"')
    bad = _infer(secured, {"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    expired = issue_token(SECRET, "alice", ["infer"], ttl_s=60, now=time.time() - 600)
    assert _infer(secured, {"Authorization": f"Bearer {expired}"}).status_code == 401
    read_only = _infer(secured, {"Authorization": f"Bearer {_token(['models:read'])}"})
    assert read_only.status_code == 403 and "infer" in read_only.json()["error"]
    other_model = _infer(secured, {"Authorization": f"Bearer {_token(['infer'], ['digits'])}"})
    assert other_model.status_code == 403
    ok = _infer(secured, {"Authorization": f"Bearer {_token(['infer'], ['sim*'])}"})
    assert ok.status_code == 200, ok.text
    # Health and metrics stay open for probes and Prometheus.
    assert httpx.get(f"http://{secured.http}/v2/health/ready").status_code == 200
    assert httpx.get(f"http://{secured.http}/metrics").status_code == 200
    assert "mlinfer_auth_failures_total" in httpx.get(f"http://{secured.http}/metrics").text


def test_api_key_and_admin_scope(secured: ServerThread) -> None:
    assert _infer(secured, {"X-API-Key": API_KEY}).status_code == 200
    assert _infer(secured, {"X-API-Key": API_KEY}, model="digits").status_code == 403
    assert _infer(secured, {"X-API-Key": "mlk_" + "x" * 40}).status_code == 401
    unload = httpx.post(
        f"http://{secured.http}/v2/repository/models/simple/unload", headers={"X-API-Key": API_KEY}
    )
    assert unload.status_code == 403
    admin = {"Authorization": f"Bearer {_token(['models:admin'])}"}
    index = httpx.post(f"http://{secured.http}/v2/repository/index", headers=admin)
    assert {r["name"] for r in index.json()} >= {"simple", "digits"}
    narrow = {"Authorization": f"Bearer {_token(['models:read'], ['digits'])}"}
    index = httpx.post(f"http://{secured.http}/v2/repository/index", headers=narrow)
    assert {r["name"] for r in index.json()} == {"digits"}


def _grpc_infer(srv: ServerThread, metadata: tuple[tuple[str, str], ...]) -> Any:
    request = pb.ModelInferRequest(model_name="simple")
    for name in ("INPUT0", "INPUT1"):
        t = request.inputs.add(name=name, datatype="INT32", shape=[1, 16])
        t.contents.int_contents.extend([1] * 16)
    with grpc.insecure_channel(srv.grpc) as channel:
        return pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, metadata=metadata)


def test_grpc_unauthenticated_and_permission_denied(secured: ServerThread) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _grpc_infer(secured, ())
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as info:
        _grpc_infer(secured, (("authorization", f"Bearer {_token(['models:read'])}"),))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    reply = _grpc_infer(secured, (("x-api-key", API_KEY),))
    assert reply.model_name == "simple"


def test_jwks_rotation(sample_repository: Path) -> None:
    old, new = SigningKey.rsa("k1"), SigningKey.ec("k2")
    with JwksServer([old.public_jwk()]) as jwks:
        settings = settings_for(
            sample_repository,
            auth_mode="required",
            auth_jwks_url=jwks.url,
            auth_jwt_audience="mlinfer",
            auth_jwks_min_refetch_seconds=0,
            startup_models=["simple"],
        )

        def token(key: SigningKey) -> str:
            now = int(time.time())
            return key.sign(
                {"sub": "cam", "aud": "mlinfer", "scope": "infer", "iat": now, "exp": now + 600}
            )

        with ServerThread(settings) as srv:
            assert _infer(srv, {"Authorization": f"Bearer {token(old)}"}).status_code == 200
            fetches = jwks.fetch_count
            jwks.set_keys([new.public_jwk()])  # the identity provider rotates its key
            # An unknown kid makes mlinfer refetch the JWKS and accept the new key.
            assert _infer(srv, {"Authorization": f"Bearer {token(new)}"}).status_code == 200
            assert jwks.fetch_count > fetches
            # The retired key is gone from the JWKS: its tokens are refused.
            assert _infer(srv, {"Authorization": f"Bearer {token(old)}"}).status_code == 401


def test_rate_limit_429_and_recovery(sample_repository: Path) -> None:
    settings = settings_for(
        sample_repository,
        # One token every 2 s: three requests on a loaded machine never span a refill
        # (at 5/s they took ~200 ms, the refill interval, and the third was let through).
        ratelimit_identity_rps=0.5,
        ratelimit_identity_burst=2,
        startup_models=["simple"],
    )
    with ServerThread(settings) as srv:
        statuses = [_infer(srv, {}).status_code for _ in range(3)]
        assert statuses[:2] == [200, 200] and statuses[2] == 429
        limited = _infer(srv, {})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "rate limit" in limited.json()["error"]
        # Tokens refill at 0.5/s: the client is served again once one is back.
        wait_until(lambda: _infer(srv, {}).status_code == 200, "rate limit recovery")
        metrics = httpx.get(f"http://{srv.http}/metrics").text
        assert "mlinfer_rate_limited_requests_total" in metrics
