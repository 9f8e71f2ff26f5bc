from __future__ import annotations

from pathlib import Path

import pytest

from mlinfer.core.settings import Settings

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_setting_is_documented_in_readme() -> None:
    text = README.read_text()
    missing = [
        f"MLINFER_{n.upper()}"
        for n in Settings.model_fields
        if f"`MLINFER_{n.upper()}`" not in text
    ]
    assert missing == []


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLINFER_HTTP_PORT", "9123")
    monkeypatch.setenv("MLINFER_STARTUP_MODELS", '["simple"]')
    settings = Settings()
    assert settings.http_port == 9123
    assert settings.startup_models == ["simple"]
