"""WebSocket streams end to end with the ``websockets`` client: ordering, both flow-control
policies, bad frames answered in-stream, handshake refusals, limits, disconnects, images."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from PIL import Image
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from mlinfer.auth import hash_api_key, issue_token
from mlinfer.samples.writer import write_model
from tests.support.servers import ServerThread, settings_for, wait_until
from tests.support.slow_model import slow_model

SECRET = "w" * 48
API_KEY = "mlk_" + "c" * 40


def _simple(a: int, b: int, request_id: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = {
        "inputs": [
            {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": [a] * 16},
            {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": [b] * 16},
        ]
    }
    if request_id:
        doc["id"] = request_id
    return doc


def _binary_simple(a: int, b: int) -> bytes:
    """The binary tensor layout: header length, JSON header, raw INT32 tensors; binary out."""
    tensors = np.full(16, a, np.int32).tobytes() + np.full(16, b, np.int32).tobytes()
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": n,
                    "datatype": "INT32",
                    "shape": [1, 16],
                    "parameters": {"binary_data_size": 64},
                }
                for n in ("INPUT0", "INPUT1")
            ],
            "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}],
        }
    )
    return struct.pack("<I", len(header)) + header + tensors


def _binary_answer(frame: bytes) -> tuple[dict[str, Any], bytes]:
    (length,) = struct.unpack_from("<I", frame)
    return orjson.loads(frame[4 : 4 + length]), frame[4 + length :]


_SLOW = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [0] * 4}]}


@pytest.fixture(scope="module")
def streams(sample_repository: Path) -> Iterator[ServerThread]:
    with ServerThread(settings_for(sample_repository, websocket_max_message_bytes=65536)) as srv:
        yield srv


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    repo = tmp_path_factory.mktemp("slow") / "repo"
    write_model(slow_model(), repo)
    settings = settings_for(repo, websocket_max_in_flight=1, websocket_max_waiting=2)
    with ServerThread(settings) as srv:
        yield srv


def _url(srv: ServerThread, path: str) -> str:
    return f"ws://{srv.http}{path}"


async def _json(ws: ClientConnection) -> dict[str, Any]:
    message = await ws.recv()
    assert isinstance(message, str), "expected a JSON text frame"
    doc: dict[str, Any] = orjson.loads(message)
    return doc


async def test_answers_in_order_json_and_binary(streams: ServerThread) -> None:
    async with connect(_url(streams, "/v2/models/simple/infer/ws")) as ws:
        for i in range(12):
            if i % 2:
                await ws.send(_binary_simple(i, 1))
            else:
                await ws.send(orjson.dumps(_simple(i, 2, f"req-{i}")).decode())
        for i in range(12):
            message = await ws.recv()
            if i % 2:
                assert isinstance(message, bytes)
                header, tensors = _binary_answer(message)
                assert header["seq"] == i + 1 and header["dropped"] == 0
                assert np.frombuffer(tensors, np.int32).tolist() == [i + 1] * 16
            else:
                assert isinstance(message, str)
                doc = orjson.loads(message)
                assert doc["seq"] == i + 1 and doc["id"] == f"req-{i}"
                out = {o["name"]: o["data"] for o in doc["outputs"]}
                assert out["OUTPUT0"] == [i + 2] * 16 and out["OUTPUT1"] == [i - 2] * 16
                assert doc["model_version"] == "1"


async def test_bad_frames_get_error_frames_and_the_stream_stays_usable(
    streams: ServerThread,
) -> None:
    header = orjson.dumps(_simple(1, 1))
    bad_frames: list[tuple[str | bytes, str]] = [
        (struct.pack("<I", len(header) + 999) + header, "inference header size"),
        (b"\x01\x00", "shorter than its 4-byte header length"),
        ("{not json", "failed to parse"),
        (orjson.dumps({"inputs": [{"name": "NOPE", "datatype": "INT32", "shape": [1, 16],
                                   "data": [0] * 16}]}).decode(), "NOPE"),
    ]  # fmt: skip
    async with connect(_url(streams, "/v2/models/simple/infer/ws")) as ws:
        for seq, (frame, problem) in enumerate(bad_frames, start=1):
            await ws.send(frame)
            error = await _json(ws)
            assert error["seq"] == seq and error["status"] == 400, error
            assert error["code"] == "INVALID_ARGUMENT" and problem in error["error"], error
        await ws.send(orjson.dumps(_simple(3, 4)).decode())
        ok = await _json(ws)
        assert ok["seq"] == len(bad_frames) + 1 and "error" not in ok


async def test_unknown_model_or_version_is_refused_at_the_handshake(
    streams: ServerThread,
) -> None:
    for path in ("/v2/models/nope/infer/ws", "/v2/models/simple/versions/7/infer/ws"):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(_url(streams, path)):
                pass
        assert refused.value.response.status_code == 404
        assert b"error" in refused.value.response.body
    with pytest.raises(InvalidStatus) as not_an_image_model:
        async with connect(_url(streams, "/v2/models/simple/infer/image/ws")):
            pass
    assert not_an_image_model.value.response.status_code == 400
    with pytest.raises(InvalidStatus) as bad_policy:
        async with connect(_url(streams, "/v2/models/simple/infer/ws?policy=fastest")):
            pass
    assert bad_policy.value.response.status_code == 400


async def test_oversized_message_closes_with_1009(streams: ServerThread) -> None:
    async with connect(_url(streams, "/v2/models/simple/infer/ws"), max_size=None) as ws:
        await ws.send(b"\x00" * 70_000)
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_frames_are_counted_in_metrics(streams: ServerThread) -> None:
    route = "/v2/models/{model}/infer/ws"

    def count(status: str) -> float:
        text = httpx.get(f"http://{streams.http}/metrics").text
        pattern = (
            rf'^mlinfer_requests_total{{protocol="websocket",route="{re.escape(route)}",'
            rf'status="{status}"}} (\S+)$'
        )
        match = re.search(pattern, text, re.M)
        return float(match.group(1)) if match else 0.0

    ok, bad = count("200"), count("400")
    async with connect(_url(streams, "/v2/models/simple/infer/ws")) as ws:
        for _ in range(5):
            await ws.send(orjson.dumps(_simple(1, 1)).decode())
        await ws.send("[]")
        for _ in range(6):
            await ws.recv()
    assert count("200") == ok + 5
    assert count("400") == bad + 1


async def test_image_stream_classifies_png_frames(streams: ServerThread) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (40, 48, 3), np.uint8)).save(
        buffer, "PNG"
    )
    async with connect(_url(streams, "/v2/models/image_cnn/infer/image/ws?top_k=3")) as ws:
        await ws.send(buffer.getvalue())
        await ws.send(b"not an image")
        await ws.send("text is not an image")
        await ws.send(buffer.getvalue())
        first, broken, text, again = [await _json(ws) for _ in range(4)]
    assert first["seq"] == 1 and len(first["classifications"]) == 3, first
    assert broken["seq"] == 2 and broken["status"] == 400
    assert text["seq"] == 3 and "binary frames" in text["error"]
    assert again["seq"] == 4 and again["classifications"] == first["classifications"]


async def test_queue_policy_answers_every_frame_in_order(slow_server: ServerThread) -> None:
    frames = 8  # more than max_in_flight (1) + max_waiting (2): the reader has to wait
    async with connect(_url(slow_server, "/v2/models/slow/infer/ws?policy=queue")) as ws:
        for _ in range(frames):
            await ws.send(orjson.dumps(_SLOW).decode())
        answers = [await _json(ws) for _ in range(frames)]
    assert [a["seq"] for a in answers] == list(range(1, frames + 1))
    assert all(a["dropped"] == 0 and "error" not in a for a in answers)


async def test_latest_policy_drops_older_waiting_frames(slow_server: ServerThread) -> None:
    frames = 10
    async with connect(_url(slow_server, "/v2/models/slow/infer/ws?policy=latest")) as ws:
        for _ in range(frames):
            await ws.send(orjson.dumps(_SLOW).decode())
        answers = []
        while not answers or answers[-1]["seq"] != frames:
            answers.append(await _json(ws))
    seqs = [a["seq"] for a in answers]
    assert seqs == sorted(seqs) and seqs[-1] == frames  # the newest frame is always served
    assert answers[-1]["dropped"] > 0, "a burst faster than the model must drop frames"
    assert answers[-1]["dropped"] + len(answers) == frames  # answered or counted, none lost


async def test_disconnect_mid_inference_leaves_nothing_behind(
    slow_server: ServerThread,
) -> None:
    server = slow_server.server
    assert server is not None
    streams = server_streams(slow_server)
    async with connect(_url(slow_server, "/v2/models/slow/infer/ws")) as ws:
        for _ in range(3):
            await ws.send(orjson.dumps(_SLOW).decode())
        wait_until(lambda: server.dataplane.admission.stats.inflight == 1, "a frame in flight")
    # closed by the client with one frame in flight and two waiting
    wait_until(lambda: streams.open_streams == 0, "the stream's tasks ended")

    def leftovers() -> list[str]:
        async def names() -> list[str]:
            return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("ws-")]

        result: list[str] = slow_server.call(names)
        return result

    wait_until(lambda: not leftovers(), "no stream task left")
    wait_until(lambda: server.dataplane.admission.stats.inflight == 0, "admission released")
    assert server.dataplane.admission.stats.queued == 0
    async with connect(_url(slow_server, "/v2/models/slow/infer/ws")) as ws:
        await ws.send(orjson.dumps(_SLOW).decode())
        assert "outputs" in await _json(ws)


def server_streams(srv: ServerThread) -> Any:
    assert srv.server is not None and srv.server.streams is not None
    return srv.server.streams


@pytest.fixture(scope="module")
def secured(sample_repository: Path) -> Iterator[ServerThread]:
    settings = settings_for(
        sample_repository,
        auth_mode="required",
        auth_jwt_secret=SECRET,
        auth_api_keys=[
            {
                "name": "cam",
                "hash": hash_api_key(API_KEY),
                "scopes": ["infer"],
                "models": ["simple"],
            }
        ],
        ratelimit_identity_rps=0.001,
        ratelimit_identity_burst=3,
        startup_models=["simple", "digits"],
    )
    with ServerThread(settings) as srv:
        yield srv


async def test_handshake_auth_header_and_browser_subprotocol(secured: ServerThread) -> None:
    url = _url(secured, "/v2/models/simple/infer/ws")
    for headers, status in (
        ({}, 401),
        ({"Authorization": "Bearer not.a.token"}, 401),
        ({"Authorization": f"Bearer {issue_token(SECRET, 'bob', ['models:read'])}"}, 403),
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == status
    with pytest.raises(InvalidStatus) as other_model:
        async with connect(_url(secured, "/v2/models/digits/infer/ws"),
                           additional_headers={"X-API-Key": API_KEY}):  # fmt: skip
            pass
    assert other_model.value.response.status_code == 403
    async with connect(url, additional_headers={"X-API-Key": API_KEY}) as ws:
        await ws.send(orjson.dumps(_simple(1, 2)).decode())
        assert "outputs" in await _json(ws)
    token = issue_token(SECRET, "alice", ["infer"], ttl_s=600)
    async with connect(url, subprotocols=["mlinfer.v1", f"bearer.{token}"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "mlinfer.v1"  # never the credential
        await ws.send(orjson.dumps(_simple(1, 2)).decode())
        assert "outputs" in await _json(ws)


async def test_rate_limits_apply_per_frame_as_per_request(secured: ServerThread) -> None:
    token = issue_token(SECRET, "carol", ["infer"], ttl_s=600)  # burst 3: handshake + 2 frames
    url = _url(secured, "/v2/models/simple/infer/ws")
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        for _ in range(4):
            await ws.send(orjson.dumps(_simple(1, 1)).decode())
        answers = [await _json(ws) for _ in range(4)]
    assert ["error" in a for a in answers] == [False, False, True, True]
    assert answers[2]["status"] == 429 and "retry_after" in answers[2]


async def test_idle_stream_is_closed(sample_repository: Path) -> None:
    settings = settings_for(
        sample_repository, websocket_idle_seconds=0.3, startup_models=["simple"]
    )
    with ServerThread(settings) as srv:
        async with connect(_url(srv, "/v2/models/simple/infer/ws")) as ws:
            await ws.send(orjson.dumps(_simple(1, 1)).decode())
            assert "outputs" in await _json(ws)  # in use: not idle
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()  # then nothing sent: closed by the server
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "idle timeout")
        wait_until(lambda: server_streams(srv).open_streams == 0, "the idle stream ended")


async def test_a_stream_stays_on_its_version_across_a_rollout(tmp_path: Path) -> None:
    from mlinfer.samples.models import simple_add_sub

    repo = tmp_path / "repo"
    write_model(simple_add_sub(), repo)
    with ServerThread(settings_for(repo)) as srv:
        async with connect(_url(srv, "/v2/models/simple/infer/ws")) as ws:
            await ws.send(orjson.dumps(_simple(1, 1)).decode())
            assert (await _json(ws))["model_version"] == "1"
            shutil.copytree(repo / "simple" / "1", repo / "simple" / "2")
            async with httpx.AsyncClient(base_url=f"http://{srv.http}") as client:
                load = await client.post("/v2/repository/models/simple/load", json={})
            assert load.status_code == 200, load.text
            async with connect(_url(srv, "/v2/models/simple/infer/ws")) as fresh:
                await fresh.send(orjson.dumps(_simple(1, 1)).decode())
                assert (await _json(fresh))["model_version"] == "2"
            # the old stream never switches: version 1 is gone, so its frames fail in-stream
            await ws.send(orjson.dumps(_simple(1, 1)).decode())
            answer = await _json(ws)
            assert answer.get("model_version") != "2"
            assert answer["seq"] == 2 and answer["status"] in (400, 404, 503), answer
