"""Protocol targets: the same client suites run against mlinfer (embedded engine), mlinfer in
front of a real Triton, and Triton itself (the reference).

A test takes the ``target`` fixture and runs three times, ids ``[embedded]``,
``[mlinfer-triton]`` and ``[triton]``. Where mlinfer knowingly differs from Triton, the test
says so with ``@pytest.mark.differs(*kinds, reason=...)``: it becomes a strict xfail for those
kinds, so the day mlinfer matches Triton the mark has to go. ``@pytest.mark.skip_targets(*kinds,
reason=...)`` is for what cannot apply to a kind by nature (mlinfer-only extras).

The Triton targets share ONE Triton for the session (explicit model control, every model
loaded). Tests that load or unload models must not use it: they start a private Triton (see
``tests/integration/test_triton_backend.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import ServerThread, settings_for
from tests.support.triton.server_process import TritonServerProcess
from tests.support.triton.targets import (
    EMBEDDED,
    MLINFER_TRITON,
    TARGET_KINDS,
    Target,
    python_repository,
    require_triton,
    start_triton,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "differs(*kinds, reason): mlinfer differs from Triton on these targets (strict xfail)",
    )
    config.addinivalue_line(
        "markers", "skip_targets(*kinds, reason): the test does not apply to these targets"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        kind = callspec.params.get("target") if callspec is not None else None
        if kind is None:
            continue
        for mark in item.iter_markers("differs"):
            if kind in mark.args:
                item.add_marker(pytest.mark.xfail(strict=True, reason=mark.kwargs["reason"]))
        for mark in item.iter_markers("skip_targets"):
            if kind in mark.args:
                item.add_marker(pytest.mark.skip(reason=mark.kwargs["reason"]))
        if kind != EMBEDDED:
            item.add_marker(pytest.mark.triton)


@pytest.fixture(scope="session")
def triton_repository(sample_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample repository converted for the Python backend (all this Triton can run)."""
    require_triton()
    return python_repository(sample_repository, tmp_path_factory.mktemp("triton") / "models")


@pytest.fixture(scope="session")
def triton_server(triton_repository: Path) -> Iterator[TritonServerProcess]:
    """ONE Triton for the session, every sample model loaded (explicit mode). Read-only use."""
    proc = start_triton(
        triton_repository,
        triton_repository.parent / "triton.log",
        model_control_mode="explicit",
        load_models=["*"],
    )
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def triton_backed_server(
    sample_repository: Path, triton_server: TritonServerProcess
) -> Iterator[ServerThread]:
    """mlinfer (REST + gRPC) in front of the session's Triton, REST inferences forwarded to
    its HTTP endpoint (pass-through): the conformance suites hold with it on."""
    settings = settings_for(
        sample_repository,
        triton_url=triton_server.grpc_url,
        triton_http_url=triton_server.http_url,
    )
    with ServerThread(settings, rest=True, grpc=True) as srv:
        yield srv


@pytest.fixture(scope="session", params=TARGET_KINDS)
def target(request: pytest.FixtureRequest) -> Target:
    kind = request.param
    if kind == EMBEDDED:
        srv: ServerThread = request.getfixturevalue("server")
        return Target(kind, srv.http, srv.grpc)
    if kind == MLINFER_TRITON:
        srv = request.getfixturevalue("triton_backed_server")
        return Target(kind, srv.http, srv.grpc)
    triton: TritonServerProcess = request.getfixturevalue("triton_server")
    return Target(kind, triton.http_url, triton.grpc_url)
