"""Shared fixtures: the generated sample repository and a running in-process server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlinfer.samples.models import IDENTITY_TYPES, SAMPLE_BUILDERS, identity
from mlinfer.samples.writer import write_model, write_repository
from tests.support.servers import ServerThread, settings_for


@pytest.fixture(scope="session")
def sample_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample models plus an identity model per datatype, generated once per run."""
    root = tmp_path_factory.mktemp("repository")
    write_repository(root, SAMPLE_BUILDERS)
    for datatype in IDENTITY_TYPES:
        if datatype != "FP32":
            write_model(identity(datatype), root)
    return root


@pytest.fixture
def repository_copy(sample_repository: Path, tmp_path: Path) -> Path:
    """A private, writable copy for tests that change the repository."""
    target = tmp_path / "repo"
    shutil.copytree(sample_repository, target)
    return target


@pytest.fixture(scope="session")
def server(sample_repository: Path) -> Iterator[ServerThread]:
    """One shared REST+gRPC server on the sample repository (explicit mode, all loaded)."""
    with ServerThread(settings_for(sample_repository), rest=True, grpc=True) as srv:
        yield srv
