"""What the panel and docs pages send before any script runs: headers, auth, assets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlinfer.auth import issue_token
from tests.support.servers import ServerThread, settings_for

SECRET = "h" * 48


@pytest.fixture(scope="module")
def srv(sample_repository: Path) -> Iterator[ServerThread]:
    settings = settings_for(
        sample_repository,
        auth_mode="required",
        auth_jwt_secret=SECRET,
        startup_models=["simple"],
        admin_registry_url="http://127.0.0.1:9/registry/v1",
    )
    with ServerThread(settings) as server:
        yield server


def test_admin_page_has_a_strict_csp_and_the_gateway_headers(srv: ServerThread) -> None:
    page = httpx.get(f"http://{srv.http}/admin")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp
    assert "connect-src 'self' http://127.0.0.1:9" in csp  # the configured registry's origin
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "cdn" not in page.text and "http" not in page.text.replace("http-equiv", "")


def test_services_need_models_read(srv: ServerThread) -> None:
    url = f"http://{srv.http}/admin/services"
    assert httpx.get(url).status_code == 401
    token = issue_token(SECRET, "viewer", ["models:read"])
    doc = httpx.get(url, headers={"Authorization": f"Bearer {token}"}).json()
    assert doc == {
        "registry": "http://127.0.0.1:9/registry/v1",
        "exporter": None,
        "autoscaler": None,
    }


def test_assets_ship_in_the_package_and_docs_use_them(srv: ServerThread) -> None:
    for asset in ("app.js", "api.js", "chart.js", "metrics.js", "style.css"):
        assert httpx.get(f"http://{srv.http}/admin/static/{asset}").status_code == 200
    assert httpx.get(f"http://{srv.http}/admin/static/../routes.py").status_code == 404
    for page in ("/docs", "/redoc"):
        text = httpx.get(f"http://{srv.http}{page}").text
        assert "cdn.jsdelivr.net" not in text and "/docs/assets/" in text
    bundle = httpx.get(f"http://{srv.http}/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
