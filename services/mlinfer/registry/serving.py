"""The serving process as the registry sees it: its public REST API, nothing else.

Loads go through ``POST /v2/repository/models/<m>/load`` with a ``config`` override whose
``version_policy`` names exactly the versions to keep loaded (the same call works on
mlinfer and on Triton); readiness and failure reasons come from the repository index.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from google.protobuf import json_format
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.errors import MLInferError
from mlinfer.core.model_config import parse_config
from mlinfer.registry.errors import StorageUnavailableError


class LoadFailedError(MLInferError):
    """The engine refused the version; the message is the engine's reason."""


def config_with_versions(config_text: str, model: str, versions: list[int]) -> mc.ModelConfig:
    config = parse_config(config_text, "config.pbtxt")
    config.name = model
    config.version_policy.specific.versions[:] = sorted(set(versions))
    return config


class ServingClient:
    def __init__(self, base_url: str, api_key: str | None, load_timeout_s: float) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=load_timeout_s
        )
        self._load_timeout_s = load_timeout_s

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StorageUnavailableError(f"serving process unreachable ({path}): {exc}") from exc

    async def ready_versions(self, model: str) -> list[int]:
        rows = await self._index(model)
        return sorted(int(r["version"]) for r in rows if r.get("state") == "READY")

    async def _index(self, model: str) -> list[dict[str, Any]]:
        response = await self._call("POST", "/v2/repository/index", json={})
        response.raise_for_status()
        return [r for r in response.json() if r.get("name") == model and r.get("version")]

    async def load(self, model: str, config: mc.ModelConfig | None, expect: int) -> None:
        """Load (with ``config`` as override, or the repository's) and check ``expect`` is
        ready; else raise the engine's reason."""
        body: dict[str, Any] = {}
        if config is not None:
            override = json_format.MessageToJson(config, preserving_proto_field_name=True)
            body = {"parameters": {"config": override}}
        response = await self._call("POST", f"/v2/repository/models/{model}/load", json=body)
        if response.status_code != 200:
            raise LoadFailedError(_error_text(response))
        await self.wait_ready(model, expect)

    async def unload(self, model: str) -> None:
        response = await self._call("POST", f"/v2/repository/models/{model}/unload", json={})
        if response.status_code != 200:
            raise LoadFailedError(_error_text(response))

    async def wait_ready(self, model: str, version: int) -> None:
        deadline = time.monotonic() + self._load_timeout_s
        while True:
            rows = {int(r["version"]): r for r in await self._index(model)}
            row = rows.get(version)
            if row is not None and row.get("state") == "READY":
                return
            if row is not None and row.get("state") == "UNAVAILABLE":
                raise LoadFailedError(row.get("reason") or f"version {version} is unavailable")
            if row is None and rows:
                raise LoadFailedError(f"version {version} of '{model}' was not loaded")
            if time.monotonic() > deadline:
                raise LoadFailedError(f"version {version} of '{model}' not ready in time")
            await asyncio.sleep(0.05)

    async def metrics(self, url: str) -> str:
        try:
            response = await self._http.get(url, timeout=10)  # absolute URL: any gateway
        except httpx.HTTPError as exc:
            raise StorageUnavailableError(f"metrics unreachable at {url}: {exc}") from exc
        response.raise_for_status()
        return response.text


def _error_text(response: httpx.Response) -> str:
    try:
        return str(json.loads(response.text).get("error", response.text))
    except (ValueError, AttributeError):
        return response.text
