"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) with their assets served from the installed
``fastapi-offline`` package instead of a CDN: an appliance without internet still has them."""

from __future__ import annotations

import importlib.util
import logging
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

log = logging.getLogger(__name__)

ASSETS = "/docs/assets"
# Swagger UI's page starts it with an inline script; nothing may load from elsewhere.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def docs_assets() -> Path:
    return Path(str(resources.files("fastapi_offline") / "static"))


def mount_docs(app: FastAPI) -> None:
    """Serve the API docs offline (the app is built with ``docs_url=None``).

    The assets come from the ``docs`` extra (fastapi-offline); without it there are no
    /docs and /redoc pages (the OpenAPI document itself is always served)."""
    openapi_url = app.openapi_url or "/openapi.json"
    if importlib.util.find_spec("fastapi_offline") is None:
        log.warning("no /docs or /redoc: their assets need `pip install 'mlinfer[docs]'`")
        return
    app.mount(ASSETS, StaticFiles(directory=docs_assets()), name="docs-assets")

    async def swagger(_: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )
        page.headers["content-security-policy"] = DOCS_CSP
        return page

    async def redoc(_: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["content-security-policy"] = DOCS_CSP
        return page

    app.add_route("/docs", swagger, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
