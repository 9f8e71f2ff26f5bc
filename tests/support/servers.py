"""Running a real mlinfer server for tests: in a thread (fast) or as a subprocess (the CLI)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from mlinfer.backends.base import Backend
from mlinfer.registry.settings import RegistrySettings
from mlinfer.server import Server
from mlinfer.settings import Settings, settings_from_names


class ServerThread:
    """An in-process :class:`Server` on its own event loop, bound to free loopback ports."""

    def __init__(
        self,
        settings: Settings,
        *,
        rest: bool = True,
        grpc: bool = False,
        tracer_provider: Any = None,
        backend_factory: Callable[[Settings, Any], Backend] | None = None,
        registry_settings: RegistrySettings | None = None,
    ) -> None:
        # The registry section given apart (tests build it with tests.support.registry).
        if registry_settings is not None:
            settings = settings.model_copy(update={"registry": registry_settings})
        self.settings = settings
        self._tracer_provider = tracer_provider
        self._backend_factory = backend_factory
        self._rest, self._grpc = rest, grpc
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.server: Server | None = None
        self.http = ""
        self.grpc = ""

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            extra = (
                {} if self._backend_factory is None else {"backend_factory": self._backend_factory}
            )
            self.server = Server(
                self.settings,
                rest=self._rest,
                grpc=self._grpc,
                tracer_provider=self._tracer_provider,
                **extra,
            )
            endpoints = await self.server.start()
            self.http, self.grpc = endpoints.http, endpoints.grpc or ""
        except BaseException as exc:  # surfaced to the test thread in start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        await self.server.stop()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run a coroutine factory on the server's loop and return its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def settings_for(repository: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "http_port": 0,
        "grpc_port": 0,
        "model_repository": repository,
        "shutdown_grace_seconds": 5.0,
        "log_level": "WARNING",
        "auth_mode": "disabled",
    }
    base.update(overrides)
    return settings_from_names(base)


def wait_until(predicate: Callable[[], bool], what: str, attempts: int = 3000) -> None:
    """Poll a condition; the bound is a safety net against hangs, not a timing claim."""
    import time

    for _ in range(attempts):
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"condition never became true: {what}")


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlinfer", *args]


def start_cli_server(
    repository: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``mlinfer serve`` as a subprocess on free ports; returns the process and REST URL."""
    from tests.support.ports import free_port

    port = free_port()
    proc = subprocess.Popen(
        cli_command(
            "serve",
            "--host",
            "127.0.0.1",
            "--http-port",
            str(port),
            "--grpc-port",
            str(free_port()),
            "--model-repository",
            str(repository),
            *extra,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "MLINFER_LOG_LEVEL": "WARNING",
            "MLINFER_AUTH_MODE": "disabled",
            **(env or {}),
        },
    )
    url = f"127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(
                f"mlinfer serve exited: {proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            return httpx.get(f"http://{url}/v2/health/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, "mlinfer serve ready")
    return proc, url
