"""When ``--workers N`` may run, and how many workers ``0`` means."""

from __future__ import annotations

from mlinfer.cli.workers import refusal
from mlinfer.listeners.workers_settings import WorkersSettings
from mlinfer.settings import Settings, settings_from_names


def _settings(**values: object) -> Settings:
    return settings_from_names({"auth_mode": "disabled", **values})


def test_one_worker_is_always_fine() -> None:
    assert refusal(_settings(), 1) is None


def test_several_workers_need_triton() -> None:
    problem = refusal(_settings(triton_url=""), 3)
    assert problem is not None and "--workers 3 needs a Triton backend" in problem
    assert refusal(_settings(triton_url="127.0.0.1:8001"), 3) is None


def test_several_workers_cannot_host_the_registry() -> None:
    settings = _settings(triton_url="127.0.0.1:8001", registry_embedded=True)
    problem = refusal(settings, 2)
    assert problem is not None and "registry" in problem


def test_zero_means_one_per_core() -> None:
    assert WorkersSettings(count=0).resolved_count(12) == 12
    assert WorkersSettings(count=0).resolved_count(None) == 1
    assert WorkersSettings(count=3).resolved_count(12) == 3
