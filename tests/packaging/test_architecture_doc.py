"""docs/ARCHITECTURE.md matches the code: its module names resolve, modules stay small."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "ARCHITECTURE.md"
PACKAGE = REPO / "services" / "mlinfer"
MAX_MODULE_LINES = 400


def _resolves(dotted: str) -> bool:
    """A module, or an attribute of one (``mlinfer.dataplane.DataPlane``)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_every_module_name_in_the_architecture_doc_resolves() -> None:
    text = DOC.read_text()
    names = set(re.findall(r"\bmlinfer(?:\.[A-Za-z_][A-Za-z0-9_]*)+", text))
    paths = set(re.findall(r"`((?:services|tests|bench|docs)/[^`*]+)`", text))
    assert len(names) > 20  # the doc was read
    assert sorted(n for n in names if not _resolves(n)) == []
    assert sorted(p for p in paths if not (REPO / p).exists()) == []


def test_every_package_is_placed_in_the_layer_map() -> None:
    text = DOC.read_text()
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert [p for p in packages if p not in text] == []


def test_no_module_over_the_size_limit() -> None:
    too_long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}, f"split these modules (over {MAX_MODULE_LINES} lines): {too_long}"
