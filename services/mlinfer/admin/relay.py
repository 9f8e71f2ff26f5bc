"""The panel's way to the registry and the autoscaler: server-side calls on this origin.

Neither service answers cross-origin requests from a browser (no CORS), and the panel's
CSP lets it connect to this origin only, so the gateway makes the calls for it:

- ``/admin/api/registry/{path}`` forwards to the registry's ``/v1/{path}`` with the caller's
  own credentials, so the registry applies its own rules and its audit log names the real
  actor. The gateway checks first too: reading needs ``models:read``, changing
  ``models:admin`` (with the model's name where the path has one).
- ``/admin/api/autoscaler`` reads the autoscaler's Prometheus metrics and answers JSON:
  desired and current instances per model, decision counts by direction and reason, and
  failures by stage (``models:read``).
- ``/admin/api/exporter`` answers the device exporter's metrics text (``models:read``).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import Response

from mlinfer.auth.identity import Scope
from mlinfer.core.errors import MLInferError, PayloadTooLargeError, StatusCode, UnavailableError
from mlinfer.transport.policy import Caller, RequestPolicy

_FORWARDED = ("authorization", "x-api-key", "content-type")
_ANSWERED = ("retry-after", "www-authenticate", "etag")
_ROOTS = ("models", "audit", "traffic")  # the registry API's collections under /v1
_MAX_BODY = 1 << 20  # the panel sends small JSON documents


class NotThereError(MLInferError):
    status = StatusCode.NOT_FOUND


class ServiceRelay:
    def __init__(
        self,
        policy: RequestPolicy,
        registry_url: Callable[[], str | None],
        autoscaler_url: str | None,
        exporter_url: str | None,
        timeout_s: float = 30.0,
    ) -> None:
        self._policy = policy
        self._registry_url = registry_url
        self._autoscaler_url = autoscaler_url
        self._exporter_url = exporter_url
        self._timeout = httpx.Timeout(timeout_s, connect=5.0)

    async def registry(self, request: Request) -> Response:
        path = request.path_params["path"]
        parts = path.split("/")
        if not parts or parts[0] not in _ROOTS or any(p in ("", ".", "..") for p in parts):
            raise NotThereError(f"no registry API at '{path[:200]}' (known: {list(_ROOTS)})")
        model = parts[1] if parts[0] == "models" and len(parts) > 1 else None
        scope = Scope.MODELS_READ if request.method == "GET" else Scope.MODELS_ADMIN
        await self._policy.authorize(caller(request), scope, model)
        base = self._registry_url()
        if not base:
            raise NotThereError(
                "no registry configured: set MLINFER_ADMIN_REGISTRY_URL (or "
                "MLINFER_REGISTRY_URL), or host one with MLINFER_REGISTRY_EMBEDDED=true"
            )
        body = await _bounded_body(request)
        headers = {k: v for k, v in request.headers.items() if k in _FORWARDED}
        # decoded segments quoted again: a '?' or '#' in a name stays part of the path
        url = f"{base.rstrip('/')}/v1/" + "/".join(quote(p, safe="") for p in parts)
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                upstream = await client.request(
                    request.method, url, params=request.query_params, content=body,
                    headers=headers,
                )  # fmt: skip
        except httpx.HTTPError as exc:
            raise UnavailableError(f"registry at {base} unreachable: {exc!r}") from None
        return Response(
            upstream.content,
            upstream.status_code,
            headers={k: v for k, v in upstream.headers.items() if k in _ANSWERED},
            media_type=upstream.headers.get("content-type", "application/json"),
        )

    async def autoscaler(self, request: Request) -> Response:
        await self._policy.authorize(caller(request), Scope.MODELS_READ)
        url = self._autoscaler_url
        if not url:
            return _json({"configured": False})
        text = await self._scrape("autoscaler", url)
        try:
            state = autoscaler_state(text)
        except ValueError as exc:
            raise UnavailableError(f"autoscaler metrics at {url} unreadable: {exc}") from None
        return _json({"configured": True, "url": url, **state})

    async def exporter(self, request: Request) -> Response:
        await self._policy.authorize(caller(request), Scope.MODELS_READ)
        url = self._exporter_url
        if not url:
            raise NotThereError("no exporter configured: set MLINFER_ADMIN_EXPORTER_URL")
        text = await self._scrape("exporter", url)
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def _scrape(self, service: str, url: str) -> str:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                scraped = await client.get(url)
            scraped.raise_for_status()
        except httpx.HTTPError as exc:
            raise UnavailableError(f"{service} metrics at {url} unavailable: {exc!r}") from None
        return scraped.text


def autoscaler_state(text: str) -> dict[str, object]:
    """The autoscaler's ``mlinfer_autoscaler_*`` series as one document."""
    models: dict[str, dict[str, float]] = {}
    decisions: list[dict[str, object]] = []
    failures: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "mlinfer_autoscaler_desired_instances":
                models.setdefault(labels["model"], {})["desired"] = sample.value
            elif sample.name == "mlinfer_autoscaler_current_instances":
                models.setdefault(labels["model"], {})["current"] = sample.value
            elif sample.name == "mlinfer_autoscaler_decisions_total":
                decisions.append(
                    {
                        "model": labels["model"],
                        "direction": labels["direction"],
                        "reason": labels["reason"],
                        "count": sample.value,
                    }
                )
            elif sample.name == "mlinfer_autoscaler_failures_total":
                failures[labels["stage"]] = sample.value
    return {"models": models, "decisions": decisions, "failures": failures}


async def _bounded_body(request: Request) -> bytes:
    """The body, refused once it passes the bound (not read whole first)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_BODY:
            raise PayloadTooLargeError(f"request body over {_MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def caller(request: Request) -> Caller:
    # every value of each header: more than one credential is refused, not first-wins
    return Caller.from_headers(request.headers, request.client.host if request.client else None)


def _json(doc: object) -> Response:
    return Response(orjson.dumps(doc), media_type="application/json")
