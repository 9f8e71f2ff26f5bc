"""The admin panel and the API docs in chromium: sign-in, models, actions, live charts,
refusals without the admin scope, and docs that render with no internet."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from mlinfer.auth import issue_token
from tests.support.servers import ServerThread, settings_for

SECRET = "p" * 48
ADMIN = issue_token(SECRET, "operator", ["models:admin", "infer"], ttl_s=3600)
READER = issue_token(SECRET, "viewer", ["models:read"], ttl_s=3600)
SIMPLE = {
    "inputs": [
        {"name": n, "datatype": "INT32", "shape": [1, 16], "data": [1] * 16}
        for n in ("INPUT0", "INPUT1")
    ]
}


@pytest.fixture(scope="module")
def panel(sample_repository: Path) -> Iterator[ServerThread]:
    settings = settings_for(
        sample_repository,
        auth_mode="required",
        auth_jwt_secret=SECRET,
        startup_models=["simple", "image_cnn", "digits"],
        admin_exporter_url=None,
    )
    with ServerThread(settings) as srv:
        yield srv


def _sign_in(page: Any, srv: ServerThread, token: str) -> None:
    page.goto(f"http://{srv.http}/admin")
    page.select_option("#cred-kind", "jwt")
    page.fill("#cred-value", token)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")


def _open_models(page: Any) -> None:
    page.click('#nav button[data-page="models"]')
    page.wait_for_selector('#models-table tr[data-model="simple"]')


def _state(page: Any, model: str) -> str:
    text: str = page.inner_text(f'#models-table tr[data-model="{model}"] td:nth-child(3)')
    return text


def _ready(srv: ServerThread, model: str) -> int:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    return httpx.get(f"http://{srv.http}/v2/models/{model}/ready", headers=headers).status_code


def test_sign_in_refused_with_a_bad_credential(
    page: Any, panel: ServerThread, screenshots: Path
) -> None:
    page.goto(f"http://{panel.http}/admin")
    page.select_option("#cred-kind", "jwt")
    page.fill("#cred-value", "not.a.token")
    page.click("#signin-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('signin-error').textContent.length > 0")
    assert "Sign-in refused" in page.inner_text("#signin-error")
    assert page.is_hidden("#nav")
    page.screenshot(path=str(screenshots / "signin-refused.png"))


def test_sign_in_overview_and_model_list(page: Any, panel: ServerThread, screenshots: Path) -> None:
    _sign_in(page, panel, ADMIN)
    page.wait_for_function("() => document.getElementById('t-ready').textContent.includes('/')")
    assert page.inner_text("#t-health") == "ready"
    assert "not configured" in page.inner_text("#svc-registry")
    # the credential stays in this tab's session storage, not in the URL or a cookie
    assert ADMIN not in page.url and page.context.cookies() == []
    assert ADMIN in page.evaluate("sessionStorage.getItem('mlinfer.credential')")
    page.screenshot(path=str(screenshots / "overview.png"), full_page=True)
    _open_models(page)
    assert _state(page, "simple") == "READY"
    page.click('#models-table tr[data-model="simple"] a.model')
    page.wait_for_function(
        "() => document.getElementById('detail-config').textContent.includes('max_batch_size')"
    )
    page.screenshot(path=str(screenshots / "models.png"), full_page=True)
    assert page.errors == [] and page.outside == []


def test_unload_and_load_from_the_panel(page: Any, panel: ServerThread, screenshots: Path) -> None:
    _sign_in(page, panel, ADMIN)
    _open_models(page)
    row = '#models-table tr[data-model="digits"]'
    page.click(f"{row} button.danger")
    page.wait_for_function(
        f"() => document.querySelector('{row} td:nth-child(3)').textContent === 'UNAVAILABLE'"
    )
    assert _ready(panel, "digits") == 400  # the server did unload it
    page.click(f"{row} button:not(.danger)")
    page.wait_for_function(
        f"() => document.querySelector('{row} td:nth-child(3)').textContent === 'READY'"
    )
    assert _ready(panel, "digits") == 200
    page.click('#nav button[data-page="log"]')
    log = page.inner_text("#log-table tbody")
    assert re.search(r"unload\s+digits\s+ok", log) and re.search(r"load\s+digits\s+ok", log)
    page.screenshot(path=str(screenshots / "log.png"), full_page=True)


def test_chart_updates_with_live_traffic(page: Any, panel: ServerThread, screenshots: Path) -> None:
    _sign_in(page, panel, ADMIN)
    page.wait_for_function(
        "() => Number(document.getElementById('chart-rate').dataset.updates) >= 1"
    )
    headers = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=f"http://{panel.http}", headers=headers) as client:
        for _ in range(40):
            assert client.post("/v2/models/simple/infer", json=SIMPLE).status_code == 200
    # a later refresh sees the requests: the rate tile and the chart move without a reload
    page.wait_for_function("() => Number(document.getElementById('t-rate').textContent) > 0")
    page.wait_for_function("() => document.getElementById('t-latency').textContent.includes('ms')")
    assert int(page.get_attribute("#chart-rate", "data-updates")) >= 2
    page.screenshot(path=str(screenshots / "overview-live.png"), full_page=True)


def test_action_refused_without_the_admin_scope(
    page: Any, panel: ServerThread, screenshots: Path
) -> None:
    _sign_in(page, panel, READER)
    _open_models(page)
    page.click('#models-table tr[data-model="simple"] button.danger')
    page.wait_for_function("() => document.getElementById('models-error').textContent.length > 0")
    assert "refused" in page.inner_text("#models-error")
    assert "models:admin" in page.inner_text("#models-error")
    assert _ready(panel, "simple") == 200  # nothing was unloaded
    page.screenshot(path=str(screenshots / "refused.png"), full_page=True)
    page.click('#nav button[data-page="log"]')
    assert "403" in page.inner_text("#log-table tbody")


def test_try_it_image_upload(
    page: Any, panel: ServerThread, screenshots: Path, tmp_path: Path
) -> None:
    image = tmp_path / "frame.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (32, 32, 3), np.uint8)).save(image)
    _sign_in(page, panel, ADMIN)
    page.click('#nav button[data-page="tryit"]')
    page.wait_for_selector('#try-image-model option[value="image_cnn"]', state="attached")
    page.select_option("#try-image-model", "image_cnn")
    page.set_input_files("#try-image-file", str(image))
    page.click("#try-image button[type=submit]")
    page.wait_for_function(
        "() => document.getElementById('try-result').textContent.includes('classifications')"
    )
    page.screenshot(path=str(screenshots / "tryit.png"), full_page=True)


@pytest.mark.parametrize(
    ("path", "ready"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")]
)
def test_api_docs_render_offline(
    page: Any, panel: ServerThread, screenshots: Path, path: str, ready: str
) -> None:
    page.goto(f"http://{panel.http}{path}")
    page.wait_for_selector(ready)
    assert "mlinfer" in page.inner_text(ready)
    assert page.outside == [], f"the page reached outside loopback: {page.outside}"
    page.screenshot(path=str(screenshots / f"{path.strip('/')}.png"))


def test_browser_websocket_with_the_subprotocol_token(page: Any, panel: ServerThread) -> None:
    """A browser cannot set headers on a WebSocket: the token travels as a subprotocol and
    chromium accepts the stream only if the server selects one it offered."""
    page.goto(f"http://{panel.http}/admin")
    script = """async ([token, body]) => {
      const ws = new WebSocket(location.origin.replace("http", "ws") +
                               "/v2/models/simple/infer/ws", ["mlinfer.v1", "bearer." + token]);
      const answer = await new Promise((resolve, reject) => {
        ws.onopen = () => ws.send(body);
        ws.onmessage = (event) => resolve(event.data);
        ws.onerror = () => reject(new Error("websocket failed"));
      });
      const protocol = ws.protocol;
      ws.close();
      return [protocol, answer];
    }"""
    protocol, answer = page.evaluate(script, [ADMIN, json.dumps(SIMPLE)])
    assert protocol == "mlinfer.v1"
    doc = json.loads(answer)
    assert doc["seq"] == 1 and doc["outputs"][0]["data"] == [2] * 16
