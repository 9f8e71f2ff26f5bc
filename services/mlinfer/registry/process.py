"""The registry's HTTP server: ``mlinfer registry serve``, or hosted by ``mlinfer serve``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn

from mlinfer.auth.authenticator import Authenticator
from mlinfer.registry.api import create_registry_app
from mlinfer.registry.service import Registry
from mlinfer.registry.settings import RegistrySettings


class _Server(uvicorn.Server):
    """Leaves signals to whoever hosts it: ``mlinfer serve`` owns SIGTERM when hosting."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class RegistryServer:
    def __init__(
        self,
        settings: RegistrySettings,
        authenticator: Authenticator,
        serving_url: str | None = None,
    ) -> None:
        self.registry = Registry(settings, serving_url)
        self.app = create_registry_app(self.registry, authenticator)
        self._settings = settings
        self._uvicorn: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self) -> str:
        await self.registry.start()
        config = uvicorn.Config(
            self.app,
            host=self._settings.host,
            port=self._settings.port,
            lifespan="off",
            log_config=None,
            access_log=False,
            loop="none",
            # Held policy long-polls must not hold a shutdown up.
            timeout_graceful_shutdown=2,
        )
        self._uvicorn = _Server(config)
        self._task = asyncio.create_task(self._uvicorn.serve(), name="registry")
        while not self._uvicorn.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("registry server exited before it started")
            await asyncio.sleep(0.01)
        port = self._uvicorn.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self._settings.host}:{port}"
        return self.url

    async def wait(self) -> None:
        if self._task is not None:
            await self._task

    def request_stop(self) -> None:
        self.registry.hub.close()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True

    async def stop(self) -> None:
        self.registry.hub.close()
        if self._uvicorn is not None and self._task is not None:
            self._uvicorn.should_exit = True
            await self._task
        await self.registry.stop()
