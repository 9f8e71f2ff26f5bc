"""``mlinfer``: serve, manage models, generate the sample repository."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlinfer.cli import autoscaler, exporter, optimize
from mlinfer.cli import registry as registry_cli
from mlinfer.core.errors import MLInferError
from mlinfer.observability.logs import configure_logging, print_banner
from mlinfer.settings import Settings, settings_from_names


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what --workers re-runs
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    return int(args.run(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlinfer", description=__doc__)
    sub = parser.add_subparsers(title="commands")

    serve = sub.add_parser("serve", help="all-in-one: REST + gRPC around one engine")
    _server_options(serve)
    serve.set_defaults(run=_run_serve, rest=True, grpc=True)

    gateway = sub.add_parser("gateway", help="the REST gateway alone (appliance service)")
    _server_options(gateway)
    gateway.set_defaults(run=_run_serve, rest=True, grpc=False)

    grpc = sub.add_parser("grpc", help="the gRPC server alone (appliance service)")
    _server_options(grpc)
    grpc.set_defaults(run=_run_serve, rest=False, grpc=True)

    models = sub.add_parser("models", help="list, load, unload, generate models")
    msub = models.add_subparsers(title="models commands")
    for name, helptext in (
        ("list", "repository index of a running server"),
        ("load", "load or reload a model"),
        ("unload", "unload a model"),
    ):
        cmd = msub.add_parser(name, help=helptext)
        if name != "list":
            cmd.add_argument("model")
        cmd.add_argument("--url", default="http://127.0.0.1:8000", help="server REST URL")
        cmd.set_defaults(run=_run_models, action=name)
    auth = sub.add_parser("auth", help="API keys and tokens")
    asub = auth.add_subparsers(title="auth commands")
    asub.add_parser("new-key", help="print a new random API key").set_defaults(
        run=lambda _: _print(_auth().new_api_key())
    )
    hash_key = asub.add_parser("hash-key", help="print the hash to configure for an API key")
    hash_key.add_argument("key")
    hash_key.set_defaults(run=lambda a: _print(_auth().hash_api_key(a.key)))
    asub.add_parser("new-secret", help="print a new random HS256 secret").set_defaults(
        run=lambda _: _print(_auth().new_jwt_secret())
    )
    token = asub.add_parser("token", help="issue an HS256 token (secret: MLINFER_AUTH_JWT_SECRET)")
    token.add_argument("--subject", required=True)
    token.add_argument("--scope", action="append", default=[], help="infer, models:read, ...")
    token.add_argument("--model", action="append", default=None, help="allowed model glob")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.add_argument("--issuer")
    token.add_argument("--audience")
    token.set_defaults(run=_run_token)

    gen = msub.add_parser("generate", help="write the sample model repository")
    gen.add_argument("--output", type=Path, default=Path("model_repository"))
    gen.add_argument("--only", nargs="*", help="model names to generate (default: all)")
    gen.set_defaults(run=_run_generate)

    registry_cli.add_parser(sub)
    optimize.add_parser(sub)
    bench = sub.add_parser("bench", help="load generator: throughput and latency of a model")
    _bench_options(bench)
    bench.set_defaults(run=_run_bench)
    autoscaler.add_parser(sub)
    exporter.add_parser(sub)
    return parser


def _server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="bind address (MLINFER_HOST)")
    p.add_argument("--http-port", type=int, help="REST port, 0 = any free (MLINFER_HTTP_PORT)")
    p.add_argument("--grpc-port", type=int, help="gRPC port, 0 = any free (MLINFER_GRPC_PORT)")
    p.add_argument("--model-repository", type=Path, help="MLINFER_MODEL_REPOSITORY")
    p.add_argument("--model-control-mode", choices=["none", "explicit", "poll"])
    p.add_argument(
        "--load-model",
        action="append",
        dest="startup_models",
        help="explicit mode: model to load at start (repeat; '*' = all)",
    )
    p.add_argument("--repository-poll-seconds", type=float)
    p.add_argument("--triton", dest="triton_url", help="front a Triton at HOST:PORT (gRPC)")
    p.add_argument(
        "--triton-http",
        dest="triton_http_url",
        metavar="HOST:PORT",
        help="that Triton's HTTP endpoint: REST inferences forwarded as the client's bytes "
        "(MLINFER_TRITON_HTTP_URL)",
    )
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING, ...")
    p.add_argument(
        "--workers",
        type=int,
        dest="workers_count",
        metavar="N",
        help="processes sharing the ports, 0 = one per core; needs --triton "
        "(MLINFER_WORKERS_COUNT)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    fields = (
        "host",
        "http_port",
        "grpc_port",
        "model_repository",
        "model_control_mode",
        "startup_models",
        "repository_poll_seconds",
        "triton_url",
        "triton_http_url",
        "log_level",
        "workers_count",
    )
    overrides: dict[str, Any] = {
        f: getattr(args, f) for f in fields if getattr(args, f, None) is not None
    }
    return settings_from_names(overrides)


def _run_serve(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        print(f"mlinfer: invalid configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    workers = settings.workers.resolved_count(os.cpu_count())
    if workers > 1:
        from mlinfer.cli.workers import refusal, serve_workers

        problem = refusal(settings, workers)
        if problem:
            print(f"mlinfer: {problem}", file=sys.stderr)
            return 2
        return serve_workers(args.argv, settings, workers, rest=args.rest, grpc=args.grpc)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_serve(settings, rest=args.rest, grpc=args.grpc))


async def _serve(settings: Settings, *, rest: bool, grpc: bool) -> int:
    from mlinfer.server import Server

    try:
        server = Server(settings, rest=rest, grpc=grpc)
    except ValueError as exc:
        print(f"mlinfer: invalid configuration: {exc}", file=sys.stderr)
        return 2
    server.stop_on_signals()
    endpoints = await server.start()
    lines = [f"mlinfer ready ({server.backend.name} engine, {await _ready_summary(server)})"]
    scheme = "https" if settings.tls.cert_file else "http"
    admin = (
        f"{scheme}://{endpoints.http}/admin" if endpoints.http and settings.admin.enabled else None
    )
    if endpoints.http:
        lines += [
            f"  REST     {scheme}://{endpoints.http}/v2   docs: {scheme}://{endpoints.http}/docs",
            f"  metrics  {scheme}://{endpoints.http}/metrics",
        ]
    if admin:
        lines.append(f"  admin    {admin}")
    if endpoints.grpc:
        lines.append(f"  gRPC     {endpoints.grpc}")
    registry = server.registry_server.url if server.registry_server is not None else None
    if registry:
        lines.append(f"  registry {registry}/v1   docs: {registry}/docs")
    print_banner(
        lines,
        settings.log_format,
        rest=endpoints.http,
        grpc=endpoints.grpc or None,
        admin=admin,
        registry=registry,
    )
    try:
        await server.wait()
    except asyncio.CancelledError:
        pass
    finally:
        await server.stop()
    return 0


async def _ready_summary(server: Any) -> str:
    try:
        index = await server.dataplane.repository_index(ready_only=True)
    except MLInferError as exc:  # e.g. Triton not up yet: serve anyway, report not ready
        return f"backend not ready yet: {exc}"
    return f"{len(index)} model versions ready"


def _run_models(args: argparse.Namespace) -> int:
    import httpx

    base = args.url.rstrip("/")
    with httpx.Client(timeout=300) as client:
        if args.action == "list":
            response = client.post(f"{base}/v2/repository/index", json={})
        else:
            response = client.post(f"{base}/v2/repository/models/{args.model}/{args.action}")
    if response.status_code != 200:
        print(f"error: {response.json().get('error', response.text)}", file=sys.stderr)
        return 1
    if args.action == "list":
        rows = response.json()
        print(f"{'MODEL':<24} {'VERSION':<8} {'STATE':<12} REASON")
        for row in rows:
            print(
                f"{row['name']:<24} {row.get('version', ''):<8} "
                f"{row.get('state', '-'):<12} {row.get('reason', '')}"
            )
    else:
        print(f"{args.model}: {args.action}ed")
    return 0


def _auth() -> Any:
    import mlinfer.auth

    return mlinfer.auth


def _print(text: str) -> int:
    print(text)
    return 0


def _run_token(args: argparse.Namespace) -> int:
    from mlinfer.auth.settings import AuthSettings

    # Issuing needs only the secret, not a server configuration that would accept it.
    secret = AuthSettings(mode="disabled").jwt_secret
    if secret is None:
        print("mlinfer: set MLINFER_AUTH_JWT_SECRET to sign tokens", file=sys.stderr)
        return 2
    token = _auth().issue_token(
        secret.get_secret_value(),
        args.subject,
        args.scope or ["infer"],
        models=args.model,
        ttl_s=args.ttl,
        issuer=args.issuer,
        audience=args.audience,
    )
    return _print(token)


def _run_generate(args: argparse.Namespace) -> int:
    from mlinfer.samples.models import SAMPLE_BUILDERS
    from mlinfer.samples.writer import write_repository

    builders = (
        [b for b in SAMPLE_BUILDERS if not args.only or b().name in args.only]
        if args.only
        else list(SAMPLE_BUILDERS)
    )
    paths = write_repository(args.output, builders, progress=lambda m: print(m, flush=True))
    print(f"{len(paths)} models written to {args.output}")
    return 0


def _bench_options(p: argparse.ArgumentParser) -> None:
    from mlinfer.bench.cli import add_arguments  # stdlib only: cheap

    add_arguments(p)


def _run_bench(args: argparse.Namespace) -> int:
    from mlinfer.bench.cli import run_from_args

    return run_from_args(args)


if __name__ == "__main__":
    sys.exit(main())
