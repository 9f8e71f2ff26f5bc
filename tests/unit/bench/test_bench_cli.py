"""``mlinfer bench`` end to end against an in-process server on the sample repository."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlinfer.cli.main import main
from tests.support.servers import ServerThread, settings_for


@pytest.fixture(scope="module")
def bench_server(sample_repository: Path) -> Iterator[ServerThread]:
    with ServerThread(settings_for(sample_repository), rest=True, grpc=True) as srv:
        yield srv


@pytest.mark.parametrize(
    ("protocol", "encoding"), [("http", "binary"), ("http", "json"), ("grpc", "binary")]
)
def test_bench_measures_simple_without_errors(
    bench_server: ServerThread, tmp_path: Path, protocol: str, encoding: str
) -> None:
    url = bench_server.grpc if protocol == "grpc" else bench_server.http
    stem = tmp_path / "result"
    code = main(
        [
            "bench",
            "simple",
            "-u",
            url,
            "-i",
            protocol,
            "--encoding",
            encoding,
            "-c",
            "1,4",
            "-n",
            "40",
            "--warmup",
            "0",
            "-q",
            "-o",
            str(stem),
        ]
    )
    assert code == 0
    doc = json.loads(stem.with_suffix(".json").read_text())
    assert [level["concurrency"] for level in doc["levels"]] == [1, 4]
    for level in doc["levels"]:
        assert level["errors"] == 0
        assert level["requests"] >= 40
        assert level["requests_per_s"] > 0
        assert level["latency_ms"]["p50"] > 0
    assert stem.with_suffix(".csv").read_text().count("\n") == 3  # header + 2 levels


def test_bench_batches_and_spreads_over_worker_processes(
    bench_server: ServerThread, tmp_path: Path
) -> None:
    stem = tmp_path / "cnn"
    code = main(
        [
            "bench",
            "image_cnn",
            "-u",
            bench_server.http,
            "-b",
            "4",
            "-c",
            "2",
            "-n",
            "24",
            "--warmup",
            "0",
            "--workers",
            "2",
            "-q",
            "-o",
            str(stem),
        ]
    )
    assert code == 0
    (level,) = json.loads(stem.with_suffix(".json").read_text())["levels"]
    assert level["errors"] == 0
    assert level["infer_per_s"] == pytest.approx(4 * level["requests_per_s"])


def test_bench_counts_failed_requests(bench_server: ServerThread, tmp_path: Path) -> None:
    # token ids far outside text_encoder's 1000-word vocabulary: every request fails
    stem = tmp_path / "bad"
    code = main(
        [
            "bench",
            "text_encoder",
            "-u",
            bench_server.http,
            "--int-range",
            "5000:6000",
            "-d",
            "0.3",
            "--warmup",
            "0",
            "-q",
            "-o",
            str(stem),
        ]
    )
    assert code == 1
    (level,) = json.loads(stem.with_suffix(".json").read_text())["levels"]
    assert level["requests"] == 0
    assert level["errors"] > 0
    assert all(message.startswith("HTTP ") for message in level["error_messages"])


def test_bench_fails_cleanly_on_an_unknown_model(
    bench_server: ServerThread, tmp_path: Path
) -> None:
    stem = tmp_path / "none"
    code = main(["bench", "no_such_model", "-u", bench_server.http, "-q", "-o", str(stem)])
    assert code == 1
    assert not stem.with_suffix(".json").exists()  # nothing was measured
