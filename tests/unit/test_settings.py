from __future__ import annotations

from pathlib import Path

import pytest

from mlinfer.settings import Settings, environment_variables

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_readme() -> None:
    text = README.read_text()
    missing = [name for name in environment_variables() if f"`{name}`" not in text]
    assert missing == []


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLINFER_HTTP_PORT", "9123")
    monkeypatch.setenv("MLINFER_STARTUP_MODELS", '["simple"]')
    monkeypatch.setenv("MLINFER_AUTH_MODE", "disabled")
    settings = Settings()
    assert settings.http_port == 9123
    assert settings.engine.startup_models == ["simple"]
