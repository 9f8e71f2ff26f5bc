from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

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


def _documented_defaults() -> dict[str, str]:
    """``MLINFER_*`` -> the default column of README's configuration tables."""
    rows = re.findall(r"^\| `(MLINFER_[A-Z0-9_]+)` \| ([^|]+) \|", README.read_text(), re.M)
    return {name: default.strip().strip("`") for name, default in rows}


def _as_documented(value: Any) -> Any:
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, tuple | list):
        return [_as_documented(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def test_readme_tables_name_real_variables_with_their_defaults() -> None:
    documented = _documented_defaults()
    assert len(documented) > 50  # the tables were found
    actual = environment_variables()
    unknown = sorted(set(documented) - set(actual))
    assert unknown == [], f"README documents variables nothing reads: {unknown}"
    wrong = {}
    for name, text in documented.items():
        expected = _as_documented(actual[name])
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = text
        if parsed != expected and text != str(expected):
            wrong[name] = (text, expected)
    assert wrong == {}, f"README defaults differ from the code (documented, actual): {wrong}"
