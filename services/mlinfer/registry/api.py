"""The registry's REST admin API (FastAPI; OpenAPI docs at ``/docs``).

Every call needs the ``models:admin`` scope, except reading traffic policies, which
gateways do with ``models:read``. Errors are ``{"error": "..."}`` with the status of the
``MLInferError`` raised (404 unknown names, 400 bad input, 409 busy, 503 storage down).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError

from mlinfer.auth.authenticator import Authenticator
from mlinfer.auth.identity import Identity, Scope
from mlinfer.auth.policy import authorize
from mlinfer.core.errors import MLInferError
from mlinfer.registry.analysis import AnalysisConfig
from mlinfer.registry.artifacts import copy_with_digest
from mlinfer.registry.errors import BadRequestError
from mlinfer.registry.fleet_api import fleet_router
from mlinfer.registry.gc import collect
from mlinfer.registry.policies import write_policy
from mlinfer.registry.service import Registry
from mlinfer.registry.serving import LoadFailedError


class DeployBody(BaseModel):
    version: str = Field(description="Version number or alias.")
    keep_previous: bool = Field(False, description="Keep the old version loaded (fast rollback).")


class SplitBody(BaseModel):
    arms: dict[str, int] = Field(description="version -> weight; weights sum to 100.")
    sticky: str | None = Field(None, description="'header:<name>' or 'identity'.")


class CanaryBody(BaseModel):
    version: str
    steps: list[int] = Field(default_factory=lambda: [5, 25, 50, 100])
    interval_s: float = 60.0
    analysis: dict[str, Any] = Field(default_factory=dict)
    keep_previous: bool = False


class AbBody(BaseModel):
    version: str
    weight: int = Field(50, description="Share of the candidate, 1..99.")


class RollbackBody(BaseModel):
    to: str | None = Field(None, description="Version or alias; default: the previous one.")


class AliasBody(BaseModel):
    version: str


class GcBody(BaseModel):
    keep_last: int | None = None
    dry_run: bool = False


def create_registry_app(registry: Registry, authenticator: Authenticator) -> FastAPI:
    app = FastAPI(
        title="mlinfer registry",
        description="Model versions, artifacts, deploys, traffic splits, canaries, fleet rollouts.",
        version="1",
    )
    router = APIRouter(prefix="/v1")

    async def allow(request: Request, scope: Scope, model: str | None = None) -> Identity:
        identity = await authenticator.authenticate(  # every value: two are refused
            request.headers.getlist("authorization"), request.headers.getlist("x-api-key")
        )
        authorize(identity, scope, model)
        return identity

    async def admin(request: Request, model: str | None = None) -> str:
        return (await allow(request, Scope.MODELS_ADMIN, model)).subject

    @router.post("/models/{model}/versions", status_code=201, summary="Push a version")
    async def push(
        request: Request,
        model: str,
        artifact: Annotated[UploadFile, File(description="The model file (ONNX, plan, ...).")],
        config: Annotated[str, Form(description="config.pbtxt text.")],
        format: Annotated[str, Form()] = "onnx",
        sha256: Annotated[str | None, Form(description="Digest the client computed.")] = None,
        source: Annotated[str, Form()] = "",
        metrics: Annotated[str, Form(description="JSON object, e.g. accuracy.")] = "{}",
    ) -> Any:
        actor = await admin(request, model)
        try:
            metrics_doc = json.loads(metrics)
        except ValueError:
            raise BadRequestError("'metrics' must be a JSON object") from None
        if not isinstance(metrics_doc, dict):
            raise BadRequestError("'metrics' must be a JSON object")
        with tempfile.TemporaryDirectory(prefix="mlinfer-push-") as tmp:
            path = Path(tmp) / "artifact"
            digest, size = await asyncio.to_thread(copy_with_digest, artifact.file, path)
            return await asyncio.to_thread(
                registry.catalog.push, model, format, config, path, digest, size,
                actor=actor, claimed_sha256=sha256, source=source, metrics=metrics_doc,
            )  # fmt: skip

    @router.get("/models", summary="List models")
    async def list_models(request: Request) -> Any:
        await admin(request)
        return await asyncio.to_thread(registry.catalog.list_models)

    @router.get("/models/{model}", summary="A model: versions, aliases, traffic, last deploy")
    async def show(request: Request, model: str) -> Any:
        await admin(request, model)
        return await asyncio.to_thread(registry.catalog.show, model)

    @router.get("/models/{model}/versions/{ref}", summary="One version (number or alias)")
    async def version(request: Request, model: str, ref: str) -> Any:
        await admin(request, model)
        return await asyncio.to_thread(registry.catalog.version_info, model, ref)

    @router.put("/models/{model}/aliases/{alias}", summary="Point an alias at a version")
    async def alias(request: Request, model: str, alias: str, body: AliasBody) -> Any:
        actor = await admin(request, model)
        return await asyncio.to_thread(
            registry.catalog.set_alias, model, alias, body.version, actor
        )

    @router.post("/models/{model}/deploy", summary="Deploy a version (hot swap)")
    async def deploy(request: Request, model: str, body: DeployBody) -> Any:
        actor = await admin(request, model)
        try:
            return await registry.deployer.deploy(
                model, body.version, keep_previous=body.keep_previous, actor=actor
            )
        except LoadFailedError as exc:
            raise BadRequestError(
                f"deploy failed, the current version keeps serving: {exc}"
            ) from None

    @router.put("/models/{model}/traffic", summary="Set the traffic split (A/B by hand)")
    async def split(request: Request, model: str, body: SplitBody) -> Any:
        actor = await admin(request, model)

        def write() -> dict[str, Any]:
            with registry.catalog.sessions.begin() as session:
                row = registry.catalog.model(session, model)
                return write_policy(session, row, body.arms, body.sticky, actor)

        result = await asyncio.to_thread(write)
        registry.hub.notify()
        return result

    @router.post("/models/{model}/canary", summary="Start a canary with automatic analysis")
    async def canary(request: Request, model: str, body: CanaryBody) -> Any:
        actor = await admin(request, model)
        try:
            analysis = AnalysisConfig.from_json(body.analysis)
        except (TypeError, ValueError) as exc:
            raise BadRequestError(f"invalid analysis: {exc}") from None
        return await _rollout(model, body.version, "canary", body.steps, body.interval_s,
                              analysis, body.keep_previous, actor)  # fmt: skip

    @router.post("/models/{model}/ab", summary="Start a fixed A/B split with a per-arm report")
    async def ab(request: Request, model: str, body: AbBody) -> Any:
        actor = await admin(request, model)
        if not 0 < body.weight < 100:
            raise BadRequestError("weight must be in 1..99")
        return await _rollout(model, body.version, "ab", [body.weight], 3600.0,
                              AnalysisConfig(), True, actor)  # fmt: skip

    async def _rollout(
        model: str,
        ref: str,
        kind: str,
        steps: list[int],
        interval_s: float,
        analysis: AnalysisConfig,
        keep_previous: bool,
        actor: str,
    ) -> Any:
        try:
            result = await registry.rollouts.start_rollout(
                model, ref, kind=kind, steps=steps, interval_s=interval_s, analysis=analysis,
                keep_previous=keep_previous, actor=actor,
            )  # fmt: skip
        except LoadFailedError as exc:
            raise BadRequestError(
                f"{kind} not started, the current version serves: {exc}"
            ) from None
        registry.hub.notify()
        return result

    @router.post("/models/{model}/promote", summary="Promote the rollout in progress now")
    async def promote(request: Request, model: str) -> Any:
        return await registry.rollouts.promote(model, await admin(request, model))

    @router.post("/models/{model}/pause", summary="Pause the canary in progress")
    async def pause(request: Request, model: str) -> Any:
        return await registry.rollouts.pause(model, await admin(request, model))

    @router.post("/models/{model}/resume", summary="Resume a paused canary")
    async def resume(request: Request, model: str) -> Any:
        return await registry.rollouts.resume(model, await admin(request, model))

    @router.post("/models/{model}/abort", summary="Abort the rollout: back to the baseline")
    async def abort(request: Request, model: str) -> Any:
        actor = await admin(request, model)
        return await registry.rollouts.rollback(model, actor, f"aborted by {actor}", "aborted")

    @router.post("/models/{model}/rollback", summary="Roll back a rollout, or to a version")
    async def rollback(request: Request, model: str, body: RollbackBody | None = None) -> Any:
        actor = await admin(request, model)
        target = body.to if body else None
        if target is None:
            active = await asyncio.to_thread(registry.rollouts.latest, model)
            if active is not None and active["state"] in ("running", "paused"):
                return await registry.rollouts.rollback(
                    model, actor, f"rolled back by {actor}", "rolled_back"
                )
            history = await asyncio.to_thread(registry.deployer.history, model, 1)
            previous = history[0]["previous"] if history else []
            if not previous:
                raise BadRequestError(f"'{model}' has no previous version to roll back to")
            target = str(max(previous))
        info = await asyncio.to_thread(registry.catalog.version_info, model, target)
        if info["version"] in await registry.serving.ready_versions(model):
            # Still loaded (keep_previous): a rollback is a pointer flip.
            await asyncio.to_thread(registry.ops.claim, model, "rollback")
            try:
                after = await registry.ops.shift(model, {info["version"]: 100}, actor, "rollback")
            finally:
                await asyncio.to_thread(registry.ops.release, model, "rollback")
            return {"model": model, "version": info["version"], "traffic": after}
        try:
            return await registry.deployer.deploy(model, target, keep_previous=True, actor=actor)
        except LoadFailedError as exc:
            raise BadRequestError(
                f"rollback failed, the current version keeps serving: {exc}"
            ) from None

    @router.get("/models/{model}/status", summary="Rollout state, per-arm report, deploys")
    async def status(request: Request, model: str) -> Any:
        await admin(request, model)
        shown = await asyncio.to_thread(registry.catalog.show, model)
        try:
            report = await registry.rollouts.report(model)
        except MLInferError as exc:
            report = {"error": str(exc)}
        deployments = await asyncio.to_thread(registry.deployer.history, model, 5)
        return {"model": model, "traffic": shown["traffic"], "rollout": report,
                "deployments": deployments}  # fmt: skip

    @router.post("/gc", summary="Remove artifacts of old versions (keep last N)")
    async def gc(request: Request, body: GcBody) -> Any:
        actor = await admin(request)
        keep = body.keep_last or registry.settings.gc_keep_last
        serving: dict[str, list[int]] = {}
        for row in await asyncio.to_thread(registry.catalog.list_models):
            try:
                serving[row["name"]] = await registry.serving.ready_versions(row["name"])
            except MLInferError:
                raise BadRequestError(
                    "gc needs the serving process to know what is loaded"
                ) from None
        removed = await asyncio.to_thread(
            collect, registry.catalog, keep, serving, dry_run=body.dry_run, actor=actor
        )
        return {"removed": removed, "dry_run": body.dry_run}

    @router.get("/audit", summary="Audit log (append-only)")
    async def audit(
        request: Request, model: str | None = None, limit: int = Query(100, ge=1, le=10000)
    ) -> Any:
        await admin(request, model)
        return await asyncio.to_thread(registry.catalog.audit, model, limit)

    @router.get("/traffic/policies", summary="Every model's policy (ETag long-poll)")
    async def policies(request: Request, wait: float = Query(0.0, ge=0, le=300)) -> Response:
        await allow(request, Scope.MODELS_READ)
        known = request.headers.get("if-none-match")
        etag, doc = await registry.hub.poll(known, wait, request.headers.get("x-subscriber"))
        if doc is None:
            return Response(status_code=304, headers={"ETag": etag})
        return JSONResponse({"etag": etag, "policies": doc}, headers={"ETag": etag})

    @router.get("/traffic/subscribers", summary="Gateways seen recently and the etag each holds")
    async def subscribers(request: Request) -> Any:
        await admin(request)
        return registry.hub.subscribers()

    app.include_router(router)
    app.include_router(fleet_router(registry.fleet, admin))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Any:
        return {"status": "ok"}

    async def mlinfer_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, MLInferError)
        headers = {}
        if exc.retry_after_s is not None:
            headers["Retry-After"] = str(int(exc.retry_after_s))
        challenge = getattr(exc, "www_authenticate", None)
        if challenge:
            headers["WWW-Authenticate"] = challenge
        return JSONResponse({"error": exc.message}, exc.status.value, headers=headers)

    async def database_error(_: Request, exc: Exception) -> Response:
        return JSONResponse(
            {"error": f"registry database unavailable: {type(exc).__name__}"},
            503,
            headers={"Retry-After": "5"},
        )

    async def validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return JSONResponse({"error": f"invalid request: {problems}"}, 400)

    app.add_exception_handler(MLInferError, mlinfer_error)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    return app
