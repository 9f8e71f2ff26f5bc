"""Gateway metrics beside Triton's names, in the process's own registry."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "mlinfer_requests",
            "Requests handled, by protocol, route (or gRPC method) and status",
            ["protocol", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "mlinfer_request_duration_seconds",
            "Request latency as the gateway sees it",
            ["protocol", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        # Per model version, so each arm of a traffic split can be read (and judged).
        self.model_latency = Histogram(
            "mlinfer_model_request_duration_seconds",
            "Inference latency by model, the version that served, and outcome "
            "(success, failure = server-side, client_error = 4xx)",
            ["model", "version", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._model_latency_children: dict[tuple[str, str, str], Any] = {}
        # Classifiers only: the class each response predicted, so an A/B report shows whether
        # the arms predict alike. Bounded by the model's classes (labels or output width).
        self.predictions = Counter(
            "mlinfer_model_predictions",
            "Predictions of classification models by model, version that served, and class",
            ["model", "version", "class"],
            registry=registry,
        )
        self._prediction_children: dict[tuple[str, str, str], Any] = {}
        self.admission_queue = Gauge(
            "mlinfer_admission_queue_depth", "Requests waiting for admission", registry=registry
        )
        self.admission_inflight = Gauge(
            "mlinfer_admission_inflight", "Requests admitted to the backend", registry=registry
        )
        self.admission_wait = Histogram(
            "mlinfer_admission_wait_seconds",
            "Time requests waited for admission",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.shed = Counter(
            "mlinfer_shed_requests",
            "Requests shed by admission control",
            ["reason"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "mlinfer_rate_limited_requests",
            "Requests refused by rate limits",
            ["scope"],
            registry=registry,
        )
        self.auth_failures = Counter(
            "mlinfer_auth_failures",
            "Requests refused by authentication or authorization",
            ["reason"],
            registry=registry,
        )
        self.cache_errors = Counter(
            "mlinfer_cache_backend_errors",
            "Response cache backend failures (serving continued uncached)",
            registry=registry,
        )
        self.ratelimit_fallbacks = Counter(
            "mlinfer_ratelimit_backend_errors",
            "Rate limiter backend failures (fell back to in-process limits)",
            registry=registry,
        )

    def observe_version(self, model: str, version: str, outcome: str, seconds: float) -> None:
        """One inference in ``model_latency``; label children cached (``labels()`` is slow)."""
        key = (model, version, outcome)
        child = self._model_latency_children.get(key)
        if child is None:
            child = self._model_latency_children[key] = self.model_latency.labels(*key)
        child.observe(seconds)

    def observe_classes(self, model: str, version: str, classes: list[str]) -> None:
        """The predicted class of each batch item in ``predictions``."""
        for name in classes:
            key = (model, version, name)
            child = self._prediction_children.get(key)
            if child is None:
                child = self._prediction_children[key] = self.predictions.labels(*key)
            child.inc()
