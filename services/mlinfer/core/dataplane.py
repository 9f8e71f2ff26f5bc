"""The DataPlane: everything the protocol can ask, shared by the REST and gRPC adapters."""

from __future__ import annotations

from typing import Any

from tritonclient.grpc import model_config_pb2 as mc

import mlinfer
from mlinfer.backends.base import Backend, ModelMetricsSnapshot
from mlinfer.core.model_spec import ModelSpec
from mlinfer.core.types import InferRequest, InferResponse, ModelIndexEntry
from mlinfer.core.validation import validate_request

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


class DataPlane:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

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

    async def model_metadata(self, name: str, version: str = "") -> dict[str, Any]:
        spec, _ = await self.backend.model_spec(name, version)
        versions = [version] if version else await self.backend.model_versions(name)
        return {
            "name": spec.name,
            "versions": versions,
            "platform": spec.platform,
            "inputs": [
                {"name": t.name, "datatype": t.datatype, "shape": spec.full_shape(t)}
                for t in spec.inputs
            ],
            "outputs": [
                {"name": t.name, "datatype": t.datatype, "shape": spec.full_shape(t)}
                for t in spec.outputs
            ],
        }

    async def model_config(self, name: str, version: str = "") -> mc.ModelConfig:
        spec, _ = await self.backend.model_spec(name, version)
        return spec.config

    async def infer(self, request: InferRequest) -> InferResponse:
        spec, _ = await self.backend.model_spec(request.model_name, request.model_version)
        batch_size = validate_request(spec, request)
        return await self.backend.infer(request, spec, batch_size)

    async def repository_index(self, ready_only: bool = False) -> list[ModelIndexEntry]:
        return await self.backend.repository_index(ready_only)

    async def load_model(self, name: str, config_override: str | None = None) -> None:
        await self.backend.load_model(name, config_override)

    async def unload_model(self, name: str) -> None:
        await self.backend.unload_model(name)

    async def statistics(self, name: str = "", version: str = "") -> dict[str, Any]:
        return {"model_stats": await self.backend.statistics(name, version)}

    async def metrics_snapshot(self) -> list[ModelMetricsSnapshot]:
        return await self.backend.metrics_snapshot()
