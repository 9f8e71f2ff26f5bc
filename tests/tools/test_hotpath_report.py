"""The hot-path sections of docs/PERFORMANCE.md: kept across page rewrites, CNN rows rendered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.hotpath import write_models
from bench.hotpath_report import WRITERS, begin_marker, end_marker, keep_section, render
from bench.measure import new_row
from tests.support.triton.python_backend import load_model_config


def _block(name: str) -> str:
    return f"{begin_marker(name)}\n## {name}\nfigures of {name}\n{end_marker(name)}"


def test_a_page_rewrite_keeps_every_section_another_script_wrote() -> None:
    old = "# Performance\n\nold body\n\n" + "\n\n".join(_block(n) for n in WRITERS)
    new = keep_section(old, "# Performance\n\nnew body\n")
    assert "old body" not in new and "new body" in new
    for name in WRITERS:
        assert f"figures of {name}" in new, name
    # a section the new page already has is not added twice
    assert keep_section(old, new).count(begin_marker("spinning")) == 1


def _row(server: str, model: str, protocol: str, rate: float) -> dict[str, Any]:
    return new_row(
        server=server,
        model=model,
        protocol=protocol,
        concurrency=8,
        infer_per_s=rate,
        p50_ms=10.0,
        background_cpu_pct=0.0,
    )


def test_cnn_rows_give_ratios_to_triton_and_to_the_ceiling() -> None:
    doc = {
        "started": "s",
        "finished": "f",
        "section": "hotpath",
        "rows": [
            _row("triton", "conv8", "http binary", 700.0),
            _row("mlinfer after", "conv8", "http binary", 560.0),
        ],
        "ceilings": {
            "conv8": [
                {"infer_per_s": 1100.0, "batch_size": 32},
                {"infer_per_s": 1300.0, "batch_size": 1},
            ]
        },
    }
    page = render(doc, "results.json")
    assert "mean 1,200/s: 1,100/s at batch 32, 1,300/s at batch 1" in page
    line = next(x for x in page.splitlines() if x.startswith("| http binary | 8 |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    # Triton: rate, its share of the ceiling; mlinfer: rate, ratio to Triton, to the ceiling
    assert cells[3] == "0.58" and cells[5:7] == ["0.80", "0.47"]


def test_the_bench_models_are_valid_triton_configs(tmp_path: Path) -> None:
    write_models(tmp_path)
    cnn = load_model_config(tmp_path / "conv8" / "config.pbtxt")
    assert [list(t.dims) for t in cnn.input] == [[3, 64, 64]]
    assert cnn.max_batch_size == 32 and cnn.dynamic_batching.max_queue_delay_microseconds == 500
    assert cnn.parameters["intra_op_thread_count"].string_value == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["add_relu", "conv8", "simple"]
