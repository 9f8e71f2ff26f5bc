"""``mlinfer registry fleet``: enroll boxes, roll a version out to them in waves, watch it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from mlinfer.cli.registry import CliError, _check

Command = Callable[..., Any]
# Rollout states after which nothing more happens by itself (partial: only catch-ups).
_SETTLED = ("succeeded", "partial", "rolled_back", "aborted", "superseded")


def add_commands(sub: Any, command: Command) -> None:
    fleet = sub.add_parser(
        "fleet", help="many boxes from one registry: enroll, roll out in waves, abort"
    )
    fleet.set_defaults(run=lambda _a: (fleet.print_help(), 2)[1])
    fsub = fleet.add_subparsers(title="fleet commands")

    enroll = command("enroll", "enroll a box (or update it) with its labels", _enroll, fsub)
    enroll.add_argument("name", help="unique box name, e.g. store-042")
    enroll.add_argument("--box-url", required=True, help="the box's REST URL")
    enroll.add_argument("--repository", required=True, help="its model repository path")
    enroll.add_argument("--label", action="append", default=[], help="KEY=VALUE, repeatable")

    boxes = command("boxes", "enrolled boxes", _boxes, fsub)
    boxes.add_argument("--selector", default="", help="labels, e.g. site=lab,hw=orin")
    remove = command("remove", "remove a box from the fleet", _remove, fsub)
    remove.add_argument("name")

    rollout = command("rollout", "roll a model version out to boxes in waves", _rollout, fsub)
    rollout.add_argument("model")
    rollout.add_argument("version", help="number or alias")
    rollout.add_argument("--selector", default="", help="target boxes with these labels")
    rollout.add_argument(
        "--wave",
        action="append",
        default=[],
        help="N boxes, P%% of targets, KEY=VALUE[,KEY=VALUE][@N|@P%%]; repeatable, in order "
        "(default: 1, 10%%, 100%%)",
    )
    rollout.add_argument("--soak", type=float, default=60.0, help="seconds before each check")
    rollout.add_argument(
        "--max-failed-percent", type=float, default=0.0, help="abort above this failed share"
    )
    rollout.add_argument("--analysis", default="{}", help='JSON, e.g. {"max_p99_ms": 50}')
    rollout.add_argument(
        "--allow-no-traffic",
        action="store_true",
        help="a box never given enough requests to judge passes (when ready) after --max-holds",
    )
    rollout.add_argument("--max-holds", type=int, default=10, help="checks to wait for traffic")
    rollout.add_argument("--wait", action="store_true", help="follow it until it settles")

    status = command("status", "a fleet rollout with every box's status", _status, fsub)
    status.add_argument("id", type=int, nargs="?", help="rollout id (default: the latest)")
    status.add_argument("--model", help="the latest rollout of this model")
    status.add_argument("--wait", action="store_true", help="follow it until it settles")
    history = command("rollouts", "fleet rollouts, newest first", _rollouts, fsub)
    history.add_argument("--model")
    history.add_argument("--limit", type=int, default=20)
    abort = command("abort", "abort: boxes it changed return to their version", _abort, fsub)
    abort.add_argument("id", type=int)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"{what} takes KEY=VALUE, got '{item}'")
        pairs[key] = value
    return pairs


def _enroll(client: Any, args: argparse.Namespace) -> Any:
    body = {"url": args.box_url, "repository": args.repository,
            "labels": _pairs(args.label, "--label")}  # fmt: skip
    result = _check(client.put(f"/v1/fleet/boxes/{args.name}", json=body))
    if args.json:
        return result
    labels = ",".join(f"{k}={v}" for k, v in sorted(result["labels"].items())) or "-"
    return f"box {result['name']} enrolled: {result['url']} labels {labels}"


def _boxes(client: Any, args: argparse.Namespace) -> Any:
    rows = _check(client.get("/v1/fleet/boxes", params={"selector": args.selector}))
    if args.json:
        return rows
    lines = [f"{'BOX':<20} {'URL':<28} {'LABELS':<30} {'LAST SEEN':<26} ERROR"]
    for r in rows:
        labels = ",".join(f"{k}={v}" for k, v in sorted(r["labels"].items())) or "-"
        seen = r["last_seen"] or "never"
        lines.append(f"{r['name']:<20} {r['url']:<28} {labels:<30} {seen:<26} {r['last_error']}")
    return "\n".join(lines)


def _remove(client: Any, args: argparse.Namespace) -> Any:
    _check(client.delete(f"/v1/fleet/boxes/{args.name}"))
    return f"box {args.name} removed"


def _rollout(client: Any, args: argparse.Namespace) -> Any:
    from mlinfer.registry.fleet_waves import parse_wave_token

    try:
        waves = [parse_wave_token(w) for w in args.wave] or None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    try:
        analysis = json.loads(args.analysis)
    except ValueError as exc:
        raise CliError(f"--analysis is JSON, e.g. '{{\"max_p99_ms\": 50}}': {exc}") from None
    body: dict[str, Any] = {
        "model": args.model,
        "version": args.version,
        "selector": _pairs(list(filter(None, args.selector.split(","))), "--selector"),
        "analysis": analysis,
        "criteria": {
            "soak_s": args.soak,
            "max_failed_percent": args.max_failed_percent,
            "require_traffic": not args.allow_no_traffic,
            "max_holds": args.max_holds,
        },
    }
    if waves:
        body["waves"] = waves
    result = _check(client.post("/v1/fleet/rollouts", json=body))
    if args.wait:
        return _follow(client, result["id"], args.json)
    return result if args.json else _render(result)


def _latest(client: Any, args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": 1}
    if args.model:
        params["model"] = args.model
    rows = _check(client.get("/v1/fleet/rollouts", params=params))
    if not rows:
        raise CliError("no fleet rollout yet")
    return int(rows[0]["id"])


def _status(client: Any, args: argparse.Namespace) -> Any:
    rollout_id = args.id if args.id is not None else _latest(client, args)
    if args.wait:
        return _follow(client, rollout_id, args.json)
    result = _check(client.get(f"/v1/fleet/rollouts/{rollout_id}"))
    return result if args.json else _render(result)


def _rollouts(client: Any, args: argparse.Namespace) -> Any:
    params: dict[str, Any] = {"limit": args.limit}
    if args.model:
        params["model"] = args.model
    rows = _check(client.get("/v1/fleet/rollouts", params=params))
    if args.json:
        return rows
    lines = [f"{'ID':>4} {'MODEL':<20} {'VERSION':>7} {'STATE':<12} {'WAVE':<6} BOXES"]
    for r in rows:
        counts = " ".join(f"{k}:{v}" for k, v in sorted(r["summary"].items()))
        wave = f"{r['wave'] + 1}/{r['planned_waves']}"
        lines.append(
            f"{r['id']:>4} {r['model']:<20} {r['version']:>7} {r['state']:<12} {wave:<6} {counts}"
        )
    return "\n".join(lines)


def _abort(client: Any, args: argparse.Namespace) -> Any:
    result = _check(client.post(f"/v1/fleet/rollouts/{args.id}/abort"))
    return result if args.json else _render(result)


def _follow(client: Any, rollout_id: int, as_json: bool) -> Any:
    """Print each change of wave or box state until the rollout settles."""
    shown = ""
    while True:
        result = _check(client.get(f"/v1/fleet/rollouts/{rollout_id}"))
        states = " ".join(f"{n}:{t['state']}" for n, t in result["boxes"].items())
        line = f"wave {result['wave'] + 1}/{result['planned_waves']} {result['state']}: {states}"
        if line != shown:
            print(line, file=sys.stderr, flush=True)
            shown = line
        if result["state"] in _SETTLED:
            break
        time.sleep(1.0)
    if result["state"] in ("rolled_back", "aborted"):
        raise CliError(f"fleet rollout {rollout_id} {result['state']}: {result['reason']}")
    return result if as_json else _render(result)


def _render(r: dict[str, Any]) -> str:
    lines = [
        f"fleet rollout {r['id']}: {r['model']} version {r['version']}  {r['state']}  "
        f"(wave {r['wave'] + 1}/{r['planned_waves']})"
    ]
    if r["reason"]:
        lines.append(f"  reason: {r['reason']}")
    lines.append(f"  {'BOX':<20} {'WAVE':>4} {'STATE':<17} {'PREVIOUS':<9} DETAIL")
    for name, t in r["boxes"].items():
        previous = ",".join(str(v) for v in t.get("previous") or []) or "-"
        lines.append(
            f"  {name:<20} {t['wave'] + 1:>4} {t['state']:<17} {previous:<9} {t['reason']}"
        )
    return "\n".join(lines)
