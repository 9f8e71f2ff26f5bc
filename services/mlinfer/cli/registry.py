"""``mlinfer registry``: run the registry service, or talk to one over its REST API."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

DEFAULT_URL = "http://127.0.0.1:8080"


def add_parser(subparsers: Any) -> None:
    registry = subparsers.add_parser(
        "registry", help="model registry: push, deploy, split, canary, rollback, gc, fleet"
    )
    registry.set_defaults(run=lambda _a: (registry.print_help(), 2)[1])
    sub = registry.add_subparsers(title="registry commands")

    serve = sub.add_parser("serve", help="run the registry service (MLINFER_REGISTRY_*)")
    serve.add_argument("--host", help="bind address (MLINFER_REGISTRY_HOST)")
    serve.add_argument("--port", type=int, help="port, 0 = any free (MLINFER_REGISTRY_PORT)")
    serve.add_argument("--database-url", help="MLINFER_REGISTRY_DATABASE_URL")
    serve.add_argument("--serving-url", help="REST URL deploys load into")
    serve.add_argument("--serving-repository", type=Path, help="that server's model repository")
    serve.set_defaults(run=_run_serve)

    def command(
        name: str,
        helptext: str,
        handler: Callable[[Any, argparse.Namespace], Any],
        parent: Any = None,
    ) -> Any:
        cmd = (parent or sub).add_parser(name, help=helptext)
        cmd.add_argument(
            "--url",
            default=os.environ.get("MLINFER_REGISTRY_URL", DEFAULT_URL),
            help=f"registry URL (MLINFER_REGISTRY_URL, default {DEFAULT_URL})",
        )
        cmd.add_argument(
            "--api-key",
            default=os.environ.get("MLINFER_REGISTRY_API_KEY"),
            help="API key with models:admin (MLINFER_REGISTRY_API_KEY)",
        )
        cmd.add_argument("--token", default=os.environ.get("MLINFER_TOKEN"), help="bearer JWT")
        cmd.add_argument("--json", action="store_true", help="print the raw JSON answer")
        cmd.set_defaults(run=lambda a: _client_call(a, handler))
        return cmd

    push = command("push", "upload a model version (sha256-addressed)", _push)
    push.add_argument("model")
    push.add_argument("artifact", type=Path, help="model file (model.onnx, model.plan, ...)")
    push.add_argument("--config", type=Path, required=True, help="config.pbtxt")
    push.add_argument("--format", default="onnx", choices=["onnx", "plan", "torchscript", "python"])
    push.add_argument("--source", default="", help="where it came from (git URL, run id)")
    push.add_argument("--metric", action="append", default=[], help="NAME=VALUE, repeatable")

    command("list", "models, versions, aliases, traffic", _list)
    show = command("show", "one model (or one version with --version)", _show)
    show.add_argument("model")
    show.add_argument("--version", help="number or alias")

    deploy = command("deploy", "hot-swap a version into the serving process", _deploy)
    deploy.add_argument("model")
    deploy.add_argument("version", help="number or alias")
    deploy.add_argument("--keep-previous", action="store_true", help="keep the old one loaded")

    split = command("split", "set a fixed traffic split, e.g. 1=90 2=10", _split)
    split.add_argument("model")
    split.add_argument("arms", nargs="+", help="VERSION=WEIGHT (weights sum to 100)")
    split.add_argument("--sticky", help="'header:X-Session-ID' or 'identity'")

    canary = command("canary", "canary with automatic promotion or rollback", _canary)
    canary.add_argument("model")
    canary.add_argument("version")
    canary.add_argument("--steps", default="5,25,50,100", help="candidate weights, e.g. 5,25,50")
    canary.add_argument("--interval", type=float, default=60.0, help="seconds between checks")
    canary.add_argument("--analysis", default="{}", help='JSON, e.g. {"threshold": 2}')
    canary.add_argument("--keep-previous", action="store_true")

    ab = command("ab", "fixed A/B split with a per-arm report (no promotion)", _ab)
    ab.add_argument("model")
    ab.add_argument("version")
    ab.add_argument("--weight", type=int, default=50, help="candidate share in percent")

    for name, helptext in (
        ("promote", "promote the rollout in progress"),
        ("pause", "pause the canary"),
        ("resume", "resume the canary"),
        ("abort", "abort the rollout (back to baseline)"),
    ):
        cmd = command(name, helptext, _action(name))
        cmd.add_argument("model")
    rollback = command("rollback", "roll back a rollout, or to the previous version", _rollback)
    rollback.add_argument("model")
    rollback.add_argument("--to", help="version or alias")

    status = command("status", "rollout state, per-arm report, recent deploys", _status)
    status.add_argument("model")
    gc = command("gc", "remove artifacts of old versions", _gc)
    gc.add_argument("--keep-last", type=int)
    gc.add_argument("--dry-run", action="store_true")
    audit = command("audit", "the audit log", _audit)
    audit.add_argument("--model")
    audit.add_argument("--limit", type=int, default=50)

    from mlinfer.cli import registry_fleet  # imports this module's client helpers

    registry_fleet.add_commands(sub, command)


# -- the service --------------------------------------------------------------------------
def _run_serve(args: argparse.Namespace) -> int:
    from mlinfer.auth.authenticator import Authenticator
    from mlinfer.observability.logs import configure_logging
    from mlinfer.registry.settings import RegistrySettings
    from mlinfer.settings import Settings

    overrides = {
        k: getattr(args, k)
        for k in ("host", "port", "database_url", "serving_url", "serving_repository")
        if getattr(args, k) is not None
    }
    try:
        settings = RegistrySettings(**overrides)
        process = Settings()  # auth (MLINFER_AUTH_*), logging
        authenticator = Authenticator(process.auth)
    except ValueError as exc:
        print(f"mlinfer registry: invalid configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(process.log_level, process.log_format)
    return asyncio.run(_serve(settings, authenticator))


async def _serve(settings: Any, authenticator: Any) -> int:
    import signal

    from mlinfer.registry.process import RegistryServer

    server = RegistryServer(settings, authenticator)
    url = await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.request_stop)
    print(f"mlinfer registry ready  {url}/v1   docs: {url}/docs", flush=True)
    try:
        await server.wait()
    finally:
        await server.stop()
    return 0


# -- the client ---------------------------------------------------------------------------
class CliError(Exception):
    pass


def _client_call(
    args: argparse.Namespace, handler: Callable[[Any, argparse.Namespace], Any]
) -> int:
    import httpx

    headers = {}
    if args.api_key:
        headers["X-API-Key"] = args.api_key
    elif args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    try:
        with httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=600) as client:
            result = handler(client, args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"error: registry unreachable at {args.url}: {exc}", file=sys.stderr)
        return 1
    if result is not None:
        if args.json or not isinstance(result, str):
            print(json.dumps(result, indent=2))
        else:
            print(result)
    return 0


def _check(response: Any) -> Any:
    if response.status_code >= 400:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        raise CliError(f"{response.status_code}: {message}")
    return response.json() if response.content else {}


class _Progress:
    """A progress bar on stderr while the upload body is read."""

    def __init__(self, file: BinaryIO, total: int, label: str) -> None:
        self._file, self._total, self._label = file, max(total, 1), label
        self._sent = 0
        self._shown = -1

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._sent += len(chunk)
        percent = int(100 * self._sent / self._total)
        if percent != self._shown:
            self._shown = percent
            bar = "#" * (percent // 4)
            mb = f"{_size(self._sent)}/{_size(self._total)}"
            print(f"\r{self._label} [{bar:<25}] {percent:3d}% {mb}", end="", file=sys.stderr)
            if self._sent >= self._total:
                print(file=sys.stderr)
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(1024 * 1024):
            yield chunk


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _push(client: Any, args: argparse.Namespace) -> Any:
    for path in (args.artifact, args.config):
        if not path.is_file():
            raise CliError(f"no such file: {path}")
    metrics: dict[str, Any] = {}
    for item in args.metric:
        name, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--metric takes NAME=VALUE, got '{item}'")
        try:
            metrics[name] = float(value)
        except ValueError:
            metrics[name] = value
    data = {
        "config": args.config.read_text(),
        "format": args.format,
        "sha256": _sha256(args.artifact),
        "source": args.source,
        "metrics": json.dumps(metrics),
    }
    with args.artifact.open("rb") as f:
        progress = _Progress(f, args.artifact.stat().st_size, f"pushing {args.artifact.name}")
        files = {"artifact": (args.artifact.name, progress, "application/octet-stream")}
        result = _check(client.post(f"/v1/models/{args.model}/versions", data=data, files=files))
    if args.json:
        return result
    return f"{args.model} version {result['version']} pushed (sha256:{result['sha256'][:12]})"


def _list(client: Any, args: argparse.Namespace) -> Any:
    rows = _check(client.get("/v1/models"))
    if args.json:
        return rows
    lines = [f"{'MODEL':<24} {'VERSIONS':<16} {'ALIASES':<28} TRAFFIC"]
    for row in rows:
        versions = ",".join(str(v) for v in row["versions"])
        aliases = ",".join(f"{k}={v}" for k, v in sorted(row["aliases"].items()))
        traffic = ",".join(f"{k}:{v}%" for k, v in row["traffic"].items())
        lines.append(f"{row['name']:<24} {versions:<16} {aliases:<28} {traffic}")
    return "\n".join(lines)


def _show(client: Any, args: argparse.Namespace) -> Any:
    if args.version:
        return _check(client.get(f"/v1/models/{args.model}/versions/{args.version}"))
    return _check(client.get(f"/v1/models/{args.model}"))


def _deploy(client: Any, args: argparse.Namespace) -> Any:
    print(f"deploying {args.model} version {args.version} ...", file=sys.stderr, flush=True)
    body = {"version": args.version, "keep_previous": args.keep_previous}
    result = _check(client.post(f"/v1/models/{args.model}/deploy", json=body))
    if args.json:
        return result
    return f"{args.model} version {result['version']} serving (was {result['previous'] or '-'})"


def _split(client: Any, args: argparse.Namespace) -> Any:
    arms: dict[str, int] = {}
    for item in args.arms:
        version, sep, weight = item.partition("=")
        if not sep or not weight.isdigit():
            raise CliError(f"arms are VERSION=WEIGHT, got '{item}'")
        arms[version] = int(weight)
    body = {"arms": arms, "sticky": args.sticky}
    return _check(client.put(f"/v1/models/{args.model}/traffic", json=body))


def _canary(client: Any, args: argparse.Namespace) -> Any:
    try:
        steps = [int(s) for s in args.steps.split(",")]
        analysis = json.loads(args.analysis)
    except ValueError as exc:
        raise CliError(f"--steps are integers like 5,25,50 and --analysis is JSON: {exc}") from None
    body = {
        "version": args.version,
        "steps": steps,
        "interval_s": args.interval,
        "analysis": analysis,
        "keep_previous": args.keep_previous,
    }
    return _check(client.post(f"/v1/models/{args.model}/canary", json=body))


def _ab(client: Any, args: argparse.Namespace) -> Any:
    body = {"version": args.version, "weight": args.weight}
    return _check(client.post(f"/v1/models/{args.model}/ab", json=body))


def _action(name: str) -> Callable[[Any, argparse.Namespace], Any]:
    def run(client: Any, args: argparse.Namespace) -> Any:
        return _check(client.post(f"/v1/models/{args.model}/{name}"))

    return run


def _rollback(client: Any, args: argparse.Namespace) -> Any:
    return _check(client.post(f"/v1/models/{args.model}/rollback", json={"to": args.to}))


def _status(client: Any, args: argparse.Namespace) -> Any:
    result = _check(client.get(f"/v1/models/{args.model}/status"))
    if args.json:
        return result
    traffic = result["traffic"] or {}
    arms = " ".join(f"{v}:{w}%" for v, w in traffic.get("arms", {}).items()) or "-"
    sticky = f" (sticky {traffic['sticky']})" if traffic.get("sticky") else ""
    lines = [f"model {args.model}   traffic {arms}{sticky}"]
    report = result.get("rollout") or {}
    rollout = report.get("rollout")
    if rollout:
        lines.append(
            f"{rollout['kind']} {rollout['baseline']} -> {rollout['candidate']}: "
            f"{rollout['state']} (step {rollout['step'] + 1}/{len(rollout['steps'])}, "
            f"failed checks {rollout['failed_checks']})"
        )
        if rollout["reason"]:
            lines.append(f"  reason: {rollout['reason']}")
        lines.append(f"  {'ARM':<8} {'REQUESTS':>9} {'ERRORS':>7} {'P50 ms':>8} {'P95 ms':>8} "
                     f"{'P99 ms':>8}")  # fmt: skip
        for arm, s in report.get("arms", {}).items():
            lines.append(
                f"  {arm:<8} {s['requests']:>9} {s['errors']:>7} {s['p50_ms']:>8} "
                f"{s['p95_ms']:>8} {s['p99_ms']:>8}"
            )
        lines.extend(_class_lines(report.get("arms", {})))
    for d in result.get("deployments", [])[:3]:
        reason = f" ({d['reason']})" if d["reason"] else ""
        lines.append(f"deploy #{d['id']} version {d['version']}: {d['state']}{reason}")
    return "\n".join(lines)


def _class_lines(arms: dict[str, Any], top: int = 10) -> list[str]:
    """Per arm, each predicted class's share of that arm's predictions (classifiers only)."""
    if not any(s.get("classes") for s in arms.values()):
        return []
    lines = ["  predicted classes (share of the arm's predictions):"]
    for arm, s in arms.items():
        classes = s.get("classes") or {}
        total = sum(classes.values())
        shown = " ".join(f"{c} {n / total:.1%}" for c, n in list(classes.items())[:top])
        more = f" (+{len(classes) - top} more)" if len(classes) > top else ""
        lines.append(f"  {arm:<8} {shown or '-'}{more}")
    return lines


def _gc(client: Any, args: argparse.Namespace) -> Any:
    body = {"keep_last": args.keep_last, "dry_run": args.dry_run}
    return _check(client.post("/v1/gc", json=body))


def _audit(client: Any, args: argparse.Namespace) -> Any:
    params: dict[str, Any] = {"limit": args.limit}
    if args.model:
        params["model"] = args.model
    rows = _check(client.get("/v1/audit", params=params))
    if args.json:
        return rows
    return "\n".join(
        f"{r['at']}  {r['actor']:<16} {r['action']:<18} {r['model']:<16} {json.dumps(r['after'])}"
        for r in rows
    )
