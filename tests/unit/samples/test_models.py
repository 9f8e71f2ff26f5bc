from __future__ import annotations

from pathlib import Path

import pytest

from mlinfer.samples.models import SAMPLE_BUILDERS
from mlinfer.samples.writer import write_repository

COMMITTED = Path(__file__).resolve().parents[3] / "model_repository"


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = write_repository(tmp_path / "a", SAMPLE_BUILDERS)
    second = write_repository(tmp_path / "b", SAMPLE_BUILDERS)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a


@pytest.mark.parametrize("build", SAMPLE_BUILDERS, ids=lambda b: b.__name__)
def test_committed_repository_matches_generator(build: object) -> None:
    model = build()  # type: ignore[operator]
    assert (COMMITTED / model.name / "config.pbtxt").read_text() == model.config
    for filename, text in model.files.items():
        assert (COMMITTED / model.name / filename).read_text() == text
