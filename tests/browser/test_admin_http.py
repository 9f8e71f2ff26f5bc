"""What the panel and docs pages send before any script runs: headers, auth, assets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlinfer.auth import issue_token
from tests.support.registry import embedded, registry_settings, serving_repository
from tests.support.servers import ServerThread, settings_for

SECRET = "h" * 48


@pytest.fixture(scope="module")
def srv(sample_repository: Path) -> Iterator[ServerThread]:
    settings = settings_for(
        sample_repository,
        auth_mode="required",
        auth_jwt_secret=SECRET,
        startup_models=["simple"],
        admin_registry_url="http://127.0.0.1:9",  # nothing listens there
    )
    with ServerThread(settings) as server:
        yield server


def test_admin_page_has_a_strict_csp_and_the_gateway_headers(srv: ServerThread) -> None:
    page = httpx.get(f"http://{srv.http}/admin")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp
    # the registry is reached through this origin's relay: the page may connect nowhere else
    assert "connect-src 'self';" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "cdn" not in page.text and "http" not in page.text.replace("http-equiv", "")


def test_services_need_models_read(srv: ServerThread) -> None:
    url = f"http://{srv.http}/admin/services"
    assert httpx.get(url).status_code == 401
    token = issue_token(SECRET, "viewer", ["models:read"])
    doc = httpx.get(url, headers={"Authorization": f"Bearer {token}"}).json()
    assert doc == {
        "registry": "http://127.0.0.1:9",
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


def _as(scopes: list[str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, 'someone', scopes)}"}


def test_relay_checks_scopes_before_it_calls_the_registry(srv: ServerThread) -> None:
    base = f"http://{srv.http}/admin/api/registry"
    assert httpx.get(f"{base}/models").status_code == 401
    refused = httpx.post(f"{base}/models/simple/deploy", json={"version": "1"},
                         headers=_as(["models:read"]))  # fmt: skip
    assert refused.status_code == 403 and "models:admin" in refused.json()["error"]
    # allowed through, the unreachable registry is named (the gateway keeps serving)
    down = httpx.get(f"{base}/models", headers=_as(["models:read"]))
    assert down.status_code == 503
    assert "registry at http://127.0.0.1:9 unreachable" in down.json()["error"]
    assert httpx.get(f"http://{srv.http}/v2/health/ready",
                     headers=_as(["models:read"])).status_code == 200  # fmt: skip


@pytest.mark.parametrize("path", ["docs", "healthz", "models/../docs", "models//x", ""])
def test_relay_reaches_only_the_registry_api(srv: ServerThread, path: str) -> None:
    response = httpx.get(
        f"http://{srv.http}/admin/api/registry/{path}", headers=_as(["models:admin"])
    )
    assert response.status_code == 404, response.text


def test_relay_without_a_registry_or_an_autoscaler(sample_repository: Path) -> None:
    settings = settings_for(sample_repository, startup_models=["simple"])
    with ServerThread(settings) as server:
        missing = httpx.get(f"http://{server.http}/admin/api/registry/models")
        assert missing.status_code == 404
        assert "MLINFER_REGISTRY_EMBEDDED=true" in missing.json()["error"]
        scaler = httpx.get(f"http://{server.http}/admin/api/autoscaler")
        assert scaler.status_code == 200 and scaler.json() == {"configured": False}


def test_relay_refuses_a_large_body_before_forwarding(srv: ServerThread) -> None:
    response = httpx.post(
        f"http://{srv.http}/admin/api/registry/models/simple/traffic",
        content=b"{" + b" " * (2 << 20) + b"}",
        headers={**_as(["models:admin"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and "request body over" in response.json()["error"]


def test_relay_passes_the_registrys_answers_through(tmp_path: Path) -> None:
    repo = serving_repository(tmp_path)
    with embedded(repo, registry_settings(tmp_path / "registry")) as server:
        base = f"http://{server.http}/admin/api/registry"
        assert httpx.get(f"{base}/models").json() == []
        # a '?' in a name stays in the path: the registry is asked for model 'a?b'
        unknown = httpx.get(f"{base}/models/a%3Fb")
        assert unknown.status_code == 404 and "a?b" in unknown.json()["error"], unknown.text
        bad = httpx.put(f"{base}/models/simple/traffic", json={"arms": "half"})
        assert bad.status_code == 400 and "arms" in bad.json()["error"]
        assert httpx.get(f"{base}/audit").json() == []  # the bad call changed nothing
