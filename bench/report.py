"""docs/PERFORMANCE.md from a ``bench/run.py`` results document (results.json).

Every number printed comes from the document; a measurement that failed or was skipped says
so in the place its number would be.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

Row = Mapping[str, Any]

CEILING_TARGET = 0.90
FRONT_P50_TARGET_MS = 0.3
FRONT_THROUGHPUT_TARGET = 0.90
SMALL_RATE_TARGET = 1.0


# -- lookups ------------------------------------------------------------------------------
def find(rows: Iterable[Row], **criteria: Any) -> Row | None:
    for row in rows:
        if all(row.get(k) == v for k, v in criteria.items()):
            return row
    return None


def ok(row: Row | None) -> bool:
    return row is not None and not row.get("error") and row.get("infer_per_s") is not None


def num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def ms(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def failed(row: Row | None) -> str:
    if row is None:
        return "not measured"
    return f"failed: {str(row.get('error') or '')[:120]}"


def verdict(met: bool, gap: str) -> str:
    return f"**met** ({gap})" if met else f"**not met** ({gap})"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(cell) for cell in r) + " |" for r in rows]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


# -- sections -----------------------------------------------------------------------------
def _machine(doc: Mapping[str, Any]) -> str:
    m = doc.get("machine", {})
    rows = doc.get("rows", [])
    background = [r["background_cpu_pct"] for r in rows if r.get("background_cpu_pct") is not None]
    packages = ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items())
    load = (
        f"median {statistics.median(background):.0f}%, max {max(background):.0f}% of the "
        "machine used by other processes during the measurements (column `bg CPU`)"
        if background
        else "-"
    )
    entries = [
        (
            "CPU",
            f"{m.get('cpu_model', '?')}: {m.get('logical_cpus', '?')} logical CPUs "
            f"({m.get('physical_cores', '?')} cores as the VM reports them), no GPU",
        ),
        ("Memory", f"{m.get('memory_gib', '?')} GiB"),
        ("OS", str(m.get("os", "?"))),
        ("Python", str(m.get("python", "?"))),
        ("Software", packages),
        (
            "Run",
            f"{doc.get('date', '?')} to {doc.get('finished', '?')} (UTC)"
            + (", **quick mode** (shrunken models, short windows)" if doc.get("quick") else ""),
        ),
        ("Background load", load),
        ("Code", _code(doc)),
    ]
    return table(["", ""], [(k, v) for k, v in entries])


def _code(doc: Mapping[str, Any]) -> str:
    code = doc.get("code") or {}
    start, end = code.get("start", ""), code.get("end", "")
    if not start:
        return "not recorded"
    text = f"`{start}` (git describe of the checkout the servers ran from"
    text += "; -dirty: with uncommitted changes)" if start.endswith("-dirty") else ")"
    if end and end != start:
        base = start.removesuffix("-dirty")
        text += (
            f"; **the checkout changed during the run**: `{end}` at the end (whether server "
            f"code changed: `git log {base}..{end.removesuffix('-dirty')} -- services/mlinfer`)"
        )
    return text


def _models(doc: Mapping[str, Any]) -> str:
    rows = []
    for m in doc.get("models", []):
        rows.append(
            (
                f"`{m['name']}`",
                m["description"],
                f"{m['gmacs']:.2f}" if m.get("gmacs") else "-",
                f"{m['params_m']:.1f}M" if m.get("params_m") else "-",
                f"{m['onnx_mb']:.0f} MB",
                f"{m['instances']} x {m['intra_op_threads']} thread, max batch "
                f"{m['max_batch_size']}, preferred {m['preferred_batch_sizes']}, "
                f"delay {m['max_queue_delay_us']} us",
            )
        )
    return table(["model", "what", "GMACs/item", "params", "ONNX", "config"], rows)


def ceiling_for(rows: Sequence[Row], model: str) -> tuple[float | None, str]:
    """The ceiling a model's server figures are compared with, and how it was obtained.

    The mean of the checks taken right before and after the model's measurements when they
    exist (the machine's speed drifts), else the best point of the sweep.
    """
    checks = [
        r["infer_per_s"]
        for r in rows
        if r.get("section") == "ceiling-check" and r.get("model") == model and ok(r)
    ]
    if checks:
        spread = f", range {min(checks):.1f}-{max(checks):.1f}" if len(checks) > 1 else ""
        return statistics.fmean(checks), f"adjacent checks{spread}"
    sweep = find(rows, section="ceiling", model=model)
    if ok(sweep):
        assert sweep is not None
        return float(sweep["infer_per_s"]), "sweep"
    return None, failed(sweep)


def _best_c32(rows: Sequence[Row], model: str, c: int) -> Row | None:
    candidates = [
        r
        for r in rows
        if r.get("section") == "embedded"
        and r.get("model") == model
        and r.get("tool") == "perf_analyzer"
        and r.get("concurrency") == c
        and ok(r)
    ]
    return max(candidates, key=lambda r: r["infer_per_s"], default=None)


def _spec_table(doc: Mapping[str, Any]) -> str:
    rows = doc.get("rows", [])
    c = max((r.get("concurrency") or 0 for r in rows if r.get("section") == "embedded"), default=32)
    out = []
    for m in doc.get("models", []):
        target = m.get("target")
        if not target:
            continue
        best = _best_c32(rows, m["name"], c)
        ceiling = find(rows, section="ceiling", model=m["name"])
        spec = (
            f"{target['requests_per_s']:.0f} req/s, batch {target['batch']}, "
            f"< {target['latency_ms']:.0f} ms"
        )
        if best is None:
            out.append(
                (target["title"], spec, failed(find(rows, model=m["name"])), "-", "-", "-", "-")
            )
            continue
        rate = best["infer_per_s"]
        p50 = best.get("p50_ms")
        ceil_value, _ = ceiling_for(rows, m["name"])
        ceil_text = "-"
        if ok(ceiling) and ceil_value is not None:
            assert ceiling is not None
            ceil_text = (
                f"{num(ceil_value)}/s at batch {ceiling.get('batch_size')} "
                f"({ms(ceiling.get('p50_ms'))} ms per batch)"
            )
        ratio = f"{rate / ceil_value:.2f}" if ceil_value else "-"
        met_rate = rate >= target["requests_per_s"]
        met_lat = p50 is not None and p50 < target["latency_ms"]
        gap = (
            f"{rate / target['requests_per_s'] * 100:.1f}% of the rate; p50 "
            f"{ms(p50)} ms vs < {target['latency_ms']:.0f} ms"
        )
        out.append(
            (
                target["title"],
                spec,
                f"{num(rate)} req/s ({best['protocol']}, c={c})",
                f"{ms(p50)} / {ms(best.get('p99_ms'))}",
                ceil_text,
                ratio,
                verdict(met_rate and met_lat, gap),
            )
        )
    return table(
        [
            "model",
            "spec target (Jetson AGX Orin GPU)",
            "mlinfer here",
            "p50 / p99 ms",
            "raw ORT ceiling here",
            "mlinfer / ceiling",
            "target",
        ],
        out,
    )


def _ceiling_ratios(doc: Mapping[str, Any]) -> tuple[str, list[float]]:
    rows = doc.get("rows", [])
    out, ratios = [], []
    for m in doc.get("models", []):
        ceiling, how = ceiling_for(rows, m["name"])
        for c in sorted({r["concurrency"] for r in rows if r.get("section") == "embedded"}):
            for protocol in ("http", "grpc"):
                row = find(
                    rows,
                    section="embedded",
                    model=m["name"],
                    tool="perf_analyzer",
                    protocol=protocol,
                    concurrency=c,
                )
                if not ok(row) or ceiling is None:
                    why = failed(row) if not ok(row) else f"no ceiling: {how}"
                    out.append((m["title"], str(c), protocol, why, "-", "-", "-"))
                    continue
                assert row is not None
                ratio = row["infer_per_s"] / ceiling
                ratios.append(ratio)
                gap = (
                    f"{ratio:.2f} >= {CEILING_TARGET:.2f}"
                    if ratio >= CEILING_TARGET
                    else f"{CEILING_TARGET - ratio:.2f} short"
                )
                out.append(
                    (
                        m["title"],
                        str(c),
                        protocol,
                        num(row["infer_per_s"]),
                        f"{num(ceiling)} ({how})",
                        f"{ratio:.2f}",
                        verdict(ratio >= CEILING_TARGET, gap),
                    )
                )
    text = table(
        ["model", "c", "protocol", "mlinfer infer/s", "raw ORT infer/s", "ratio", "target >= 0.90"],
        out,
    )
    return text, ratios


def _batching(doc: Mapping[str, Any]) -> str:
    rows = doc.get("rows", [])
    out = []
    for m in doc.get("models", []):
        for tool in ("perf_analyzer", "mlinfer bench"):
            off = find(rows, section="batching", model=f"{m['name']}_nobatch", tool=tool)
            if off is None:
                continue
            on = find(
                rows,
                section="embedded",
                model=m["name"],
                tool=tool,
                protocol="http",
                encoding="binary",
                concurrency=off.get("concurrency"),
            )
            if not ok(on) or not ok(off):
                out.append(
                    (
                        m["title"],
                        tool,
                        str(off.get("concurrency")),
                        failed(on if not ok(on) else off),
                        "-",
                        "-",
                        "-",
                    )
                )
                continue
            assert on is not None
            gain = on["infer_per_s"] / off["infer_per_s"] if off["infer_per_s"] else float("nan")
            out.append(
                (
                    m["title"],
                    tool,
                    str(off.get("concurrency")),
                    num(on["infer_per_s"]),
                    num(off["infer_per_s"]),
                    f"{gain:.2f}x",
                    f"{ms(on.get('p50_ms'))} / {ms(off.get('p50_ms'))}",
                )
            )
    return table(
        ["model", "tool", "c", "on infer/s", "off infer/s", "gain", "p50 ms on / off"], out
    )


def _front(doc: Mapping[str, Any]) -> str:
    rows = doc.get("rows", [])
    direct = [r for r in rows if r.get("section") == "triton" and r.get("server") == "triton"]
    if not direct:
        return "Not measured in this run (see Notes)."
    out = []
    for d in direct:
        via = find(
            rows,
            section="triton",
            server="mlinfer->triton",
            model=d["model"],
            protocol=d["protocol"],
            concurrency=d["concurrency"],
        )
        if not ok(d) or not ok(via):
            out.append(
                (
                    d["model"],
                    str(d["concurrency"]),
                    d["protocol"],
                    num(d.get("infer_per_s")) if ok(d) else failed(d),
                    num(via.get("infer_per_s")) if ok(via) and via else failed(via),
                    "-",
                    ms(d.get("p50_ms")),
                    "-",
                    "-",
                    "-",
                )
            )
            continue
        assert via is not None
        ratio = via["infer_per_s"] / d["infer_per_s"]
        added = (via.get("p50_ms") or 0.0) - (d.get("p50_ms") or 0.0)
        if d["model"] == "simple" and d["concurrency"] == 1:
            target = verdict(
                added <= FRONT_P50_TARGET_MS,
                f"added p50 {added:.2f} ms vs <= {FRONT_P50_TARGET_MS} ms",
            )
        elif d["model"] != "simple":
            target = verdict(
                ratio >= FRONT_THROUGHPUT_TARGET,
                f"throughput {ratio:.2f} vs >= {FRONT_THROUGHPUT_TARGET}",
            )
        else:
            target = "-"
        out.append(
            (
                d["model"],
                str(d["concurrency"]),
                d["protocol"],
                num(d["infer_per_s"]),
                num(via["infer_per_s"]),
                f"{ratio:.2f}",
                ms(d.get("p50_ms")),
                ms(via.get("p50_ms")),
                f"{added:+.2f}",
                target,
            )
        )
    return table(
        [
            "model",
            "c",
            "protocol",
            "Triton direct infer/s",
            "via mlinfer infer/s",
            "ratio",
            "Triton p50 ms",
            "via mlinfer p50 ms",
            "added p50 ms",
            "target",
        ],
        out,
    )


def _small(doc: Mapping[str, Any]) -> str:
    rows = doc.get("rows", [])
    out = []
    for r in rows:
        if r.get("section") != "small" or r.get("tool") != "perf_analyzer":
            continue
        t = find(
            rows,
            section="triton",
            server="triton",
            model=r["model"],
            protocol=r["protocol"],
            concurrency=r["concurrency"],
        )
        if not ok(r) or not ok(t):
            out.append(
                (
                    str(r["concurrency"]),
                    r["protocol"],
                    num(r.get("requests_per_s")) if ok(r) else failed(r),
                    num(t.get("requests_per_s")) if ok(t) and t else failed(t),
                    "-",
                    "-",
                    "-",
                    "-",
                )
            )
            continue
        assert t is not None
        ratio = r["requests_per_s"] / t["requests_per_s"]
        p50_ok = (r.get("p50_ms") or 1e9) < (t.get("p50_ms") or 0.0)
        rate_ok = ratio >= SMALL_RATE_TARGET
        if r["concurrency"] == 1:
            target = verdict(
                rate_ok and p50_ok,
                f"{ratio:.2f}x the rate; p50 {ms(r.get('p50_ms'))} vs Triton "
                f"{ms(t.get('p50_ms'))} ms",
            )
        else:
            target = verdict(rate_ok, f"{ratio:.2f}x vs >= {SMALL_RATE_TARGET:.1f}x")
        out.append(
            (
                str(r["concurrency"]),
                r["protocol"],
                num(r["requests_per_s"]),
                num(t["requests_per_s"]),
                f"{ratio:.2f}x",
                ms(r.get("p50_ms")),
                ms(t.get("p50_ms")),
                target,
            )
        )
    if not out:
        return "Not measured in this run (see Notes)."
    return table(
        [
            "c",
            "protocol",
            "mlinfer embedded req/s",
            "Triton direct req/s",
            "ratio",
            "mlinfer p50 ms",
            "Triton p50 ms",
            "target",
        ],
        out,
    )


def _memory(doc: Mapping[str, Any]) -> str:
    rows = [r for r in doc.get("rows", []) if r.get("section") == "memory"]
    out = []
    for r in rows:
        value = f"{r['rss_mb']:,.0f} MB" if r.get("rss_mb") is not None else failed(r)
        out.append((r.get("server") or "", r.get("model") or "", value, r.get("note") or ""))
    text = table(["server", "loaded", "RSS", "note"], out)
    extra = []
    for model, low, high in (("image_cnn", 1, 4), ("resnet50", 1, 2)):
        a = find(rows, model=f"{model} x{low} instances")
        b = find(rows, model=f"{model} x{high} instances")
        if a and b and a.get("rss_mb") is not None and b.get("rss_mb") is not None:
            per = (b["rss_mb"] - a["rss_mb"]) / (high - low)
            extra.append(
                f"- each extra `{model}` instance: **{per:,.1f} MB** "
                f"(({num(b['rss_mb'])} - {num(a['rss_mb'])}) / {high - low})"
            )
    return text + ("\n\n" + "\n".join(extra) if extra else "")


def _all(doc: Mapping[str, Any]) -> str:
    out = []
    for r in doc.get("rows", []):
        if r.get("section") == "memory":
            continue
        proto = r.get("protocol") or ""
        if r.get("encoding") and r.get("encoding") != "protobuf":
            proto = f"{proto}/{r['encoding']}"
        note = (r.get("error") and f"FAILED: {r['error'][:160]}") or (r.get("note") or "")
        out.append(
            (
                r.get("section") or "",
                r.get("server") or "",
                r.get("tool") or "",
                r.get("model") or "",
                proto,
                num(r.get("concurrency")),
                r.get("batching") or "",
                num(r.get("infer_per_s")),
                ms(r.get("p50_ms")),
                ms(r.get("p95_ms")),
                ms(r.get("p99_ms")),
                num(r.get("errors")),
                num(r.get("client_cpu_ms_per_request"), 3),
                num(r.get("background_cpu_pct"), 0),
                note[:200],
            )
        )
    return table(
        [
            "section",
            "server",
            "tool",
            "model",
            "protocol",
            "c",
            "batching",
            "infer/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "err",
            "client ms CPU/req",
            "bg CPU %",
            "note",
        ],
        out,
    )


def _commands(doc: Mapping[str, Any]) -> str:
    lines = ["Servers, as the driver started them:", "", "```"]
    lines += [f"# {label}\n{cmd}" for label, cmd in doc.get("servers", {}).items()]
    lines += [
        "```",
        "",
        "Load, one example of each kind (every row's command is in results.json):",
        "",
        "```",
    ]
    seen: set[str] = set()
    for r in doc.get("rows", []):
        kind = f"{r.get('tool')}/{r.get('protocol')}/{r.get('encoding')}"
        if r.get("command") and kind not in seen:
            seen.add(kind)
            lines.append(str(r["command"]))
    lines.append("```")
    return "\n".join(lines)


def _relative_paths(text: str, root: str) -> str:
    """Commands as run from the repository root (no machine-specific absolute paths)."""
    return text.replace(root.rstrip("/") + "/", "") if root else text


def render(doc: Mapping[str, Any], results_path: str = "") -> str:
    ceiling_text, _ = _ceiling_ratios(doc)
    notes = doc.get("notes", [])
    failures = [r for r in doc.get("rows", []) if r.get("error")]
    parts = [
        "# Performance",
        "",
        "Generated by `python bench/run.py` (do not edit by hand: rerun it). Every number below "
        "comes from that one run on the machine described here"
        + (f"; raw results: `{results_path}`" if results_path else "")
        + ". The specification's targets are for a Jetson AGX Orin GPU running TensorRT; this "
        "machine is a small CPU-only VM running ONNX Runtime on CPU, so absolute numbers are not "
        "comparable with them: the ratios are what this page is about. The models have the real "
        "architectures and sizes but **random weights** (generated locally, nothing downloaded): "
        "their cost is real, their outputs are meaningless.",
        "",
        "## Machine",
        "",
        _machine(doc),
        "",
        "With only two CPUs, the load generator (perf_analyzer or `mlinfer bench`) runs on the "
        "same two CPUs as the server and takes its share (`client ms CPU/req` for `mlinfer "
        "bench`); the raw ONNX Runtime ceiling has the CPUs to itself. `bg CPU` is what other "
        "processes (not the server or client under test) used during a measurement; the driver "
        "waits for a quiet moment before each one, but a high figure marks a number to distrust.",
        "",
        "## How to reproduce",
        "",
        "```bash",
        "python bench/run.py            # all of it: builds bench/repository/, writes "
        "bench/results/<date>/ and this page",
        "python bench/run.py --quick    # shrunken models, short windows: a smoke test",
        "mlinfer bench MODEL -u HOST:PORT -i http|grpc -c 1,8,32   # the load generator alone",
        "python bench/profile_serve.py --protocol http|grpc [--triton]  # py-spy: where the "
        "server's time goes",
        "```",
        "",
        _relative_paths(_commands(doc), str(doc.get("repository_root", ""))),
        "",
        "## Models",
        "",
        _models(doc),
        "",
        "Requests carry one item (batch 1); the server's dynamic batcher forms the batches "
        '(the spec\'s "batch size" column is read as that server-side batch). Instances: one '
        "ONNX Runtime session with one intra-op thread per instance, two instances per model "
        "for two CPUs.",
        "",
        "## The specification's table, reproduced here",
        "",
        _spec_table(doc),
        "",
        "`mlinfer here` is the best perf_analyzer figure at the highest concurrency (HTTP binary "
        "or gRPC); `raw ORT ceiling` is `session.run` in a process of its own with the same "
        "sessions and threads, at the best batch size of a sweep, measured right before and "
        "right after that model's server measurements (mean of the two): this VM's speed drifts "
        "by tens of percent over minutes, invisibly from inside it (no steal time reported), so "
        "only figures taken back to back are compared.",
        "",
        "## Ratios",
        "",
        "### 1. Ceiling: mlinfer vs raw ONNX Runtime (perf_analyzer)",
        "",
        ceiling_text,
        "",
        "### 2. Dynamic batching on vs off (HTTP binary)",
        "",
        _batching(doc),
        "",
        "### 3. Gateway overhead: mlinfer in front of Triton vs Triton direct (perf_analyzer)",
        "",
        "Triton 2.51 from the nvidia-pytriton wheel (Python backend running the same ONNX model "
        "with ONNX Runtime, same instance counts); `mlinfer serve --triton` forwards over gRPC. "
        f"Targets: added p50 <= {FRONT_P50_TARGET_MS} ms on `simple` at c=1; CNN throughput "
        f">= {FRONT_THROUGHPUT_TARGET} of Triton direct.",
        "",
        _front(doc),
        "",
        "### 4. Small-request rate: mlinfer embedded vs Triton direct (`simple`, perf_analyzer)",
        "",
        f"Target: >= {SMALL_RATE_TARGET:.1f}x Triton's rate, and p50 at c=1 below Triton's.",
        "",
        _small(doc),
        "",
        "### 5. Memory (resident set size, psutil)",
        "",
        _memory(doc),
        "",
        "## All measurements",
        "",
        "Both load generators, every protocol. For `ceiling` and `ceiling-check` rows, `p50 ms` "
        "is the mean time of one `session.run` call at the batch size in the note.",
        "",
        _all(doc),
        "",
        _analysis(),
        "## Notes",
        "",
    ]
    if not notes and not failures:
        parts.append("No measurement failed.")
    parts += [f"- {n}" for n in notes]
    parts += [
        f"- failed: {r.get('section')} {r.get('server')} {r.get('tool')} {r.get('model')} "
        f"{r.get('protocol') or ''} c={r.get('concurrency')}: {str(r.get('error'))[:300]}"
        for r in failures
    ]
    return "\n".join(parts) + "\n"


ANALYSIS = Path(__file__).resolve().parents[3] / "bench" / "analysis.md"


def _analysis() -> str:
    """The hand-written part (hot-path changes with predicted and measured gains, causes of
    the gaps): kept in bench/analysis.md so that regenerating this page never loses it."""
    return ANALYSIS.read_text().rstrip("\n") + "\n" if ANALYSIS.is_file() else ""
