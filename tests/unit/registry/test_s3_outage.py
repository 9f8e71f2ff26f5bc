"""S3 down during a push: 503, and no metadata row without its artifact."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlinfer.registry.artifacts import create_store
from mlinfer.registry.catalog import Catalog
from mlinfer.registry.database import open_database
from mlinfer.registry.errors import StorageUnavailableError
from tests.support.registry import onnx_bytes, simple_variant
from tests.support.s3 import S3Server
from tests.unit.registry.conftest import s3_settings

pytestmark = pytest.mark.s3


def test_push_while_s3_is_down_is_503_and_leaves_no_row(tmp_path: Path) -> None:
    server = S3Server().start()
    try:
        settings = s3_settings(server, "outage", database_url=f"sqlite:///{tmp_path}/r.db")
        catalog = Catalog(open_database(settings.database_url), create_store(settings))
        model = simple_variant()
        path = tmp_path / "model.onnx"
        path.write_bytes(onnx_bytes(model))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        server.stop()
        with pytest.raises(StorageUnavailableError, match="S3") as info:
            catalog.push("simple", "onnx", model.config, path, digest, 1, actor="a")
        assert info.value.status.value == 503
        assert catalog.list_models() == []
        server = S3Server(port=server.port, root=server.root).start()  # back, same data
        assert (
            catalog.push("simple", "onnx", model.config, path, digest, 1, actor="a")["version"] == 1
        )
    finally:
        server.close()
