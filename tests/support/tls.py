"""Self-signed certificates for TLS tests (openssl, as an operator would make them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def self_signed(directory: Path, cert: str = "cert.pem", key: str = "key.pem") -> tuple[Path, Path]:
    """A certificate for localhost / 127.0.0.1 and its key, valid for one day."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not found: needed to make a test certificate")
    cert_path, key_path = directory / cert, directory / key
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key_path), "-out", str(cert_path)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return cert_path, key_path
