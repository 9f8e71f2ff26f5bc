"""The registry's storage on both engines: SQLite + local directory, PostgreSQL + S3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlinfer.registry.artifacts import create_store
from mlinfer.registry.catalog import Catalog
from mlinfer.registry.database import open_database
from mlinfer.registry.settings import RegistrySettings
from tests.support.postgres import PostgresServer
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, S3Server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        server.wait_ready()
        yield server


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


def s3_settings(s3: S3Server, bucket: str, **extra: object) -> RegistrySettings:
    return RegistrySettings(
        artifact_store="s3",
        s3_endpoint_url=s3.endpoint,
        s3_bucket=bucket,
        s3_access_key=ACCESS_KEY,
        s3_secret_key=SECRET_KEY,  # type: ignore[arg-type]
        s3_timeout_seconds=2,
        **extra,  # type: ignore[arg-type]
    )


_counter = iter(range(10_000))


@pytest.fixture(
    params=[
        "sqlite-local",
        pytest.param("postgres-s3", marks=[pytest.mark.postgres, pytest.mark.s3]),
    ]
)
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    if request.param == "sqlite-local":
        settings = RegistrySettings(
            database_url=f"sqlite:///{tmp_path}/registry.db", artifact_dir=tmp_path / "artifacts"
        )
    else:
        pg: PostgresServer = request.getfixturevalue("postgres")
        s3: S3Server = request.getfixturevalue("s3")
        n = next(_counter)
        database = f"registry_{n}"
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=postgres", autocommit=True) as c:
            c.execute(f"CREATE DATABASE {database}")
        settings = s3_settings(
            s3, f"bucket-{n}", database_url=pg.url.rsplit("/", 1)[0] + f"/{database}"
        )
    sessions = open_database(settings.database_url)
    yield Catalog(sessions, create_store(settings))
    bind = sessions.kw["bind"]
    bind.dispose()  # close the pool's connections (PostgreSQL warns of any left open)
