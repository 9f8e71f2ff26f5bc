"""``POST /infer`` (and its siblings): credentials before the body, the size limit while
reading, 400s that name the problem, and classification as structured results."""

from __future__ import annotations

import gzip
import io
import json
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from mlinfer.auth import issue_token
from tests.support.servers import ServerThread, settings_for

SECRET = "c" * 48
LIMIT = 64 * 1024
PIXELS = [[0.0, 0.0, 0.3, 0.8, 0.8, 0.1, 0.0, 0.0] * 8]  # one 8x8 digit, batch of 1


@pytest.fixture(scope="module")
def open_server(sample_repository: Path) -> Iterator[ServerThread]:
    settings = settings_for(sample_repository, max_request_bytes=LIMIT, image_max_bytes=LIMIT)
    with ServerThread(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def secured(sample_repository: Path) -> Iterator[ServerThread]:
    settings = settings_for(
        sample_repository, max_request_bytes=LIMIT, auth_mode="required", auth_jwt_secret=SECRET
    )
    with ServerThread(settings) as srv:
        yield srv


def _raw_exchange(address: str, head: bytes, parts: Iterable[bytes]) -> tuple[int, bytes]:
    """Send a request head and as much of ``parts`` as the server reads, then its answer.

    The body is never finished, so only a server that answers before reading it all (auth
    first, limit while reading) answers at all; the timeout guards against a hang only.
    """
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head)
        try:
            for part in parts:
                sock.sendall(part)
        except OSError:
            pass  # the server answered and closed while we were still sending
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        headers, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in headers.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(headers.split(b" ", 2)[1]), body


def _head(path: str, *lines: str) -> bytes:
    return "\r\n".join([f"POST {path} HTTP/1.1", "Host: test", *lines, "", ""]).encode()


def _chunks(count: int, size: int = 4096) -> Iterator[bytes]:
    for _ in range(count):
        yield b"%x\r\n%s\r\n" % (size, b" " * size)


# --- defect 1: credentials first, the limit while reading ---------------------------------


def test_malformed_body_without_credentials_is_401(secured: ServerThread) -> None:
    url = f"http://{secured.http}/infer"
    for body in (b"{not json", b'{"inputs": 5}', b"[]"):
        response = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 401, (body, response.text)
        assert response.headers["www-authenticate"].startswith('Bearer realm="mlinfer"')


def test_image_route_checks_credentials_before_its_query(secured: ServerThread) -> None:
    url = f"http://{secured.http}/infer/image"
    for query in ("", "?model=image_cnn&top_k=abc", "?model=image_cnn&priority=-1"):
        response = httpx.post(url + query, content=b"not an image")
        assert response.status_code == 401, (query, response.text)
    token = issue_token(SECRET, "alice", ["infer"], ttl_s=600)
    checked = httpx.post(
        url + "?model=image_cnn&top_k=abc",
        content=b"not an image",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert checked.status_code == 400 and "top_k" in checked.json()["error"]


def test_credentials_are_checked_before_the_body_is_read(secured: ServerThread) -> None:
    # 1 GB announced, 4 KB sent: the answer comes without the body.
    head = _head("/infer", "Content-Type: application/json", "Content-Length: 1000000000")
    status, body = _raw_exchange(secured.http, head, [b"{" + b" " * 4095])
    assert status == 401, body


def test_oversized_body_is_413_while_reading(open_server: ServerThread) -> None:
    declared = _head("/infer", "Content-Type: application/json", "Content-Length: 1000000000")
    status, body = _raw_exchange(open_server.http, declared, [])
    assert status == 413 and b"MLINFER_MAX_REQUEST_BYTES" in body, body
    # Chunked, no length announced: refused once the limit is passed, body still unfinished.
    chunked = _head("/infer", "Content-Type: application/json", "Transfer-Encoding: chunked")
    status, body = _raw_exchange(open_server.http, chunked, _chunks(4 * LIMIT // 4096))
    assert status == 413 and b"exceeds the limit of 65536 bytes" in body, body


def test_oversized_body_with_credentials_is_413_before_parsing(secured: ServerThread) -> None:
    token = issue_token(SECRET, "alice", ["infer"], ttl_s=600)
    response = httpx.post(
        f"http://{secured.http}/infer",
        content=b"{" + b" " * (2 * LIMIT),  # not even JSON: the limit answers first
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text


def test_gzip_bomb_on_infer_is_413(open_server: ServerThread) -> None:
    bomb = gzip.compress(b" " * (LIMIT * 20))
    response = httpx.post(
        f"http://{open_server.http}/infer", content=bomb, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 413, response.text


def test_multipart_image_upload_is_bounded_while_reading(open_server: ServerThread) -> None:
    # No Content-Length: the multipart parser must not buffer an unbounded upload.
    boundary = "b0undary"
    head = _head(
        "/infer/image?model=image_cnn",
        f"Content-Type: multipart/form-data; boundary={boundary}",
        "Transfer-Encoding: chunked",
    )
    start = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    parts = [b"%x\r\n%s\r\n" % (len(start), start), *_chunks(8 * LIMIT // 4096)]
    status, body = _raw_exchange(open_server.http, head, parts)
    assert status == 413 and b"MLINFER_IMAGE_MAX_BYTES" in body, body


def test_multipart_image_upload_within_the_limit_still_works(open_server: ServerThread) -> None:
    png = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(png, format="PNG")
    response = httpx.post(
        f"http://{open_server.http}/infer/image",
        params={"model": "image_cnn", "top_k": 2},
        files={"image": ("x.png", png.getvalue(), "image/png")},
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["classifications"]) == 2


def test_multi_member_gzip_on_v2_infer(open_server: ServerThread) -> None:
    doc = json.dumps(
        {
            "inputs": [
                {"name": n, "datatype": "INT32", "shape": [1, 16], "data": list(range(16))}
                for n in ("INPUT0", "INPUT1")
            ]
        }
    ).encode()
    body = gzip.compress(doc[:40]) + gzip.compress(doc[40:])
    response = httpx.post(
        f"http://{open_server.http}/v2/models/simple/infer",
        content=body,
        headers={"Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == [2 * i for i in range(16)]


# --- defect 6: ragged lists ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pixels", "problem"),
    [
        (
            [[0.1, 0.1], [0.2]],
            "input 'pixels' is ragged: its lists at depth 2 have lengths 1 and 2",
        ),
        ([[0.1, [0.1]], [0.2, 0.3]], "input 'pixels' mixes lists and single values at depth 3"),
        ([0.1, [0.2]], "input 'pixels' mixes lists and single values at depth 2"),
    ],
)
def test_ragged_lists_are_400_naming_the_input(
    open_server: ServerThread, pixels: object, problem: str
) -> None:
    response = httpx.post(
        f"http://{open_server.http}/infer",
        json={"model_name": "digits", "inputs": {"pixels": pixels}},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(problem), response.text


def test_ragged_bytes_input_is_400(open_server: ServerThread) -> None:
    response = httpx.post(
        f"http://{open_server.http}/infer",
        json={"model_name": "identity_bytes", "inputs": {"INPUT0": [["a", "b"], ["c"]]}},
    )
    assert response.status_code == 400, response.text
    assert "input 'INPUT0' is ragged" in response.json()["error"]


# --- defect 19: structured classification ------------------------------------------------------


def test_classification_answers_structured_results(open_server: ServerThread) -> None:
    url = f"http://{open_server.http}/infer"
    body = {"model_name": "digits", "top_k": 3, "inputs": {"pixels": PIXELS}}
    response = httpx.post(url, json=body)
    assert response.status_code == 200, response.text
    output = response.json()["outputs"]["probabilities"]
    assert output["shape"] == [1, 3] and "data" not in output
    (top,) = output["classifications"]  # one list per batch item
    assert [sorted(c) for c in top] == [["index", "label", "score"]] * 3
    assert top[0]["score"] >= top[1]["score"] >= top[2]["score"]
    assert all(isinstance(c["index"], int) and isinstance(c["label"], str) for c in top)
    # The same answer as the full output, best classes first.
    full = httpx.post(url, json={"model_name": "digits", "inputs": {"pixels": PIXELS}}).json()
    scores = full["outputs"]["probabilities"]["data"]
    best = sorted(range(len(scores)), key=lambda i: -scores[i])[:3]
    assert [c["index"] for c in top] == best
    assert [c["score"] for c in top] == pytest.approx([scores[i] for i in best], abs=1e-6)


def test_triton_classification_strings_are_one_parameter_away(open_server: ServerThread) -> None:
    body = {
        "model_name": "digits",
        "top_k": 2,
        "classification_format": "triton",
        "inputs": {"pixels": PIXELS},
    }
    response = httpx.post(f"http://{open_server.http}/infer", json=body)
    assert response.status_code == 200, response.text
    output = response.json()["outputs"]["probabilities"]
    assert output["datatype"] == "BYTES" and output["shape"] == [1, 2]
    score, index, label = output["data"][0].split(":")
    assert float(score) > 0 and index.isdigit() and label
    wrong = httpx.post(
        f"http://{open_server.http}/infer", json={**body, "classification_format": "xml"}
    )
    assert wrong.status_code == 400 and "classification_format" in wrong.json()["error"]


def test_openapi_documents_the_body_and_structured_answer(open_server: ServerThread) -> None:
    doc = httpx.get(f"http://{open_server.http}/openapi.json").json()
    operation = doc["paths"]["/infer"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/SimpleInferRequest"}
    request = doc["components"]["schemas"]["SimpleInferRequest"]
    assert request["properties"]["classification_format"]["enum"] == ["structured", "triton"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/SimpleInferResponse"}
    result = doc["components"]["schemas"]["ClassificationResult"]
    assert set(result["required"]) == {"label", "index", "score"}
