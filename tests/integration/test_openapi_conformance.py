"""The served API matches its OpenAPI document (issue 15), and every error has Triton's shape
(issue 16).

Schemathesis reads /openapi.json of a live server and runs every check it has (``--checks
all``: server errors, documented statuses, content types, response schemas and headers,
schema-valid data accepted, schema-violating data rejected, undeclared methods answered 405
with ``Allow``, declared authentication enforced). Examples per operation and the seed are
fixed, so a run is bounded and repeatable; tests/integration/schemathesis.toml says where a
check is told what Triton answers.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from mlinfer.auth import issue_token
from tests.support.servers import ServerThread, settings_for

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 20
SEED = 15
SECRET = "s" * 48
OPERATIONS = 22


def _schemathesis() -> str:
    found = Path(sys.executable).with_name("schemathesis")
    return str(found) if found.exists() else shutil.which("schemathesis") or "schemathesis"


def _run_schemathesis(srv: ServerThread, report: Path, *extra: str) -> None:
    junit = report / "junit.xml"
    command = [
        _schemathesis(), "--no-color", "--config-file", str(CONFIG),
        "run", f"http://{srv.http}/openapi.json",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        # One worker: hypothesis parses lambda sources with `ast`, which is not thread-safe
        # on Python 3.11 ("AST constructor recursion depth mismatch" under --workers 2).
        "--workers", "1",
        "--request-timeout", "60",
        "--report", "junit", "--report-junit-path", str(junit),
        *extra,
    ]  # fmt: skip
    # cwd: schemathesis keeps a cache directory where it runs, never in the checkout.
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=report
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20000:]
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "0" and suite.get("errors") == "0", output[-20000:]
    assert suite.get("tests") == str(OPERATIONS), output[-5000:]  # every operation was run


@pytest.fixture(scope="module")
def private_repository(sample_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fuzzed loads and unloads change a repository's server, never the shared one's."""
    target = tmp_path_factory.mktemp("openapi") / "models"
    shutil.copytree(sample_repository, target)
    return target


@pytest.fixture(scope="module")
def open_server(private_repository: Path) -> Iterator[ServerThread]:
    with ServerThread(settings_for(private_repository)) as srv:
        yield srv


def test_schemathesis_finds_nothing_without_auth(open_server: ServerThread, tmp_path: Path) -> None:
    _run_schemathesis(open_server, tmp_path)


def test_schemathesis_finds_nothing_with_auth_required(
    private_repository: Path, tmp_path: Path
) -> None:
    settings = settings_for(private_repository, auth_mode="required", auth_jwt_secret=SECRET)
    token = issue_token(
        SECRET, "fuzzer", ["infer", "models:read", "models:admin"], models=["*"], ttl_s=3600
    )
    with ServerThread(settings) as srv:
        # ignored_auth sends each checked operation without and with wrong credentials too.
        _run_schemathesis(srv, tmp_path, "--header", f"Authorization: Bearer {token}")


# --- every error in Triton's shape --------------------------------------------------------


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = orjson.loads(response.content)
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    return str(body["error"])


def test_unknown_route_is_a_json_404(open_server: ServerThread) -> None:
    assert _error(httpx.get(f"http://{open_server.http}/v3/nothing"), 404) == "Not Found"


def test_wrong_method_is_a_json_405_with_allow(open_server: ServerThread) -> None:
    response = httpx.delete(f"http://{open_server.http}/v2/models/digits")
    assert _error(response, 405) == "Method Not Allowed"
    assert response.headers["allow"] == "GET"


def test_malformed_multipart_is_a_json_400(open_server: ServerThread) -> None:
    response = httpx.post(
        f"http://{open_server.http}/infer/image?model=image_cnn",
        content=b"no boundary here",
        headers={"content-type": "multipart/form-data"},
    )
    assert "boundary" in _error(response, 400).lower()


def test_versioned_routes_refuse_non_digit_versions_in_json(open_server: ServerThread) -> None:
    _error(httpx.get(f"http://{open_server.http}/v2/models/digits/versions/x1/ready"), 404)


def test_garbage_on_the_socket_is_a_json_400(open_server: ServerThread) -> None:
    host, port = open_server.http.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(b"\x16\x03\x01 not http\r\n\r\n")  # e.g. a TLS hello on a plain port
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/json" in head.lower()
    assert orjson.loads(body) == {"error": "Invalid HTTP request received."}
    # ...and the server keeps serving.
    assert httpx.get(f"http://{open_server.http}/v2/health/live").status_code == 200
