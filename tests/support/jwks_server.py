"""A real local JWKS endpoint (stdlib HTTP server in a thread) and signing keys for tests.

The test owns the key set: it can add and remove keys (rotation), set ``Cache-Control``,
make the endpoint fail, and read how many times it was fetched.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass(frozen=True)
class SigningKey:
    """A private key with its ``kid`` and algorithm; signs tokens, publishes its JWK."""

    kid: str
    alg: str
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @classmethod
    def rsa(cls, kid: str, alg: str = "RS256") -> SigningKey:
        return cls(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ec(cls, kid: str, alg: str = "ES256") -> SigningKey:
        return cls(kid, alg, ec.generate_private_key(ec.SECP256R1()))

    def public_jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def sign(self, claims: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None) -> str:
        return jwt.encode(
            dict(claims),
            self.private_key,
            algorithm=self.alg,
            headers={"kid": self.kid, **(headers or {})},
        )


class JwksServer:
    """Serves ``GET /jwks.json`` on ``127.0.0.1:<free port>`` from a background thread."""

    def __init__(self, keys: list[dict[str, Any]] | None = None) -> None:
        self._lock = threading.Lock()
        self._keys: list[dict[str, Any]] = list(keys or [])
        self._fetches = 0
        self.cache_control: str | None = None
        self.status = 200  # set to 500 to make the endpoint fail
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        # a short poll interval makes shutdown() (every test teardown) take milliseconds
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/jwks.json"

    @property
    def fetch_count(self) -> int:
        with self._lock:
            return self._fetches

    def set_keys(self, keys: list[dict[str, Any]]) -> None:
        """Replace the published key set (rotation)."""
        with self._lock:
            self._keys = list(keys)

    def add_key(self, key: dict[str, Any]) -> None:
        with self._lock:
            self._keys.append(key)

    def wait_for_fetches(self, count: int, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.fetch_count < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"JWKS fetched {self.fetch_count} times, expected {count}")
            time.sleep(0.005)

    def _document(self) -> tuple[int, bytes, str | None]:
        with self._lock:
            self._fetches += 1
            body = json.dumps({"keys": self._keys}).encode()
            return self.status, body, self.cache_control

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                status, body, cache_control = server._document()
                if status != 200:
                    self.send_error(status)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if cache_control is not None:
                    self.send_header("Cache-Control", cache_control)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None  # keep test output quiet

        return Handler

    def start(self) -> JwksServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> JwksServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
