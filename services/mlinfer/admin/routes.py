"""``/admin``: the panel's page, its static assets, and which optional services it shows.

The panel is a static page that talks to this server's public API from the browser with the
signed-in user's credentials in a header (never a cookie, so no request can ride on ambient
credentials: CSRF has nothing to use). The page itself needs no credentials; everything it
shows does (``models:read``) and its actions need ``models:admin``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from mlinfer.admin.relay import ServiceRelay, caller
from mlinfer.auth.identity import Scope
from mlinfer.listeners.admin_settings import AdminSettings
from mlinfer.transport.policy import RequestPolicy

PREFIX = "/admin"


def static_dir() -> Path:
    return Path(str(resources.files("mlinfer.admin") / "static"))


class AdminRoutes:
    def __init__(
        self,
        settings: AdminSettings,
        policy: RequestPolicy,
        registry_url: Callable[[], str | None] = lambda: None,
    ) -> None:
        """``registry_url``: where the registry is, asked on each call (a registry hosted
        in-process gets its port after the REST app is built)."""
        self._policy = policy
        self._settings = settings
        self._find_registry = registry_url
        self.relay = ServiceRelay(
            policy, self._registry_url, settings.autoscaler_url, settings.exporter_url
        )
        self.csp = "; ".join(
            [
                "default-src 'none'",
                "script-src 'self'",
                "style-src 'self'",
                "img-src 'self' data: blob:",
                # the other services are reached through the relay, on this origin
                "connect-src 'self'",
                "frame-ancestors 'none'",
                "base-uri 'none'",
                "form-action 'none'",
            ]
        )

    def _registry_url(self) -> str | None:
        return self._settings.registry_url or self._find_registry()

    def mount(self, app: FastAPI) -> None:
        app.mount(f"{PREFIX}/static", StaticFiles(directory=static_dir()), name="admin-static")
        app.add_route(PREFIX, self.index, include_in_schema=False)
        app.add_route(f"{PREFIX}/", self.slash, include_in_schema=False)
        app.add_route(f"{PREFIX}/services", self.services, include_in_schema=False)
        app.add_route(
            f"{PREFIX}/api/registry/{{path:path}}",
            self.relay.registry,
            methods=["GET", "POST", "PUT"],
            include_in_schema=False,
        )
        app.add_route(f"{PREFIX}/api/autoscaler", self.relay.autoscaler, include_in_schema=False)
        app.add_route(f"{PREFIX}/api/exporter", self.relay.exporter, include_in_schema=False)

    async def index(self, _: Request) -> Response:
        page = FileResponse(static_dir() / "index.html", media_type="text/html")
        page.headers["content-security-policy"] = self.csp
        return page

    async def slash(self, _: Request) -> Response:
        return RedirectResponse(PREFIX)

    async def services(self, request: Request) -> Response:
        """The optional services' URLs (null = not configured), for a ``models:read`` caller."""
        await self._policy.authorize(caller(request), Scope.MODELS_READ)
        services = {
            "registry": self._registry_url(),
            "exporter": self._settings.exporter_url,
            "autoscaler": self._settings.autoscaler_url,
        }
        return Response(orjson.dumps(services), media_type="application/json")
