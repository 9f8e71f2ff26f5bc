"""Load generator pieces: percentiles, aggregation, payloads, HTTP parsing, options, files."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from tritonclient.grpc import service_pb2

from mlinfer.bench.cli import _int_range, _levels, _shape, add_arguments
from mlinfer.bench.inputs import (
    ModelMeta,
    TensorMeta,
    grpc_payload,
    http_payload,
    make_inputs,
    model_meta_from_json,
    perf_analyzer_input_data,
    resolve_shape,
    tensor_bytes,
)
from mlinfer.bench.loadgen import LoadConfig, _split_requests, split_concurrency
from mlinfer.bench.results import write_csv, write_results
from mlinfer.bench.stats import WorkerSamples, aggregate, percentile
from mlinfer.bench.transports import (
    RequestError,
    http_request_bytes,
    parse_response_head,
    split_host_port,
)

SIMPLE = ModelMeta(
    "simple",
    "1",
    8,
    (TensorMeta("INPUT0", "INT32", (-1, 16)), TensorMeta("INPUT1", "INT32", (-1, 16))),
    (TensorMeta("OUTPUT0", "INT32", (-1, 16)), TensorMeta("OUTPUT1", "INT32", (-1, 16))),
)


# -- statistics ---------------------------------------------------------------------------
def test_percentiles_interpolate_linearly() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1
    assert percentile(values, 100) == 100
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_aggregate_adds_rates_and_pools_latencies() -> None:
    a = WorkerSamples(latencies_ns=[1_000_000, 3_000_000], window_s=2.0, cpu_s=0.01)
    b = WorkerSamples(latencies_ns=[2_000_000] * 4, window_s=2.0, cpu_s=0.02)
    b.error("HTTP 500: boom")
    b.error("HTTP 500: boom")
    result = aggregate(
        [a, b], model="m", protocol="http", encoding="binary", batch_size=4, concurrency=3
    )
    assert result.requests == 6
    assert result.errors == 2
    assert result.requests_per_s == pytest.approx(1.0 + 2.0)
    assert result.infer_per_s == pytest.approx(12.0)
    assert result.latency_ms["p50"] == pytest.approx(2.0)
    assert result.latency_ms["min"] == pytest.approx(1.0)
    assert result.latency_ms["max"] == pytest.approx(3.0)
    assert result.error_messages == {"HTTP 500: boom": 2}
    assert result.client_cpu_ms_per_request == pytest.approx(30.0 / 8)
    row = result.csv_row()
    assert row["latency_p50_ms"] == pytest.approx(2.0)
    assert row["first_error"] == "HTTP 500: boom"
    assert "latency_ms" not in row


def test_aggregate_without_samples_has_no_latencies() -> None:
    result = aggregate(
        [WorkerSamples()],
        model="m",
        protocol="grpc",
        encoding="protobuf",
        batch_size=1,
        concurrency=1,
    )
    assert result.requests == 0
    assert result.requests_per_s == 0
    assert result.latency_ms["p99"] is None
    assert result.client_cpu_ms_per_request is None


def test_concurrency_and_request_counts_split_over_workers() -> None:
    assert split_concurrency(8, 3) == [3, 3, 2]
    assert split_concurrency(1, 2) == [1, 0]
    assert _split_requests(100, [3, 3, 2]) == [38, 37, 25]
    assert _split_requests(10, [1, 0]) == [10, 0]
    assert _split_requests(None, [1, 1]) == [None, None]


# -- inputs and payloads -------------------------------------------------------------------
def test_metadata_documents_make_a_model_meta() -> None:
    meta = model_meta_from_json(
        {
            "name": "m",
            "versions": ["1", "2"],
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}],
            "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}],
        },
        {"max_batch_size": 4},
    )
    assert meta == ModelMeta(
        "m", "2", 4, (TensorMeta("x", "FP32", (-1, 3)),), (TensorMeta("y", "FP32", (-1, 2)),)
    )


def test_shapes_resolve_batch_overrides_and_dynamic_dims() -> None:
    text = ModelMeta("t", "", 8, (TensorMeta("ids", "INT64", (-1, -1)),), ())
    (ids,) = text.inputs
    assert resolve_shape(ids, text, 4, {}, dynamic_dim=16) == (4, 16)
    assert resolve_shape(ids, text, 2, {"ids": (128,)}, dynamic_dim=16) == (2, 128)
    with pytest.raises(ValueError, match="max_batch_size"):
        resolve_shape(ids, text, 9, {}, 16)
    with pytest.raises(ValueError, match="dims given"):
        resolve_shape(ids, text, 1, {"ids": (1, 2)}, 16)
    flat = ModelMeta("f", "", 0, (TensorMeta("x", "FP32", (3, -1)),), ())
    assert resolve_shape(flat.inputs[0], flat, 1, {}, 5) == (3, 5)
    with pytest.raises(ValueError, match="does not batch"):
        resolve_shape(flat.inputs[0], flat, 2, {}, 5)


def test_random_integers_stay_in_range() -> None:
    meta = ModelMeta("b", "", 8, (TensorMeta("ids", "INT64", (-1, 128)),), ())
    ids = make_inputs(meta, 8, int_range=(0, 2))["ids"]
    assert ids.dtype == np.int64 and ids.shape == (8, 128)
    assert set(np.unique(ids)) <= {0, 1}


def test_http_binary_payload_carries_header_length_and_raw_tensors() -> None:
    arrays = make_inputs(SIMPLE, 2)
    payload = http_payload(SIMPLE, arrays, binary=True)
    headers = dict(payload.headers)
    size = int(headers["Inference-Header-Content-Length"])
    header = json.loads(payload.body[:size])
    assert payload.path == "/v2/models/simple/versions/1/infer"
    assert [i["parameters"]["binary_data_size"] for i in header["inputs"]] == [128, 128]
    assert header["outputs"][0] == {"name": "OUTPUT0", "parameters": {"binary_data": True}}
    blob = payload.body[size:]
    np.testing.assert_array_equal(
        np.frombuffer(blob[:128], np.int32).reshape(2, 16), arrays["INPUT0"]
    )


def test_http_json_payload_lists_the_data() -> None:
    arrays = make_inputs(SIMPLE, 1)
    payload = http_payload(SIMPLE, arrays, binary=False)
    doc = json.loads(payload.body)
    assert doc["inputs"][0]["data"] == arrays["INPUT0"].reshape(-1).tolist()
    assert "outputs" not in doc
    assert dict(payload.headers)["Content-Type"] == "application/json"


def test_grpc_payload_is_a_model_infer_request_with_raw_contents() -> None:
    arrays = make_inputs(SIMPLE, 3)
    request = service_pb2.ModelInferRequest.FromString(grpc_payload(SIMPLE, arrays).body)
    assert request.model_name == "simple" and request.model_version == "1"
    assert [list(t.shape) for t in request.inputs] == [[3, 16], [3, 16]]
    assert request.raw_input_contents[1] == arrays["INPUT1"].tobytes()
    assert [o.name for o in request.outputs] == ["OUTPUT0", "OUTPUT1"]


def test_bytes_tensors_use_tritons_length_prefix() -> None:
    array = np.array([b"ab", b"c"], dtype=np.object_)
    assert tensor_bytes(array) == b"\x02\x00\x00\x00ab\x01\x00\x00\x00c"


def test_perf_analyzer_input_data_is_one_batch_one_sample() -> None:
    doc = perf_analyzer_input_data(make_inputs(SIMPLE, 4))
    (step,) = doc["data"]
    assert len(step["INPUT0"]["content"]) == 16
    assert step["INPUT0"]["shape"] == [16]


# -- HTTP framing -------------------------------------------------------------------------
def test_request_bytes_are_a_keep_alive_post() -> None:
    payload = http_payload(SIMPLE, make_inputs(SIMPLE, 1))
    raw = http_request_bytes("127.0.0.1", 8000, payload)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v2/models/simple/versions/1/infer HTTP/1.1"
    assert f"Content-Length: {len(payload.body)}" in lines
    assert body == payload.body


def test_response_heads_parse() -> None:
    assert parse_response_head(b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n") == (
        200,
        12,
        False,
    )
    assert parse_response_head(
        b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
    ) == (400, None, True)
    with pytest.raises(RequestError):
        parse_response_head(b"garbage\r\n\r\n")


def test_urls_split_into_host_and_port() -> None:
    assert split_host_port("127.0.0.1:8000") == ("127.0.0.1", 8000)
    assert split_host_port("http://localhost:9/") == ("localhost", 9)
    with pytest.raises(ValueError):
        split_host_port("localhost")


# -- options and config ---------------------------------------------------------------------
def test_command_line_options_parse() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["bert", "-c", "1,8,32", "--shape", "input_ids:128", "--int-range", "0:100", "-n", "50"]
    )
    assert args.concurrency == (1, 8, 32)
    assert args.shape == [("input_ids", (128,))]
    assert args.int_range == (0, 100)
    assert args.requests == 50
    assert _levels("4") == (4,)
    assert _shape("a:b:1,2") == ("a:b", (1, 2))
    for bad, fn in (("0,1", _levels), ("x", _shape), ("5:1", _int_range)):
        with pytest.raises(argparse.ArgumentTypeError):
            fn(bad)


def test_load_config_rejects_impossible_combinations() -> None:
    with pytest.raises(ValueError, match="JSON"):
        LoadConfig(url="h:1", model="m", protocol="grpc", encoding="json")
    with pytest.raises(ValueError, match="protocol"):
        LoadConfig(url="h:1", model="m", protocol="udp")
    with pytest.raises(ValueError, match="concurrency"):
        LoadConfig(url="h:1", model="m", concurrency=(0,))
    assert LoadConfig(url="h:1", model="m", protocol="grpc").effective_encoding == "protobuf"


# -- result files ------------------------------------------------------------------------
def test_result_files_hold_every_level(tmp_path: Path) -> None:
    samples = WorkerSamples(latencies_ns=[1_000_000, 2_000_000], window_s=1.0)
    level = aggregate(
        [samples],
        model="simple",
        protocol="http",
        encoding="binary",
        batch_size=1,
        concurrency=2,
    )
    config = LoadConfig(url="h:1", model="simple", concurrency=(2,))
    json_path, csv_path = write_results(tmp_path / "out" / "run", config, [level, level])
    doc = json.loads(json_path.read_text())
    assert doc["tool"] == "mlinfer bench"
    assert doc["config"]["model"] == "simple"
    assert len(doc["levels"]) == 2 and doc["levels"][0]["requests_per_s"] == 2.0
    assert "cpu_model" in doc["machine"]
    with csv_path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["concurrency"] == "2" and float(rows[0]["latency_p50_ms"]) == 1.5


def test_csv_header_is_the_union_of_row_keys(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    write_csv(path, [{"a": 1, "b": None}, {"c": 0.5}])
    assert path.read_text().splitlines() == ["a,b,c", "1,,", ",,0.5"]
