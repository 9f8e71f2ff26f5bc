"""TLS for REST and gRPC from cert/key files, and the CORS policy from settings."""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc
import httpx
import pytest
from pydantic import ValidationError
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from tests.support.servers import ServerThread, settings_for
from tests.support.tls import self_signed


def test_tls_on_rest_and_grpc(sample_repository: Path, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    settings = settings_for(
        sample_repository, tls_cert_file=cert, tls_key_file=key, startup_models=["simple"]
    )
    with ServerThread(settings, rest=True, grpc=True) as srv:
        assert (
            httpx.get(
                f"https://{srv.http}/v2/health/ready",
                verify=ssl.create_default_context(cafile=str(cert)),
            ).status_code
            == 200
        )
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://{srv.http}/v2/health/ready")
        credentials = grpc.ssl_channel_credentials(cert.read_bytes())
        with grpc.secure_channel(srv.grpc, credentials) as channel:
            reply = pb_grpc.GRPCInferenceServiceStub(channel).ServerReady(pb.ServerReadyRequest())
        assert reply.ready


def test_tls_needs_both_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="must be given together"):
        settings_for(tmp_path, tls_cert_file=tmp_path / "c.pem")


def test_cors_policy(sample_repository: Path) -> None:
    settings = settings_for(
        sample_repository, cors_allow_origins=["https://app.example"], startup_models=["simple"]
    )
    with ServerThread(settings) as srv:
        allowed = httpx.options(
            f"http://{srv.http}/v2/models/simple/infer",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        denied = httpx.options(
            f"http://{srv.http}/v2/models/simple/infer",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in denied.headers
