"""Push, list, show, aliases and the audit log on SQLite+local and PostgreSQL+S3."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from mlinfer.registry.catalog import Catalog
from mlinfer.registry.errors import (
    BadRequestError,
    ChecksumMismatchError,
    RegistryNotFoundError,
)
from tests.support.registry import onnx_bytes, simple_variant


def _push(catalog: Catalog, tmp_path: Path, op: str = "Add", **kwargs: object) -> dict:
    model = simple_variant(op)
    path = tmp_path / f"upload-{op}"
    data = onnx_bytes(model)
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    return catalog.push(
        "simple", "onnx", model.config, path, digest, len(data), actor="alice", **kwargs
    )  # type: ignore[arg-type]


def test_push_numbers_versions_and_stores_bytes(catalog: Catalog, tmp_path: Path) -> None:
    first = _push(catalog, tmp_path, "Add", metrics={"accuracy": 0.97}, source="git:abc")
    second = _push(catalog, tmp_path, "Sub")
    assert (first["version"], second["version"]) == (1, 2)
    assert catalog.store.exists(first["sha256"]) and catalog.store.exists(second["sha256"])
    shown = catalog.show("simple")
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["versions"][0]["metrics"] == {"accuracy": 0.97}
    assert shown["versions"][0]["pushed_by"] == "alice"
    target = tmp_path / "download"
    catalog.store.fetch_verified(second["sha256"], target)
    assert target.read_bytes() == onnx_bytes(simple_variant("Sub"))
    assert [m["name"] for m in catalog.list_models()] == ["simple"]


def test_aliases_resolve_and_are_audited(catalog: Catalog, tmp_path: Path) -> None:
    _push(catalog, tmp_path, "Add")
    _push(catalog, tmp_path, "Sub")
    catalog.set_alias("simple", "staging", "2", "bob")
    assert catalog.version_info("simple", "staging")["version"] == 2
    catalog.set_alias("simple", "staging", "1", "bob")
    assert catalog.version_info("simple", "staging")["version"] == 1
    events = catalog.audit("simple")
    assert [e["action"] for e in events] == ["push", "push", "alias", "alias"]
    assert events[-1]["before"] == {"alias": "staging", "version": 2}
    assert events[-1]["after"] == {"alias": "staging", "version": 1}
    with pytest.raises(RegistryNotFoundError):
        catalog.version_info("simple", "production")
    with pytest.raises(RegistryNotFoundError):
        catalog.show("other")


def test_audit_log_is_append_only_in_the_database(catalog: Catalog, tmp_path: Path) -> None:
    _push(catalog, tmp_path)
    with pytest.raises(DBAPIError, match="append-only"), catalog.sessions.begin() as session:
        session.execute(text("UPDATE audit_events SET actor = 'mallory'"))
    with pytest.raises(DBAPIError, match="append-only"), catalog.sessions.begin() as session:
        session.execute(text("DELETE FROM audit_events"))
    assert catalog.audit("simple")[0]["actor"] == "alice"


def test_bad_uploads_store_nothing(catalog: Catalog, tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x08\x01 definitely not onnx")
    digest = hashlib.sha256(junk.read_bytes()).hexdigest()
    config = simple_variant().config
    with pytest.raises(BadRequestError, match="not a valid ONNX model"):
        catalog.push("simple", "onnx", config, junk, digest, 20, actor="a")
    with pytest.raises(BadRequestError, match="names model 'simple', not 'other'"):
        _push_named(catalog, tmp_path, "other")
    with pytest.raises(BadRequestError, match="corrupted"):
        _push(catalog, tmp_path, claimed_sha256="ab" * 32)
    assert not catalog.store.exists(digest)
    assert catalog.list_models() == []


def _push_named(catalog: Catalog, tmp_path: Path, name: str) -> None:
    model = simple_variant()
    path = tmp_path / "named"
    path.write_bytes(onnx_bytes(model))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    catalog.push(name, "onnx", model.config, path, digest, 1, actor="a")


def test_tampered_artifact_fails_verification(catalog: Catalog, tmp_path: Path) -> None:
    pushed = _push(catalog, tmp_path)
    # Replace the stored bytes behind the registry's back (bit rot, a bad copy).
    evil = tmp_path / "evil"
    evil.write_bytes(b"tampered")
    store = catalog.store
    if store.name == "local":
        path = store._path(pushed["sha256"])  # type: ignore[attr-defined]
        path.write_bytes(b"tampered")
    else:
        store._client.upload_file(  # type: ignore[attr-defined]
            str(evil),
            store._bucket,
            f"sha256/{pushed['sha256']}",  # type: ignore[attr-defined]
        )
    target = tmp_path / "out"
    with pytest.raises(ChecksumMismatchError, match="failed verification"):
        store.fetch_verified(pushed["sha256"], target)
    assert not target.exists()


def test_onnx_structure_check_without_the_onnx_package() -> None:
    """What the appliance image (no onnx package) checks: real models pass, junk does not."""
    from mlinfer.registry.validate import check_onnx_wire_format

    check_onnx_wire_format(onnx_bytes(simple_variant()))
    for junk in (b"\x08\x07not a model", b"hello world", b"\x08", b"\x0a\xff\xff\x03ab"):
        with pytest.raises(BadRequestError, match="not a valid ONNX model"):
            check_onnx_wire_format(junk)
