"""A real Triton behind mlinfer's DataPlane, over one shared ``tritonclient.grpc.aio`` client.

Validation, REST/gRPC transports and metrics stay in mlinfer; inference (with priority, queue
timeout, classification, request id and W3C trace context), model control and statistics are
proxied to Triton. Triton's errors keep their message and map to mlinfer's error classes.

Triton may start after mlinfer, crash or restart: ``start`` never fails for a missing Triton,
every call made while it is away raises ``UnavailableError`` ("Triton at HOST:PORT is
unavailable: ...", REST 503 / gRPC UNAVAILABLE), and serving resumes by itself once it is back
(short reconnect backoff on the channel; a channel that stays broken is replaced).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import tritonclient.grpc.aio as aiogrpcclient
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.grpc import service_pb2 as pb
from tritonclient.utils import InferenceServerException

from mlinfer.backends.base import Backend
from mlinfer.backends.settings import TritonSettings
from mlinfer.backends.triton import convert
from mlinfer.backends.triton.errors import TritonUnavailableError, from_triton, status_name
from mlinfer.backends.triton.http_forward import TritonHttpForwarder, http_forwardable
from mlinfer.backends.triton.passthrough import forward_message, forwardable
from mlinfer.core.errors import (
    DeadlineExceededError,
    MLInferError,
    ModelNotFoundError,
    UnavailableError,
)
from mlinfer.core.model_config import parse_override
from mlinfer.core.model_spec import ModelSpec, spec_from_config
from mlinfer.core.parameters import ascii_digits
from mlinfer.core.repository import check_model_name
from mlinfer.core.stats import ModelMetricsSnapshot
from mlinfer.core.types import InferRequest, InferResponse, ModelIndexEntry

log = logging.getLogger(__name__)

T = TypeVar("T")

_MAX_MESSAGE_BYTES = 2**31 - 1  # tritonclient's own limit; mlinfer's transports enforce theirs
_HEALTH_TIMEOUT_S = 2.0  # liveness / readiness probes answer "no" rather than hang
_VERSION_TTL_S = 1.0  # how long "" -> newest ready version is trusted without asking Triton
_SPEC_TTL_S = 10.0  # a version's config can change behind mlinfer's back (reload on Triton)
_RECREATE_AFTER_S = 3.0  # a channel failing this long (and Triton answering) is replaced


@dataclass
class _Cached:
    value: Any
    expires: float


class TritonBackend(Backend):
    """Serves the models of the Triton at ``url`` (its gRPC ``host:port``)."""

    name = "triton"

    def __init__(
        self, url: str, *, drain_seconds: float = 10.0, deadlines: TritonSettings | None = None
    ) -> None:
        if not url:
            raise ValueError("TritonBackend needs Triton's gRPC host:port (MLINFER_TRITON_URL)")
        self._drain_seconds = drain_seconds
        self._deadlines = deadlines or TritonSettings(url=url)
        self.url = url
        self._client: aiogrpcclient.InferenceServerClient | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._failing_since: float | None = None
        self._created_at = 0.0
        self._specs: dict[tuple[str, str], _Cached] = {}  # (name, version) -> ModelSpec
        self._newest: dict[str, _Cached] = {}  # name -> newest ready version
        http_url = self._deadlines.http_url
        self._forwarder = TritonHttpForwarder(http_url) if http_url else None

    # -- client --------------------------------------------------------------------------
    def _channel_args(self) -> list[tuple[str, Any]]:
        return [
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            # Reconnect quickly once Triton is back (gRPC's default backoff grows to 120 s).
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
            # No keepalive pings without calls: Triton's defaults answer those with GOAWAY
            # (too_many_pings); a dead loopback peer is seen through the socket anyway.
            ("grpc.keepalive_permit_without_calls", 0),
            ("grpc.enable_retries", 0),
        ]

    def _get_client(self) -> aiogrpcclient.InferenceServerClient:
        """The shared client, created on first use (inside the serving event loop)."""
        client = self._client
        if client is not None and self._failing_since is not None:
            now = time.monotonic()
            if (
                now - self._failing_since > _RECREATE_AFTER_S
                and now - self._created_at > _RECREATE_AFTER_S
            ):
                log.warning("replacing the gRPC channel to Triton at %s", self.url)
                self._retire(client)
                client = None
        if client is None:
            client = aiogrpcclient.InferenceServerClient(
                self.url, channel_args=self._channel_args()
            )
            self._client = client
            self._created_at = time.monotonic()
        return client

    def _retire(self, client: aiogrpcclient.InferenceServerClient) -> None:
        """Close a replaced client in the background, letting its in-flight calls finish."""

        async def close() -> None:
            with contextlib.suppress(Exception):
                await client._channel.close(grace=self._drain_seconds)

        task = asyncio.create_task(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _channel_broken(self) -> bool:
        client = self._client
        channel = getattr(client, "_channel", None)
        if channel is None:
            return False
        try:
            state = channel.get_state(try_to_connect=True)
        except Exception:  # a closed channel
            return True
        return bool(state == grpc.ChannelConnectivity.TRANSIENT_FAILURE)

    async def _call(
        self,
        fn: Callable[[aiogrpcclient.InferenceServerClient], Awaitable[T]],
        model: str = "",
        deadline_s: float | None = None,
    ) -> T:
        """Run one client call; map Triton's errors and track the channel's health.

        ``deadline_s`` is the gRPC deadline ``fn`` gave the call: when it passes the answer is
        504 / DEADLINE_EXCEEDED naming Triton and the deadline.
        """
        try:
            result = await fn(self._get_client())
        except InferenceServerException as exc:
            if deadline_s is not None and status_name(exc) == "DEADLINE_EXCEEDED":
                raise DeadlineExceededError(
                    f"Triton at {self.url} did not answer within the deadline of "
                    f"{deadline_s:.3g} s"
                ) from None
            error = from_triton(exc, self.url)
            if (
                not isinstance(error, TritonUnavailableError)
                and status_name(exc) == "UNAVAILABLE"
                and self._channel_broken()
            ):
                error = TritonUnavailableError(self.url, exc.message() or str(exc))
            if isinstance(error, TritonUnavailableError):
                self._connection_failed(error)
            else:
                self._failing_since = None  # Triton answered: the channel is fine
                if model and _model_gone(error):
                    self._forget(model)
            raise error from None
        self._failing_since = None
        return result

    def _connection_failed(self, error: TritonUnavailableError) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.warning("%s", error)
        self._forget_all()

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Connect lazily: a Triton that is not up yet only makes mlinfer not ready."""
        self._get_client()
        try:
            ready = await self.ready()
        except MLInferError:
            ready = False
        if ready:
            log.info("fronting Triton at %s", self.url)
        else:
            log.warning(
                "Triton at %s is not ready yet; mlinfer reports not ready until it is", self.url
            )

    async def stop(self) -> None:
        if self._forwarder is not None:
            await self._forwarder.close()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def live(self) -> bool:
        try:
            return bool(
                await self._call(lambda c: c.is_server_live(client_timeout=_HEALTH_TIMEOUT_S))
            )
        except MLInferError:
            return False

    async def ready(self) -> bool:
        try:
            return bool(
                await self._call(lambda c: c.is_server_ready(client_timeout=_HEALTH_TIMEOUT_S))
            )
        except MLInferError:
            return False

    # -- models --------------------------------------------------------------------------
    async def model_spec(self, name: str, version: str = "") -> tuple[ModelSpec, str]:
        resolved = version or await self._newest_version(name)
        now = time.monotonic()
        cached = self._specs.get((name, resolved))
        if cached is not None and cached.expires > now:
            spec: ModelSpec = cached.value
            return spec, resolved
        timeout = self._deadlines.control_timeout_s
        response: pb.ModelConfigResponse = await self._call(
            lambda c: c.get_model_config(name, resolved, client_timeout=timeout), name, timeout
        )
        config = mc.ModelConfig()
        config.CopyFrom(response.config)
        spec = spec_from_config(config)
        self._specs[(name, resolved)] = _Cached(spec, now + _SPEC_TTL_S)
        return spec, resolved

    async def _newest_version(self, name: str) -> str:
        now = time.monotonic()
        cached = self._newest.get(name)
        if cached is not None and cached.expires > now:
            return str(cached.value)
        versions = await self.model_versions(name)
        if not versions:
            # What Triton itself answers for a model without ready versions.
            raise ModelNotFoundError(
                f"Request for unknown model: '{name}' has no available versions"
            )
        newest = versions[-1]
        self._newest[name] = _Cached(newest, now + _VERSION_TTL_S)
        return newest

    async def model_versions(self, name: str) -> list[str]:
        timeout = self._deadlines.control_timeout_s
        meta: pb.ModelMetadataResponse = await self._call(
            lambda c: c.get_model_metadata(name, client_timeout=timeout), name, timeout
        )
        return sorted(meta.versions, key=_version_key)

    async def model_ready(self, name: str, version: str = "") -> bool:
        timeout = self._deadlines.control_timeout_s
        return bool(
            await self._call(
                lambda c: c.is_model_ready(name, version, client_timeout=timeout), "", timeout
            )
        )

    async def infer(self, request: InferRequest, spec: ModelSpec, batch_size: int) -> InferResponse:
        body, message = request.http_body, request.grpc_message
        if body is not None and self._forwarder is not None and http_forwardable(spec, request):
            try:
                return await self._forwarder.infer(request, body, self._infer_deadline(request))
            except MLInferError as error:
                if _model_gone(error):
                    self._forget(request.model_name)
                raise
        if message is not None and forwardable(spec, request):
            deadline = self._infer_deadline(request)
            return await self._call(
                lambda c: forward_message(c, request, message, deadline),
                request.model_name,
                deadline,
            )
        inputs = convert.infer_inputs(request)
        outputs = convert.requested_outputs(request)
        kwargs = convert.infer_arguments(request)
        timeout = self._infer_deadline(request)
        result = await self._call(
            lambda c: c.infer(
                request.model_name, inputs, outputs=outputs, client_timeout=timeout, **kwargs
            ),
            request.model_name,
            timeout,
        )
        return convert.response_from_proto(result.get_response())

    def _infer_deadline(self, request: InferRequest) -> float:
        """Seconds the proxied call may take: the backend deadline, or the client's sooner."""
        timeout = self._deadlines.infer_timeout_s
        if request.deadline is not None:
            left = request.deadline - time.monotonic()
            if left <= 0:
                raise DeadlineExceededError(
                    "the client's deadline passed before the request was sent to Triton"
                )
            timeout = min(timeout, left)
        return timeout

    def _forget(self, name: str) -> None:
        self._newest.pop(name, None)
        for key in [k for k in self._specs if k[0] == name]:
            del self._specs[key]

    def _forget_all(self) -> None:
        self._newest.clear()
        self._specs.clear()

    # -- repository ----------------------------------------------------------------------
    async def repository_index(self, ready_only: bool = False) -> list[ModelIndexEntry]:
        timeout = self._deadlines.control_timeout_s
        response: pb.RepositoryIndexResponse = await self._call(
            lambda c: c.get_model_repository_index(client_timeout=timeout), "", timeout
        )
        return [
            ModelIndexEntry(m.name, m.version, m.state, m.reason)
            for m in response.models
            if not ready_only or m.state == "READY"
        ]

    async def load_model(self, name: str, config_override: str | None = None) -> None:
        # Client errors Triton answers with INTERNAL: said as 400 before Triton is asked.
        check_model_name(name)
        if config_override is not None:
            parse_override(name, config_override)
        self._forget(name)
        try:
            timeout = self._deadlines.load_timeout_s
            await self._call(
                lambda c: c.load_model(name, config=config_override, client_timeout=timeout),
                name,
                timeout,
            )
        finally:
            self._forget(name)

    async def unload_model(self, name: str) -> None:
        self._forget(name)
        try:
            timeout = self._deadlines.load_timeout_s
            await self._call(lambda c: c.unload_model(name, client_timeout=timeout), name, timeout)
        finally:
            self._forget(name)

    # -- statistics ----------------------------------------------------------------------
    async def statistics(self, name: str = "", version: str = "") -> list[pb.ModelStatistics]:
        timeout = self._deadlines.control_timeout_s
        response: pb.ModelStatisticsResponse = await self._call(
            lambda c: c.get_inference_statistics(name, version, client_timeout=timeout),
            name,
            timeout,
        )
        return list(response.model_stats)

    async def metrics_snapshot(self) -> list[ModelMetricsSnapshot]:
        """None: Triton exports its nv_inference_* series on its own /metrics, which the
        deployments scrape; re-exporting them here counted every request twice on the
        dashboards, which sum over both jobs."""
        return []


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if ascii_digits(version) else (-1, version)


def _model_gone(error: MLInferError) -> bool:
    """Triton says the model (version) is unknown or not ready: cached signatures are stale.

    Not for every UNAVAILABLE: a full queue or an expired request timeout says nothing about
    the model's config, and dropping the cache then would only add calls under load.
    """
    if isinstance(error, ModelNotFoundError):
        return True
    text = error.message.lower()
    return isinstance(error, UnavailableError) and ("unknown model" in text or "not ready" in text)
