"""The embedded engine: a Triton-layout repository served by in-process ONNX Runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.grpc import service_pb2 as pb

from mlinfer.backends.base import Backend
from mlinfer.backends.embedded.model import LoadedVersion
from mlinfer.backends.settings import EngineSettings
from mlinfer.batching.scheduler import MAX_INSTANCES
from mlinfer.core.errors import (
    InvalidInputError,
    MLInferError,
    ModelLoadError,
    ModelNotFoundError,
    ModelNotReadyError,
    OperationNotAllowedError,
)
from mlinfer.core.model_config import check_supported, parse_override, validate_config
from mlinfer.core.model_spec import ModelSpec, spec_from_config
from mlinfer.core.parameters import ascii_digits
from mlinfer.core.repository import ModelRepository, ModelSource
from mlinfer.core.stats import ModelMetricsSnapshot
from mlinfer.core.types import InferRequest, InferResponse, ModelIndexEntry

log = logging.getLogger(__name__)

READY, UNAVAILABLE, LOADING = "READY", "UNAVAILABLE", "LOADING"


@dataclass
class _ModelEntry:
    serving: dict[int, LoadedVersion] = field(default_factory=dict)
    states: dict[int, tuple[str, str]] = field(default_factory=dict)  # version -> state, reason
    error: str = ""  # why the model as a whole failed to load
    fingerprint: tuple[Any, ...] = ()


class EmbeddedBackend(Backend):
    name = "embedded"

    def __init__(
        self,
        settings: EngineSettings,
        tracer: trace.Tracer | None = None,
        *,
        drain_seconds: float = 10.0,
    ) -> None:
        self._settings = settings
        self._drain_seconds = drain_seconds  # how long stop and reloads wait for queues
        self._tracer = tracer
        self._repository = ModelRepository(settings.model_repository)
        self._models: dict[str, _ModelEntry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._started = False
        self._poller: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        mode = self._settings.model_control_mode
        names = self._repository.model_names()
        if mode == "explicit" and "*" not in self._settings.startup_models:
            names = [n for n in self._settings.startup_models]
        for name in names:
            try:
                await self._load(name)
            except MLInferError as exc:
                log.error("model %s failed to load: %s", name, exc)
        self._started = True
        if mode == "poll":
            self._poller = asyncio.create_task(self._poll_forever(), name="repository-poll")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        grace = self._drain_seconds
        versions = [v for e in self._models.values() for v in e.serving.values()]
        for entry in self._models.values():
            entry.serving = {}
        await asyncio.gather(*(v.stop(grace) for v in versions), *self._retiring)

    async def live(self) -> bool:
        return True

    async def ready(self) -> bool:
        return self._started

    # -- models --------------------------------------------------------------------------
    async def model_spec(self, name: str, version: str = "") -> tuple[ModelSpec, str]:
        loaded = self._resolve(name, version)
        return loaded.spec, str(loaded.version)

    async def model_versions(self, name: str) -> list[str]:
        entry = self._models.get(name)
        return [str(v) for v in sorted(entry.serving)] if entry else []

    async def model_ready(self, name: str, version: str = "") -> bool:
        try:
            self._resolve(name, version)
        except MLInferError:
            return False
        return True

    async def infer(self, request: InferRequest, spec: ModelSpec, batch_size: int) -> InferResponse:
        return await self._resolve(request.model_name, request.model_version).infer(
            request, batch_size
        )

    def _resolve(self, name: str, version: str) -> LoadedVersion:
        # Wording and codes follow Triton 2.51: a model it does not serve is NOT_FOUND.
        entry = self._models.get(name)
        if entry is None or (not entry.serving and not entry.states and not entry.error):
            raise ModelNotFoundError(f"Request for unknown model: '{name}' is not found")
        if not version:
            if not entry.serving:
                raise ModelNotFoundError(
                    f"Request for unknown model: '{name}' has no available versions"
                )
            return entry.serving[max(entry.serving)]
        if not ascii_digits(version) or int(version) < 1:
            raise InvalidInputError(
                f"failed to get model version from specified version string '{version}', "
                "version should be an integral value > 0"
            )
        loaded = entry.serving.get(int(version))
        if loaded is None:
            if int(version) in entry.states:
                raise ModelNotReadyError(
                    f"Request for unknown model: '{name}' version {version} is not at ready state"
                )
            raise ModelNotFoundError(
                f"Request for unknown model: '{name}' version {version} is not found"
            )
        return loaded

    # -- repository ----------------------------------------------------------------------
    async def repository_index(self, ready_only: bool = False) -> list[ModelIndexEntry]:
        rows: list[ModelIndexEntry] = []
        names = sorted(set(self._repository.model_names()) | set(self._models))
        for name in names:
            entry = self._models.get(name)
            if entry is None or (not entry.states and not entry.error):
                if not ready_only:
                    rows.append(ModelIndexEntry(name))
                continue
            if entry.error and not entry.states:
                if not ready_only:
                    rows.append(ModelIndexEntry(name, "", UNAVAILABLE, entry.error))
                continue
            for version, (state, reason) in sorted(entry.states.items()):
                if ready_only and state != READY:
                    continue
                rows.append(ModelIndexEntry(name, str(version), state, reason))
        return rows

    async def load_model(self, name: str, config_override: str | None = None) -> None:
        self._check_control_allowed()
        await self._load(name, config_override)

    async def unload_model(self, name: str) -> None:
        self._check_control_allowed()
        if name not in self._models:
            return  # unloading an unknown model is a no-op, as in Triton; it leaves no lock
        async with self._lock(name):
            entry = self._models.get(name)
            if entry is None:
                return
            old = entry.serving
            entry.serving = {}
            entry.states = {v: (UNAVAILABLE, "unloaded") for v in entry.states}
            entry.error = ""
        self._retire(old.values())

    async def set_instance_count(self, name: str, count: int) -> int:
        """Scale every served version of ``name`` to ``count`` instances, live."""
        if not 1 <= count <= MAX_INSTANCES:
            raise InvalidInputError(
                f"instance count must be between 1 and {MAX_INSTANCES}, got {count}"
            )
        async with self._lock(name):  # not while the model (re)loads
            self._resolve(name, "")
            for loaded in self._models[name].serving.values():
                await loaded.scale_to(count)
        return count

    def _check_control_allowed(self) -> None:
        mode = self._settings.model_control_mode
        if mode != "explicit":
            raise OperationNotAllowedError(
                f"explicit model load / unload is not allowed: model control mode is '{mode}' "
                "(start mlinfer with --model-control-mode explicit)"
            )

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def _load(self, name: str, config_override: str | None = None) -> None:
        """(Re)load every version the policy selects; the old ones serve until the swap.

        A name the repository does not hold leaves no trace (no index row, entry or lock), as
        Triton lists only repository models: clients choose names, so keeping what they tried
        would grow without bound.
        """
        if name not in self._models:
            await asyncio.to_thread(self._repository.model_dir, name)
        async with self._lock(name):
            entry = self._models.setdefault(name, _ModelEntry())
            try:
                source = await asyncio.to_thread(self._read_source, name, config_override)
            except ModelNotFoundError:
                if not entry.serving:  # gone from the repository meanwhile
                    self._models.pop(name, None)
                raise
            except MLInferError as exc:
                if not entry.serving:
                    entry.error = str(exc)
                    entry.states = {}
                raise
            fresh: dict[int, LoadedVersion] = {}
            states: dict[int, tuple[str, str]] = {}
            for version, path in sorted(source.versions.items()):
                states[version] = (LOADING, "")
                config = mc.ModelConfig()
                config.CopyFrom(source.config)
                try:
                    fresh[version] = await asyncio.to_thread(
                        LoadedVersion.load,
                        lambda c: spec_from_config(c, source.labels),
                        config,
                        version,
                        path,
                        self._settings.execution_providers,
                        self._settings.intra_op_threads,
                        self._tracer,
                    )
                    states[version] = (READY, "")
                except MLInferError as exc:
                    states[version] = (UNAVAILABLE, str(exc))
                    log.error("model %s version %d failed to load: %s", name, version, exc)
            if not fresh:
                reasons = "; ".join(r for _, r in states.values())
                if not entry.serving:
                    entry.states, entry.error = states, reasons
                raise ModelLoadError(f"failed to load '{name}': {reasons}")
            for loaded in fresh.values():
                loaded.start(self._settings.inline_execution_max_us * 1000)
            old, entry.serving = entry.serving, fresh
            entry.states, entry.error = states, ""
            entry.fingerprint = await asyncio.to_thread(self._repository.fingerprint, name)
        self._retire(old.values())
        log.info("model %s loaded, versions %s", name, sorted(fresh))

    def _read_source(self, name: str, config_override: str | None) -> ModelSource:
        override: mc.ModelConfig | None = None
        if config_override is not None:
            self._repository.model_dir(name)  # an unknown model before a bad override
            override = parse_override(name, config_override)
        source = self._repository.read(name, override)
        validate_config(source.config)
        check_supported(source.config)
        return source

    def _retire(self, versions: Any) -> None:
        """Drain replaced or unloaded versions in the background: no request is dropped."""
        grace = self._drain_seconds
        for loaded in versions:
            task = asyncio.create_task(loaded.stop(grace))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.repository_poll_seconds)
            await self.poll_once()

    async def poll_once(self) -> None:
        """Load new or changed models and unload removed ones (poll mode)."""
        present = set(self._repository.model_names())
        for name in sorted(present):
            entry = self._models.get(name)
            try:
                current = await asyncio.to_thread(self._repository.fingerprint, name)
            except MLInferError:
                continue
            if entry is None or entry.fingerprint != current:
                try:
                    await self._load(name)
                except MLInferError as exc:
                    log.error("poll: model %s failed to load: %s", name, exc)
                    self._models[name].fingerprint = current
        for name in [n for n in self._models if n not in present]:
            entry = self._models.pop(name)
            self._locks.pop(name, None)  # gone from the repository: nothing of it is kept
            self._retire(entry.serving.values())

    # -- statistics ----------------------------------------------------------------------
    async def statistics(self, name: str = "", version: str = "") -> list[pb.ModelStatistics]:
        if name:
            # Triton answers statistics of what it does not serve with INVALID_ARGUMENT.
            entry = self._models.get(name)
            if entry is None or not entry.serving:
                raise InvalidInputError(f"requested model '{name}' is not available")
            if version:
                loaded = entry.serving.get(int(version)) if ascii_digits(version) else None
                if loaded is None:
                    raise InvalidInputError(
                        f"requested model version is not available for model '{name}'"
                    )
                return [loaded.statistics()]
            return [v.statistics() for _, v in sorted(entry.serving.items())]
        return [
            v.statistics()
            for _, entry in sorted(self._models.items())
            for _, v in sorted(entry.serving.items())
        ]

    async def metrics_snapshot(self) -> list[ModelMetricsSnapshot]:
        return [
            ModelMetricsSnapshot(v.statistics(), v.pending, failures=dict(v.stats.failures))
            for _, entry in sorted(self._models.items())
            for _, v in sorted(entry.serving.items())
        ]
