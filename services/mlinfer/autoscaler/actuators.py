"""What changes instance counts, over the servers' public REST APIs.

Both speak the Open Inference Protocol for reading (repository index, model config):
- :class:`EmbeddedActuator`: mlinfer's ``PUT /v2/admin/models/{m}/instances`` (new instances
  are warmed before they take work, removed ones finish their batch);
- :class:`TritonActuator`: Triton cannot add instances at run time except through a load with
  a config override; when only ``instance_group.count`` changes it applies it in place. The
  count is verified by reading the config back.
"""

from __future__ import annotations

import json
from typing import Any

import httpx


class ActuatorError(RuntimeError):
    """A scaling action that failed or did not take effect."""


class RestActuator:
    name = "rest"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def ready_models(self) -> list[str]:
        rows = await self._json("POST", "/v2/repository/index", {"ready": True})
        return sorted({r["name"] for r in rows if r.get("state", "READY") == "READY"})

    async def config(self, model: str) -> dict[str, Any]:
        config: dict[str, Any] = await self._json("GET", f"/v2/models/{model}/config")
        return config

    async def current(self, model: str) -> int:
        return instance_count(await self.config(model))

    async def scale(self, model: str, count: int) -> int:
        raise NotImplementedError

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ActuatorError(f"{method} {path}: {exc!r}") from None
        if response.status_code != 200:
            raise ActuatorError(
                f"{method} {path}: HTTP {response.status_code}: {_error_text(response)}"
            )
        return response.json() if response.content else {}


class EmbeddedActuator(RestActuator):
    name = "embedded"

    async def scale(self, model: str, count: int) -> int:
        doc = await self._json("PUT", f"/v2/admin/models/{model}/instances", {"instances": count})
        return int(doc["instances"])


class TritonActuator(RestActuator):
    name = "triton"

    async def scale(self, model: str, count: int) -> int:
        config = await self.config(model)
        override = with_instance_count(config, count)
        await self._json(
            "POST",
            f"/v2/repository/models/{model}/load",
            {"parameters": {"config": json.dumps(override)}},
        )
        applied = await self.current(model)
        if applied != count:
            raise ActuatorError(
                f"Triton reloaded '{model}' but serves {applied} instances, not {count}"
            )
        return applied


def instance_count(config: dict[str, Any]) -> int:
    groups = config.get("instance_group") or []
    return sum(int(g.get("count", 1)) for g in groups) or 1


def with_instance_count(config: dict[str, Any], count: int) -> dict[str, Any]:
    """The config with ``count`` instances in all: the first group takes the difference."""
    groups = [dict(g) for g in config.get("instance_group") or [{"kind": "KIND_CPU"}]]
    others = sum(int(g.get("count", 1)) for g in groups[1:])
    if count - others < 1:
        raise ActuatorError(f"{count} instances do not cover the {len(groups)} instance groups")
    groups[0]["count"] = count - others
    return {**config, "instance_group": groups}


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return response.text[:200]
