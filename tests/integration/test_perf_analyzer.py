"""Triton's own load generator, perf_analyzer, against mlinfer (embedded engine), unchanged.

perf_analyzer reads the model's metadata and config over the chosen protocol, generates
inputs from them and measures; short time windows keep each run brief. The numbers are
not claims (benchmarks make those): the point is that the stock tool works against mlinfer.
"""

from __future__ import annotations

import pytest

from tests.support.servers import ServerThread
from tests.support.triton.perf_analyzer import (
    PerfAnalyzerError,
    PerfAnalyzerNotFoundError,
    Protocol,
    perf_analyzer_version,
    run_perf_analyzer,
)


@pytest.fixture(scope="module")
def perf_analyzer() -> str:
    try:
        return perf_analyzer_version()
    except (PerfAnalyzerNotFoundError, PerfAnalyzerError) as exc:
        pytest.skip(f"perf_analyzer cannot run here: {exc}")


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize(
    ("model", "batch_size"), [("simple", 1), ("image_cnn", 4), ("text_encoder", 2)]
)
def test_perf_analyzer_against_mlinfer(
    perf_analyzer: str, server: ServerThread, protocol: Protocol, model: str, batch_size: int
) -> None:
    url = server.grpc if protocol == "grpc" else server.http
    text = model == "text_encoder"
    # Token ids must index the vocabulary: zeros, not perf_analyzer's random INT64s.
    shapes = {"input_ids": [8], "attention_mask": [8]} if text else None
    result = run_perf_analyzer(
        model,
        url,
        protocol,
        (1, 2),
        batch_size=batch_size,
        shapes=shapes,
        input_data="zero" if text else None,
        measurement_mode="time_windows",
        measurement_interval_ms=300,
        stability_percentage=100,
        max_trials=10,
        timeout_s=180,
    )
    rows = {row.concurrency: row for row in result.rows}
    assert set(rows) == {1, 2}, result.output
    for row in rows.values():
        assert row.throughput > 0, result.output
        assert row.p50_us is not None and row.p50_us > 0, result.output
    assert "error" not in result.output.lower(), result.output
