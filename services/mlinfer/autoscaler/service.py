"""The autoscaler service: scrape, decide, act, report; once per interval.

The policy is pure; this module does the I/O around it: the server's ``/metrics`` and the
exporter's, the actuator, the decision log and the autoscaler's own metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge

from mlinfer.autoscaler import config as overrides
from mlinfer.autoscaler.actuators import (
    ActuatorError,
    EmbeddedActuator,
    RestActuator,
    TritonActuator,
)
from mlinfer.autoscaler.policy import Decision, ScalingPolicy
from mlinfer.autoscaler.settings import AutoscalerSettings
from mlinfer.autoscaler.signals import (
    DeviceSignals,
    SignalTracker,
    parse_device_metrics,
    parse_server_metrics,
)

log = logging.getLogger("mlinfer.autoscaler")


class ServerUnavailableError(overrides.AutoscalerConfigError):
    """The server did not answer at start (it may still be starting: worth a retry)."""


class AutoscalerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.desired = Gauge(
            "mlinfer_autoscaler_desired_instances",
            "Instances the policy wants for the model",
            ["model"],
            registry=registry,
        )
        self.current = Gauge(
            "mlinfer_autoscaler_current_instances",
            "Instances the model has, as its served config says",
            ["model"],
            registry=registry,
        )
        self.decisions = Counter(
            "mlinfer_autoscaler_decisions",
            "Policy decisions by direction (up, down, hold) and the reason behind them",
            ["model", "direction", "reason"],
            registry=registry,
        )
        self.failures = Counter(
            "mlinfer_autoscaler_failures",
            "Scrapes or scaling actions that failed",
            ["stage"],
            registry=registry,
        )


@dataclass
class Step:
    decisions: list[Decision]
    applied: dict[str, int]  # model -> count now served, for changes that were made


class Autoscaler:
    def __init__(
        self,
        settings: AutoscalerSettings,
        client: httpx.AsyncClient,
        actuator: RestActuator,
        policy: ScalingPolicy,
        models: list[str],
        metrics: AutoscalerMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.models = models
        self.metrics = metrics
        self._client = client
        self._actuator = actuator
        self._clock = clock
        self._tracker = SignalTracker()
        self._failing: set[str] = set()  # stages whose outage was logged

    @classmethod
    async def create(
        cls,
        settings: AutoscalerSettings,
        client: httpx.AsyncClient,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.monotonic,
    ) -> Autoscaler:
        """Resolve models and per-model configs against the server; bad config raises here."""
        actuator = make_actuator(settings, client)
        defaults, per_model = overrides.load_overrides(settings.config_file)
        try:
            served = await actuator.ready_models()
        except ActuatorError as exc:
            raise ServerUnavailableError(
                f"cannot list the models of {settings.server_url}: {exc}"
            ) from None
        unknown = sorted(set(settings.models) - set(served))
        if unknown:
            raise overrides.AutoscalerConfigError(
                f"models to manage are not served by {settings.server_url}: {unknown} "
                f"(served: {served})"
            )
        models = settings.models or served
        parameters = {}
        for model in models:
            config = await actuator.config(model)
            parameters[model] = overrides.from_model_parameters(config.get("parameters") or {})
        default, configs = overrides.resolve(
            settings.policy_defaults(), defaults, per_model, parameters, served
        )
        policy = ScalingPolicy(configs, default)
        return cls(settings, client, actuator, policy, models, AutoscalerMetrics(registry), clock)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.interval_seconds)

    async def step(self) -> Step:
        now = self._clock()
        try:
            server = parse_server_metrics(await self._scrape(self.settings.server_metrics_url))
        except (httpx.HTTPError, ValueError) as exc:
            self._failed("scrape_server", f"server metrics unavailable: {exc!r}")
            return Step([], {})
        self._recovered("scrape_server")
        device = await self._device()
        decisions: list[Decision] = []
        applied: dict[str, int] = {}
        for model in self.models:
            try:
                current = await self._actuator.current(model)
            except ActuatorError as exc:
                self._failed("read_instances", str(exc))
                continue
            self._recovered("read_instances")
            signals = self._tracker.update(model, server.get(model), device, current, now)
            decision = self.policy.decide(model, current, signals, now)
            decisions.append(decision)
            self._report(decision)
            if decision.changes and not self.settings.dry_run:
                try:
                    applied[model] = await self._actuator.scale(model, decision.desired)
                except ActuatorError as exc:
                    self.metrics.failures.labels("scale").inc()
                    log.error("autoscaler: scaling %s failed: %s", model, exc)
                    continue
            self.metrics.current.labels(model).set(applied.get(model, current))
        return Step(decisions, applied)

    async def _device(self) -> DeviceSignals:
        if not self.settings.exporter_url:
            return DeviceSignals()
        try:
            device = parse_device_metrics(await self._scrape(self.settings.exporter_url))
        except (httpx.HTTPError, ValueError) as exc:
            self._failed("scrape_exporter", f"exporter metrics unavailable: {exc!r}")
            return DeviceSignals()
        self._recovered("scrape_exporter")
        return device

    def _failed(self, stage: str, message: str) -> None:
        """Count every failure; log an outage once, not once per interval."""
        self.metrics.failures.labels(stage).inc()
        if stage not in self._failing:
            self._failing.add(stage)
            log.warning(
                "autoscaler: %s (retrying every %.1f s)", message, self.settings.interval_seconds
            )

    def _recovered(self, stage: str) -> None:
        if stage in self._failing:
            self._failing.discard(stage)
            log.info("autoscaler: %s works again", stage)

    async def _scrape(self, url: str) -> str:
        response = await self._client.get(url)
        response.raise_for_status()
        return response.text

    def _report(self, decision: Decision) -> None:
        self.metrics.desired.labels(decision.model).set(decision.desired)
        self.metrics.decisions.labels(decision.model, decision.direction, decision.reason).inc()
        level = logging.INFO if decision.changes else logging.DEBUG
        log.log(
            level,
            "autoscaler decision: %s %d -> %d (%s, %s)",
            decision.model,
            decision.current,
            decision.desired,
            decision.direction,
            decision.reason,
            extra={
                "event": "autoscaler_decision",
                "model": decision.model,
                "current": decision.current,
                "desired": decision.desired,
                "direction": decision.direction,
                "reason": decision.reason,
                "signals": decision.signals,
                "dry_run": self.settings.dry_run,
            },
        )


def make_actuator(settings: AutoscalerSettings, client: httpx.AsyncClient) -> RestActuator:
    if settings.actuator == "triton":
        return TritonActuator(client)
    return EmbeddedActuator(client)


def make_client(settings: AutoscalerSettings) -> httpx.AsyncClient:
    headers = {}
    if settings.api_key is not None:
        headers["x-api-key"] = settings.api_key.get_secret_value()
    return httpx.AsyncClient(
        base_url=settings.server_url,
        headers=headers,
        timeout=settings.request_timeout_seconds,
    )
