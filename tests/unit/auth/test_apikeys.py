"""Static API keys: generation, hashes at rest, lookup."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from mlinfer.auth import ApiKeySpec, ApiKeyStore, hash_api_key, new_api_key


def test_new_keys_are_prefixed_and_unique() -> None:
    keys = {new_api_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(k.startswith("mlk_") and len(k) == 47 for k in keys)


def test_hash_format_is_sha256_hex() -> None:
    key = new_api_key()
    assert hash_api_key(key) == "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        hash_api_key("password123")


def test_spec_rejects_malformed_hash() -> None:
    with pytest.raises(ValidationError, match="sha256:<64 hex digits>"):
        ApiKeySpec(name="cam", hash="md5:abc")
    with pytest.raises(ValidationError):
        ApiKeySpec(name="cam", hash=hash_api_key(new_api_key()), unknown_field=1)  # type: ignore[call-arg]


def test_lookup_finds_identity_by_key() -> None:
    cam_key, admin_key = new_api_key(), new_api_key()
    store = ApiKeyStore(
        [
            ApiKeySpec(name="camera-7", hash=hash_api_key(cam_key), models=["detector"]),
            ApiKeySpec(
                name="ops",
                hash=hash_api_key(admin_key).upper().replace("SHA256", "sha256"),
                scopes=["models:admin"],
            ),
        ]
    )
    camera = store.lookup(cam_key)
    assert camera is not None
    assert (camera.subject, camera.kind) == ("camera-7", "api_key")
    assert camera.scopes == {"infer", "models:read"}
    assert camera.models == ("detector",)
    ops = store.lookup(admin_key)
    assert ops is not None and ops.scopes == {"models:admin", "models:read"}
    assert store.lookup(new_api_key()) is None
    assert store.lookup(cam_key + "x") is None


def test_duplicate_hashes_are_refused() -> None:
    digest = hash_api_key(new_api_key())
    with pytest.raises(ValueError, match="same hash"):
        ApiKeyStore([ApiKeySpec(name="a", hash=digest), ApiKeySpec(name="b", hash=digest)])
