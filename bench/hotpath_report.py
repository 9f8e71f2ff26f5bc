"""The hot-path section of docs/PERFORMANCE.md, from a ``bench/hotpath.py`` results document.

The section sits between two markers so that ``bench/run.py``, which writes the rest of the
page, keeps it (:func:`keep_section`), and so that a new hot-path run replaces only it.
"""

from __future__ import annotations

import platform
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_TITLES = {
    "hotpath": "## Hot path: small requests against Triton (issue 17's configuration)",
    "hotpath-repeated": "## Hot path, repeated rounds: before vs after (medians)",
    "hotpath-passthrough": "## Hot path in front of Triton: REST pass-through vs the gRPC path",
    "hotpath-grpc-forward": "## Hot path in front of Triton: gRPC messages forwarded as they are",
}
# Every section another script writes into the page, in page order, and its writer.
WRITERS = {name: "bench/hotpath.py" for name in _TITLES} | {"spinning": "bench/spinning.py"}


def begin_marker(name: str) -> str:
    return f"<!-- {name}:begin ({WRITERS[name]} writes this section) -->"


def end_marker(name: str) -> str:
    return f"<!-- {name}:end -->"


def _block(page: str, name: str) -> str | None:
    begin, end = begin_marker(name), end_marker(name)
    if begin not in page or end not in page:
        return None
    return page[page.index(begin) : page.index(end) + len(end)]


def keep_section(old_page: str, new_page: str) -> str:
    """``new_page`` with the hot-path sections of ``old_page`` appended where it has none."""
    for name in WRITERS:
        block = _block(old_page, name)
        if block is not None and _block(new_page, name) is None:
            new_page = new_page.rstrip("\n") + "\n\n" + block + "\n"
    return new_page


def write_section(page: Path, doc: Mapping[str, Any], results_path: str) -> None:
    replace_block(page, str(doc.get("section") or "hotpath"), render(doc, results_path))


def replace_block(page: Path, name: str, section: str) -> None:
    """Put ``section`` (which starts and ends with ``name``'s markers) in place of the page's
    block of that name, or at the end of the page where it has none."""
    text = page.read_text(encoding="utf-8") if page.exists() else "# Performance\n"
    block = _block(text, name)
    if block is not None:
        text = text.replace(block, section)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    page.write_text(text, encoding="utf-8")


def find_row(rows: Sequence[Mapping[str, Any]], **labels: Any) -> Mapping[str, Any] | None:
    """The measurement of a point; with repeated rounds, the one of median rate."""
    found = [
        r for r in rows if all(r.get(k) == v for k, v in labels.items()) and not r.get("error")
    ]
    found.sort(key=lambda r: float(r["infer_per_s"]))
    return found[len(found) // 2] if found else None


def rate_text(row: Mapping[str, Any] | None) -> str:
    if row is None:
        return "failed"
    return f"{row['infer_per_s']:,.0f}/s, p50 {row['p50_ms']:.2f} ms"


def _ratio(row: Mapping[str, Any] | None, ref: Mapping[str, Any] | None) -> str:
    if row is None or ref is None or not ref["infer_per_s"]:
        return "-"
    return f"{row['infer_per_s'] / ref['infer_per_s']:.2f}"


def _added(row: Mapping[str, Any] | None, ref: Mapping[str, Any] | None) -> str:
    if row is None or ref is None:
        return "-"
    return f"{row['p50_ms'] - ref['p50_ms']:+.2f} ms"


def _bg(rows: Sequence[Mapping[str, Any]]) -> str:
    values = sorted(float(r["background_cpu_pct"] or 0) for r in rows)
    if not values:
        return "-"
    return f"median {values[len(values) // 2]:.0f}%, max {values[-1]:.0f}%"


CNN = "conv8"
# (change, what it removes, predicted gain) -- predictions from the profile before the change
_LEAN_PATH = (
    "lean inference path (no FastAPI routing, dependency solving or Response object) "
    "and one socket write per response",
    "FastAPI/Starlette routing and dependency solving were ~20 % of the event loop's "
    "samples on small requests, the second write a send() per response",
    "+15-25 % rate on small HTTP requests (embedded and in front); none on gRPC",
)
_PASSTHROUGH = (
    "REST pass-through to Triton's HTTP endpoint (`MLINFER_TRITON_HTTP_URL`)",
    "in front of Triton, the gRPC aio client call was ~15 % of the front's samples, "
    "tritonclient's InferInput/InferResult wrappers ~9 % and the response's re-encoding "
    "the rest of the codec share; the body is still decoded once, for validation",
    "+25-40 % rate on small REST requests in front of Triton, none on gRPC and none for "
    "the embedded engine",
)
_GRPC_FORWARD = (
    "gRPC messages forwarded to Triton as the client sent them",
    "tritonclient's InferInput/InferResult wrappers (~9 % of the front's samples), the "
    "tensors' copy into them and the answer's decoding and re-encoding; the message is "
    "still decoded once, for validation, and the gRPC aio call itself stays",
    "+10-20 % rate on gRPC requests in front of Triton (the REST rows: the pass-through "
    "again, see the note above)",
)
# Which path a section's change left alone: its after / before figures are the run's noise.
_NOISE = {
    "hotpath": "Every path changed since the baseline, so this run has no unchanged path "
    "to read its noise from. Same code measured twice on this VM has differed by up to "
    "1.5x at c=1 (the spinning section's rows, the repeated rounds): read the c=1 ratios "
    "as direction at most; the c=8 ones repeat better.",
    "hotpath-repeated": "The gRPC path did not change: its after / before figures are this "
    "run's noise, the margin within which the HTTP figures mean nothing.",
    "hotpath-grpc-forward": "Both paths changed for `after` here: its REST requests are "
    "forwarded over HTTP and its gRPC messages as they came, while the baseline's front "
    "re-encodes both over gRPC (the bench passes `--triton-http` to this checkout's fronts "
    "only). So the HTTP rows measure the REST pass-through a second time, and this run has "
    "no unchanged path to read its noise from: the pass-through section's unchanged gRPC "
    "rows (0.96-1.02x) are the nearest measure of it.",
}
_SINCE_START = (
    "everything since the baseline: the lean inference path and one socket write per "
    "response (REST), cheap batches moved to the event loop by probing it (500 us limit), "
    "the batcher's delay on a timer, the REST pass-through and gRPC forwarding in front "
    "of Triton, ORT's spinning set per instance (unchanged for these one-instance models)",
    "FastAPI/Starlette routing and dependency solving (~20 % of the event loop's samples "
    "on small requests), the second write per response, the thread hop a mismeasured "
    "tiny model paid on every batch, and in front of Triton the "
    "tensors' decoding and re-encoding (tritonclient's wrappers ~9 %, the gRPC client "
    "call ~15 % for REST requests)",
    "+15-25 % on small REST requests embedded, +25-40 % on REST in front of Triton, "
    "+10-20 % on gRPC in front of Triton",
)
# The changes each section's baseline lacks.
_CHANGES = {
    "hotpath": (_SINCE_START,),
    "hotpath-repeated": (_LEAN_PATH,),
    "hotpath-passthrough": (_PASSTHROUGH,),
    "hotpath-grpc-forward": (_GRPC_FORWARD,),
}


def _gain(rows: Sequence[Mapping[str, Any]], new: str, old: str, model: str,
          protocol: str, c: int) -> str:  # fmt: skip
    a = find_row(rows, server=new, model=model, protocol=protocol, concurrency=c)
    b = find_row(rows, server=old, model=model, protocol=protocol, concurrency=c)
    if a is None or b is None or not b["infer_per_s"]:
        return "-"
    return f"{a['infer_per_s'] / b['infer_per_s']:.2f}x"


def _gains(
    section: str,
    rows: Sequence[Mapping[str, Any]],
    baseline: str,
    workers: int,
    protocols: Sequence[str],
    concurrency: Sequence[int],
) -> list[str]:
    has_embedded = any(r["model"] == "add_relu" for r in rows)
    has_front = any(r["model"] == "simple" for r in rows)
    cnn_levels = sorted({int(r["concurrency"]) for r in rows if r["model"] == CNN})
    out = [
        "",
        "### Each change: predicted and measured gain",
        "",
        f"Measured gain: after / {baseline} rate on the same point of this run. "
        + _NOISE.get(section, _NOISE["hotpath"]),
        "",
    ]
    for change, removes, predicted in _CHANGES[section]:
        out += [f"- **{change}** (removes: {removes}). Predicted: {predicted}. Measured:"]
        for c in concurrency:
            parts = []
            if has_embedded:
                parts.append("embedded " + ", ".join(
                    f"{p} {_gain(rows, 'mlinfer after', f'mlinfer {baseline}', 'add_relu', p, c)}"
                    for p in protocols
                ))  # fmt: skip
            if c in cnn_levels:
                parts.append(f"embedded {CNN} " + ", ".join(
                    f"{p} {_gain(rows, 'mlinfer after', f'mlinfer {baseline}', CNN, p, c)}"
                    for p in protocols
                ))  # fmt: skip
            if has_front:
                parts.append("in front of Triton " + ", ".join(
                    f"{p} {_gain(rows, 'front after', f'front {baseline}', 'simple', p, c)}"
                    for p in protocols
                ))  # fmt: skip
            out.append(f"  c={c}: {'; '.join(parts)}.")
    if workers > 1 and has_front:
        out.append(
            f"- **{workers} workers in front of Triton** (removes: one event loop as the "
            "ceiling). Predicted: little here, where Triton, perf_analyzer and every worker "
            "share 2 vCPUs with other work; up to the core count on the appliance. Measured:"
        )
        for c in concurrency:
            front = ", ".join(
                f"{p} {_gain(rows, f'front after x{workers}', 'front after', 'simple', p, c)}"
                for p in protocols
            )
            out.append(f"  c={c}, x{workers} / x1: {front}.")
    return out


def _command(doc: Mapping[str, Any]) -> str:
    argv = [str(a) for a in doc.get("argv") or ["python", "bench/hotpath.py"]]
    if "--baseline" in argv:  # a temporary folder on the machine that ran it
        argv[argv.index("--baseline") + 1] = "<services/ of the code before>"
    return shlex.join(argv)


def _why(error: str) -> str:
    """The line of a failure that says what went wrong (perf_analyzer's last words)."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "failed"


def render(doc: Mapping[str, Any], results_path: str) -> str:
    rows: list[Mapping[str, Any]] = doc["rows"]
    baseline = doc.get("baseline")
    workers = int(doc.get("workers") or 1)
    repeat = int(doc.get("repeat") or 1)
    protocols = list(dict.fromkeys(r["protocol"] for r in rows))
    concurrency = sorted({int(r["concurrency"]) for r in rows})
    name = str(doc.get("section") or "hotpath")
    has_embedded = any(r["model"] == "add_relu" for r in rows)
    has_front = any(r["model"] == "simple" for r in rows)
    out = [
        begin_marker(name),
        _TITLES[name],
        "",
        f"Written by `{_command(doc)}` "
        f"from one run, {doc['started']} to {doc['finished']} (UTC); raw results: "
        f"`{results_path}`. Machine: {platform.machine()} Linux VM with 2 vCPUs, **shared with "
        "other engineers' builds and tests during the run** (CPU used by other processes "
        f"during the measurements: {_bg(rows)}): compare figures within a table, which were "
        "taken minutes apart, not with other runs. Models: `add_relu` (Relu(INPUT0 + "
        "INPUT1), FP32 [1,16]), `simple` (INT32 add/sub, [1,16]) and `conv8` (eight 3x3 "
        "convolutions on FP32 3x64x64, 0.05 GMACs), all with 1 instance, "
        "`intra_op_thread_count` 2, dynamic batching up to 32 with a 500 us delay; auth and "
        "access log off; perf_analyzer 2.51, batch-1 requests; every server runs through the "
        "whole run and each point is measured on one server after the other, back to back "
        "(Triton: the nvidia-pytriton tritonserver, Python backend running the same ONNX "
        "file with ONNX Runtime)."
        + (f" Each figure is the median of {repeat} such rounds." if repeat > 1 else "")
        + (f" `{baseline}` is {doc['baseline_code']}." if doc.get("baseline_code") else ""),
    ]
    labels = [baseline, "after"] if baseline else ["after"]
    if has_embedded:
        out += _embedded(rows, labels, protocols, concurrency)
    if any(r["model"] == CNN for r in rows):
        out += _cnn(rows, labels, protocols, doc.get("ceilings", {}).get(CNN) or [])
    if has_front:
        out += _front(rows, labels, workers, protocols, concurrency, bool(doc.get("passthrough")))
    if baseline:
        out += _gains(name, rows, baseline, workers, protocols, concurrency)
    failed = [r for r in rows if r.get("error")]
    if failed:
        out += ["", "Failed measurements:", ""]
        out += [f"- {r['server']} {r['model']} {r['protocol']} c={r['concurrency']}: "
                f"{_why(str(r['error']))}" for r in failed]  # fmt: skip
    out += ["", "Commands (one of each kind; every row's is in the results file):", "", "```"]
    seen: set[str] = set()
    for row in rows:
        key = f"{row['protocol']}"
        if row.get("command") and key not in seen:
            seen.add(key)
            out.append(str(row["command"]))
    out += ["```", end_marker(name)]
    return "\n".join(out)


def _embedded(
    rows: Sequence[Mapping[str, Any]],
    labels: Sequence[str],
    protocols: Sequence[str],
    concurrency: Sequence[int],
) -> list[str]:
    out = [
        "",
        "### Embedded engine vs Triton direct (`add_relu`)",
        "",
        "Targets: >= 1.0x Triton's rate on HTTP binary and gRPC at c=1 and c=8, p50 at c=1 "
        "below Triton's, HTTP binary at least as fast as HTTP JSON.",
        "",
    ]
    head = "| protocol | c | Triton 2.51 |"
    rule = "|---|---|---|"
    for label in labels:
        head += f" mlinfer {label} | ratio {label} |"
        rule += "---|---|"
    out += [head, rule]
    for c in concurrency:
        for protocol in protocols:
            ref = find_row(
                rows, server="triton", model="add_relu", protocol=protocol, concurrency=c
            )
            line = f"| {protocol} | {c} | {rate_text(ref)} |"
            for label in labels:
                row = find_row(rows, server=f"mlinfer {label}", model="add_relu",
                            protocol=protocol, concurrency=c)  # fmt: skip
                line += f" {rate_text(row)} | {_ratio(row, ref)} |"
            out.append(line)
    return out


def _cnn(
    rows: Sequence[Mapping[str, Any]],
    labels: Sequence[str],
    protocols: Sequence[str],
    ceilings: Sequence[Mapping[str, Any]],
) -> list[str]:
    rates = [float(c["infer_per_s"]) for c in ceilings]
    ceiling = sum(rates) / len(rates) if rates else 0.0
    where = ", ".join(f"{c['infer_per_s']:,.0f}/s at batch {c['batch_size']}" for c in ceilings)
    out = [
        "",
        f"### Embedded engine vs Triton direct and the raw ONNX Runtime ceiling (`{CNN}`)",
        "",
        "Targets at c=8: >= 0.95x Triton on every protocol and >= 0.9 of the raw ORT "
        "ceiling. The ceiling is `session.run` with the same session and threads in a "
        "process of its own, best batch size of a sweep, measured right before and right "
        f"after these rows (mean {ceiling:,.0f}/s: {where or 'not measured'}); the servers "
        "share the two vCPUs with perf_analyzer, the ceiling does not.",
        "",
    ]
    head = "| protocol | c | Triton 2.51 | ratio to ceiling |"
    rule = "|---|---|---|---|"
    for label in labels:
        head += f" mlinfer {label} | ratio to Triton | ratio to ceiling |"
        rule += "---|---|---|"
    out += [head, rule]
    for c in sorted({int(r["concurrency"]) for r in rows if r["model"] == CNN}):
        for protocol in protocols:
            ref = find_row(rows, server="triton", model=CNN, protocol=protocol, concurrency=c)
            line = f"| {protocol} | {c} | {rate_text(ref)} | {_of_ceiling(ref, ceiling)} |"
            for label in labels:
                row = find_row(rows, server=f"mlinfer {label}", model=CNN,
                            protocol=protocol, concurrency=c)  # fmt: skip
                line += f" {rate_text(row)} | {_ratio(row, ref)} | {_of_ceiling(row, ceiling)} |"
            out.append(line)
    return out


def _of_ceiling(row: Mapping[str, Any] | None, ceiling: float) -> str:
    return "-" if row is None or not ceiling else f"{row['infer_per_s'] / ceiling:.2f}"


def _front(
    rows: Sequence[Mapping[str, Any]],
    labels: Sequence[str],
    workers: int,
    protocols: Sequence[str],
    concurrency: Sequence[int],
    passthrough: bool,
) -> list[str]:
    how = "`mlinfer serve --triton` forwarding over gRPC to the same Triton."
    if passthrough:
        how = (
            "`mlinfer serve --triton` in front of the same Triton; this checkout's fronts "
            "(`after`) also get `--triton-http`: REST inferences go to Triton's HTTP endpoint "
            "as the client's bytes (pass-through), gRPC ones over gRPC; a baseline's over gRPC."
        )
    out = [
        "",
        "### In front of Triton vs Triton direct (`simple`)",
        "",
        how,
        "Targets at c=8: >= 0.7x Triton direct on HTTP and gRPC with one worker; added p50 "
        "at c=1 <= 0.3 ms.",
        "",
    ]
    fronts = [f"front {label}" for label in labels]
    if workers > 1:
        fronts.append(f"front after x{workers}")
    head = "| protocol | c | Triton direct |"
    rule = "|---|---|---|"
    for front in fronts:
        name = front.replace("front ", "via mlinfer ").replace(" x", f", {workers} workers x")
        name = name.split(" x")[0]
        head += f" {name} | ratio | added p50 |"
        rule += "---|---|---|"
    out += [head, rule]
    for c in concurrency:
        for protocol in protocols:
            ref = find_row(rows, server="triton", model="simple", protocol=protocol, concurrency=c)
            line = f"| {protocol} | {c} | {rate_text(ref)} |"
            for front in fronts:
                row = find_row(rows, server=front, model="simple", protocol=protocol, concurrency=c)
                line += f" {rate_text(row)} | {_ratio(row, ref)} | {_added(row, ref)} |"
            out.append(line)
    return out
