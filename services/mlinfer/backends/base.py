"""The seam between the DataPlane and where models run."""

from __future__ import annotations

from abc import ABC, abstractmethod

from tritonclient.grpc import service_pb2 as pb

from mlinfer.core.errors import UnsupportedError
from mlinfer.core.model_spec import ModelSpec
from mlinfer.core.stats import ModelMetricsSnapshot
from mlinfer.core.types import InferRequest, InferResponse, ModelIndexEntry


class Backend(ABC):
    """A model runtime. Validation, transports and metrics rendering live above it."""

    name: str

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def live(self) -> bool: ...

    @abstractmethod
    async def ready(self) -> bool: ...

    @abstractmethod
    async def model_spec(self, name: str, version: str = "") -> tuple[ModelSpec, str]:
        """Signature and resolved version of a ready model; raises NotFound / NotReady."""

    @abstractmethod
    async def model_versions(self, name: str) -> list[str]:
        """Versions of ``name`` that are ready, oldest first."""

    @abstractmethod
    async def model_ready(self, name: str, version: str = "") -> bool: ...

    @abstractmethod
    async def infer(self, request: InferRequest, spec: ModelSpec, batch_size: int) -> InferResponse:
        """Run a request that the DataPlane has already validated against ``spec``."""

    @abstractmethod
    async def repository_index(self, ready_only: bool = False) -> list[ModelIndexEntry]: ...

    @abstractmethod
    async def load_model(self, name: str, config_override: str | None = None) -> None: ...

    @abstractmethod
    async def unload_model(self, name: str) -> None: ...

    @abstractmethod
    async def statistics(self, name: str = "", version: str = "") -> list[pb.ModelStatistics]:
        """Triton's per model-version statistics messages."""

    @abstractmethod
    async def metrics_snapshot(self) -> list[ModelMetricsSnapshot]: ...

    async def set_instance_count(self, name: str, count: int) -> int:
        """Change a model's instance count live (the autoscaler's actuator)."""
        raise UnsupportedError(f"the {self.name} engine cannot change instance counts at run time")
