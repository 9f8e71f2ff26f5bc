"""The DataPlane: everything the protocol can ask, shared by the REST and gRPC adapters.

Inference runs one pipeline for every transport and backend: resolve and validate the
model, consult the response cache, wait for admission (priority, load shedding), call the
backend, store in the cache. Each step is a span when tracing is on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.grpc import service_pb2 as pb

import mlinfer
from mlinfer.admission.controller import AdmissionController
from mlinfer.backends.base import Backend
from mlinfer.cache.response_cache import ResponseCache
from mlinfer.core.errors import (
    InvalidInputError,
    MLInferError,
    ModelNotFoundError,
    ModelNotReadyError,
)
from mlinfer.core.model_spec import ModelSpec, TensorSpec
from mlinfer.core.stats import ModelMetricsSnapshot
from mlinfer.core.types import InferRequest, InferResponse, ModelIndexEntry
from mlinfer.core.validation import validate_request
from mlinfer.observability.tracing import inject_headers, record_span
from mlinfer.registry.classes import predicted_classes
from mlinfer.registry.traffic import TrafficRouter

# (model, version that served or "", outcome: success | failure | client_error, seconds)
ResultObserver = Callable[[str, str, str, float], None]
# (model, version that served, the class each batch item predicted): classifiers only
ClassObserver = Callable[[str, str, list[str]], None]

SERVER_NAME = "mlinfer"
EXTENSIONS = (
    "classification",
    "binary_tensor_data",
    "model_repository",
    "model_repository(unload_dependents)",
    "schedule_policy",
    "model_configuration",
    "statistics",
)
CACHE_HIT_PARAMETER = "cache_hit"


class DataPlane:
    def __init__(
        self,
        backend: Backend,
        *,
        admission: AdmissionController | None = None,
        cache: ResponseCache | None = None,
        tracer: trace.Tracer | None = None,
        traffic: TrafficRouter | None = None,
        on_result: ResultObserver | None = None,
        on_classes: ClassObserver | None = None,
    ) -> None:
        self.backend = backend
        self._traffic = traffic
        self._on_result = on_result
        self._on_classes = on_classes
        self.admission = admission or AdmissionController(0, 0, 0.0)
        self._cache = cache
        self._tracer = tracer or trace.NoOpTracer()

    async def live(self) -> bool:
        return await self.backend.live()

    async def ready(self) -> bool:
        return await self.backend.ready()

    def metadata(self) -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": mlinfer.__version__, "extensions": list(EXTENSIONS)}

    async def model_ready(self, name: str, version: str = "") -> bool:
        return await self.backend.model_ready(name, version)

    async def model_spec(self, name: str, version: str = "") -> ModelSpec:
        spec, _ = await self.backend.model_spec(name, version)
        return spec

    async def model_version(self, name: str, version: str = "") -> tuple[ModelSpec, str]:
        """The version serving ``name`` now (newest ready when ``version`` is empty) and its
        spec: what a stream pins for its life."""
        return await self.backend.model_spec(name, version)

    async def model_metadata(self, name: str, version: str = "") -> pb.ModelMetadataResponse:
        spec, _ = await self.backend.model_spec(name, version)
        versions = [version] if version else await self.backend.model_versions(name)

        def tensors(specs: tuple[TensorSpec, ...]) -> list[pb.ModelMetadataResponse.TensorMetadata]:
            return [
                pb.ModelMetadataResponse.TensorMetadata(
                    name=t.name, datatype=t.datatype, shape=spec.full_shape(t)
                )
                for t in specs
            ]

        return pb.ModelMetadataResponse(
            name=spec.name,
            versions=versions,
            platform=spec.platform,
            inputs=tensors(spec.inputs),
            outputs=tensors(spec.outputs),
        )

    async def model_config(self, name: str, version: str = "") -> mc.ModelConfig:
        spec, _ = await self.backend.model_spec(name, version)
        return spec.config

    # -- traffic policy (registry): route, fall back, count per version ---------------
    async def infer(self, request: InferRequest) -> InferResponse:
        routed = False
        if self._traffic is not None and not request.model_version:
            request.model_version = self._traffic.choose(
                request.model_name, request.route_headers, request.subject
            )
            routed = bool(request.model_version)
        if self._on_result is None and not routed:
            return await self._infer(request)
        start = time.perf_counter()
        outcome, version = "failure", request.model_version
        resolved: list[str] = []  # the version the engine picked (failures of unversioned calls)
        try:
            try:
                response = await self._infer(request, resolved)
            except (ModelNotFoundError, ModelNotReadyError):
                if not routed:
                    raise
                # The policy names a version this engine does not hold (yet): serve the default.
                request.model_version = version = ""
                response = await self._infer(request)
            outcome, version = "success", response.model_version
            return response
        except (ModelNotFoundError, asyncio.CancelledError):
            outcome = ""  # unknown names are not series (clients choose them); nor hang-ups
            raise
        except MLInferError as exc:
            outcome = "client_error" if exc.status.value < 500 else "failure"
            if outcome == "client_error" and not routed:
                version = ""  # as the client wrote it: not a label value
            raise
        finally:
            if outcome == "failure" and not version and resolved:
                version = resolved[-1]  # a judge must see the failures of the version it judges
            if self._on_result is not None and outcome:
                self._on_result(request.model_name, version, outcome, time.perf_counter() - start)

    async def _infer(
        self, request: InferRequest, resolved: list[str] | None = None
    ) -> InferResponse:
        tracer = self._tracer
        with tracer.start_as_current_span(
            "mlinfer.infer", attributes={"mlinfer.model": request.model_name}
        ) as span:
            spec, version = await self.backend.model_spec(request.model_name, request.model_version)
            if resolved is not None:
                resolved.append(version)
            span.set_attribute("mlinfer.model_version", version)  # a string, as in responses
            batch_size = validate_request(spec, request)
            use_cache = self._cache is not None and spec.response_cache
            if use_cache:
                cached = await self._lookup(request, version)
                span.set_attribute("mlinfer.cache_hit", cached is not None)
                if cached is not None:
                    self._count_classes(spec, request, cached)
                    return cached
            async with self.admission.admit(request.priority) as waited_s:
                if waited_s:
                    end = time.time_ns()
                    record_span(tracer, "admission.wait", end - int(waited_s * 1e9), end)
                with tracer.start_as_current_span(
                    "backend.infer", attributes={"mlinfer.backend": self.backend.name}
                ):
                    headers = inject_headers()
                    if headers:
                        request.trace_headers = headers
                    response = await self.backend.infer(request, spec, batch_size)
            if use_cache:
                assert self._cache is not None
                await self._cache.store(request, version, response)
            self._count_classes(spec, request, response)
            return response

    def _count_classes(
        self, spec: ModelSpec, request: InferRequest, response: InferResponse
    ) -> None:
        if self._on_classes is not None:
            classes = predicted_classes(spec, request, response)
            if classes:
                self._on_classes(request.model_name, response.model_version, classes)

    async def _lookup(self, request: InferRequest, version: str) -> InferResponse | None:
        assert self._cache is not None
        with self._tracer.start_as_current_span("cache.lookup"):
            cached = await self._cache.lookup(request, version)
        if cached is not None:
            cached.parameters[CACHE_HIT_PARAMETER] = True
        return cached

    async def repository_index(self, ready_only: bool = False) -> list[ModelIndexEntry]:
        return await self.backend.repository_index(ready_only)

    async def load_model(self, name: str, parameters: Mapping[str, Any] | None = None) -> None:
        """Load or reload; ``parameters`` as the load API takes them (only ``config``)."""
        await self.backend.load_model(name, _config_override(parameters or {}))

    async def unload_model(self, name: str) -> None:
        await self.backend.unload_model(name)

    async def set_instance_count(self, name: str, count: int) -> int:
        return await self.backend.set_instance_count(name, count)

    async def statistics(self, name: str = "", version: str = "") -> pb.ModelStatisticsResponse:
        stats = await self.backend.statistics(name, version)
        return pb.ModelStatisticsResponse(model_stats=[self._with_cache_stats(s) for s in stats])

    async def metrics_snapshot(self) -> list[ModelMetricsSnapshot]:
        engine = [
            dataclasses.replace(s, stats=self._with_cache_stats(s.stats))
            for s in await self.backend.metrics_snapshot()
        ]
        if self._cache is None:
            return engine
        # Versions the cache has seen that no engine snapshot covers (models a Triton
        # behind us serves): their cache counts only.
        seen = {(s.stats.name, s.stats.version) for s in engine}
        cache_only = [
            ModelMetricsSnapshot(
                self._with_cache_stats(pb.ModelStatistics(name=name, version=version)),
                0,
                engine=False,
            )
            for (name, version) in self._cache.stats.models
            if (name, version) not in seen
        ]
        return engine + cache_only

    def _with_cache_stats(self, stats: pb.ModelStatistics) -> pb.ModelStatistics:
        """The gateway's cache sits in front of every backend: its counts go in the stats.

        As in Triton, a request answered from the cache is a successful request: it counts in
        ``success`` (count and duration) though the backend never saw it.
        """
        if self._cache is not None:
            counts = self._cache.stats.models.get((stats.name, stats.version))
            if counts is not None:
                inference = stats.inference_stats
                inference.cache_hit.CopyFrom(counts.hit_duration())
                inference.cache_miss.CopyFrom(counts.miss_duration())
                inference.success.count += counts.hits
                inference.success.ns += counts.hit_ns
        return stats


def _config_override(parameters: Mapping[str, Any]) -> str | None:
    unknown = sorted(set(parameters) - {"config"})
    if unknown:
        raise InvalidInputError(
            f"unsupported load parameter(s) {unknown}: only 'config' is supported"
        )
    override = parameters.get("config")
    if override is not None and not isinstance(override, str):
        raise InvalidInputError("load parameter 'config' must be a JSON string")
    return override
