"""Static API keys: generated, stored only as hashes, checked in constant time.

Format at rest: ``sha256:<64 hex digits>`` of the UTF-8 key. A fast hash is the right
tool here and a slow KDF (scrypt/PBKDF2) is not: keys come from :func:`new_api_key` with
256 random bits, so there is nothing to brute-force, while a KDF would cost tens of
milliseconds on *every request*, times the number of configured keys (salted hashes
cannot be looked up, so each request would have to try them all). Services such as
GitHub store their tokens the same way. To keep people from hashing a password-like key,
:func:`hash_api_key` refuses keys shorter than :data:`MIN_KEY_LENGTH` characters.

Transport rule: an API key travels only in the ``X-API-Key`` header (gRPC metadata
``x-api-key``); ``Authorization: Bearer`` always carries a JWT. One rule, no guessing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlinfer.auth.identity import Identity, Scope, expand_scopes

KEY_PREFIX = "mlk_"
MIN_KEY_LENGTH = 32
_HASH_RE = re.compile(r"^sha256:([0-9a-f]{64})$")


def new_api_key() -> str:
    """A fresh key: ``mlk_`` + 43 URL-safe characters (256 random bits).

    The prefix makes keys easy to spot for secret scanners and in logs, and tells them
    apart from JWTs (which start with ``eyJ``).
    """
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The value to put in configuration for ``key``: ``sha256:<hex>``.

    Raises ``ValueError`` for keys shorter than :data:`MIN_KEY_LENGTH` (use
    :func:`new_api_key`), because a fast hash only protects high-entropy keys.
    """
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(
            f"API key is {len(key)} characters; use at least {MIN_KEY_LENGTH} "
            "(generate one with new_api_key())"
        )
    return "sha256:" + _digest(key).hex()


def parse_key_hash(value: str) -> bytes:
    """The raw digest of a configured ``sha256:<hex>`` value; ``ValueError`` if malformed."""
    match = _HASH_RE.match(value.strip().lower())
    if match is None:
        raise ValueError("API key hash must look like 'sha256:<64 hex digits>'")
    return bytes.fromhex(match.group(1))


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class ApiKeySpec(BaseModel):
    """One configured API key (an item of the ``MLINFER_AUTH_API_KEYS`` JSON list)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Client identity the key stands for.")
    hash: str = Field(description="'sha256:<hex>' from `mlinfer auth hash-key`.")
    scopes: list[str] = Field(
        default_factory=lambda: [Scope.INFER.value, Scope.MODELS_READ.value],
        description="Scopes granted: infer, models:read, models:admin.",
    )
    models: list[str] = Field(
        default_factory=lambda: ["*"], description="Glob patterns of the models allowed."
    )

    @field_validator("hash")
    @classmethod
    def _check_hash(cls, value: str) -> str:
        parse_key_hash(value)
        return value


@dataclass(frozen=True)
class _Entry:
    digest: bytes
    identity: Identity


class ApiKeyStore:
    """The configured keys; :meth:`lookup` finds the identity of a presented key."""

    def __init__(self, specs: Iterable[ApiKeySpec]) -> None:
        entries: list[_Entry] = []
        seen: set[bytes] = set()
        for spec in specs:
            digest = parse_key_hash(spec.hash)
            if digest in seen:
                raise ValueError(f"API key '{spec.name}' has the same hash as another key")
            seen.add(digest)
            identity = Identity(
                subject=spec.name,
                kind="api_key",
                scopes=expand_scopes(spec.scopes),
                models=tuple(spec.models),
            )
            entries.append(_Entry(digest, identity))
        self._entries = tuple(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: str) -> Identity | None:
        """The identity for ``key``, or None.

        Every configured digest is compared with :func:`hmac.compare_digest`, and the loop
        never exits early, so timing does not tell which (or whether a) key matched.
        """
        presented = _digest(key)
        found: Identity | None = None
        for entry in self._entries:
            if hmac.compare_digest(presented, entry.digest):
                found = entry.identity
        return found
