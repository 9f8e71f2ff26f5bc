"""Process settings, read from the environment (prefix ``MLINFER_``) or an env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlinfer.auth.apikeys import ApiKeySpec
from mlinfer.auth.config import AuthMode
from mlinfer.ratelimit.bucket import Rate

ModelControlMode = Literal["none", "explicit", "poll"]


class Settings(BaseSettings):
    """Everything a mlinfer process can be told. CLI flags override these fields."""

    model_config = SettingsConfigDict(env_prefix="MLINFER_", env_file=None, extra="ignore")

    host: str = Field("127.0.0.1", description="Address the REST and gRPC servers bind.")
    http_port: int = Field(8000, description="REST port (Open Inference Protocol, /metrics).")
    grpc_port: int = Field(8001, description="gRPC port (inference.GRPCInferenceService).")
    model_repository: Path = Field(
        Path("model_repository"), description="Triton-layout model repository."
    )
    model_control_mode: ModelControlMode = Field(
        "explicit",
        description="none: load all at start; explicit: load/unload API; poll: rescan repository.",
    )
    startup_models: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Models loaded at start in explicit mode ('*' = every model).",
    )
    repository_poll_seconds: float = Field(15.0, description="Rescan period in poll mode.")
    triton_url: str | None = Field(
        None, description="host:port of a Triton gRPC endpoint; set to front Triton."
    )
    execution_providers: list[str] = Field(
        default_factory=list,
        description="ONNX Runtime providers for the embedded engine; empty = from instance_group.",
    )
    intra_op_threads: int = Field(0, description="ONNX Runtime intra-op threads (0 = ORT default).")
    inline_execution_max_us: int = Field(
        100,
        description="Single-instance models whose batches take at most this long run on the "
        "event loop instead of a worker thread (0 = always a thread).",
    )
    max_request_bytes: int = Field(64 * 1024 * 1024, description="Largest accepted request body.")
    grpc_max_message_bytes: int = Field(
        64 * 1024 * 1024, description="Largest gRPC message, both directions."
    )
    grpc_keepalive_time_ms: int = Field(20_000, description="gRPC server keepalive ping interval.")
    grpc_keepalive_timeout_ms: int = Field(10_000, description="gRPC keepalive ping ack timeout.")
    shutdown_grace_seconds: float = Field(
        10.0, description="How long shutdown waits for in-flight requests to drain."
    )
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate: serve REST (HTTPS) and gRPC over TLS."
    )
    tls_key_file: Path | None = Field(None, description="PEM private key for tls_cert_file.")
    cors_allow_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (empty = CORS off)."
    )
    log_level: str = Field("INFO", description="Python logging level.")
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object per line; text: for humans."
    )
    access_log: bool = Field(True, description="One log line per inference request.")
    admission_max_inflight: int = Field(
        64, description="Requests admitted to the backend at once (0 = no admission control)."
    )
    admission_max_queue: int = Field(
        512, description="Requests that may wait for admission; more are shed with 503."
    )
    admission_max_wait_ms: int = Field(
        5000, description="Longest wait for admission before a request is shed with 503."
    )
    admission_default_priority: int = Field(
        2, description="Admission priority of requests without one (1 = highest)."
    )
    otel_exporter: Literal["none", "console", "otlp-grpc", "otlp-http"] = Field(
        "none", description="Where OpenTelemetry spans go; none = tracing off."
    )
    otel_endpoint: str | None = Field(
        None, description="OTLP endpoint (grpc: host:port; http: URL of /v1/traces)."
    )
    otel_service_name: str = Field("mlinfer", description="service.name of exported spans.")
    otel_sample_ratio: float = Field(
        1.0, description="Fraction of new traces sampled (parent decisions are honoured)."
    )

    # -- authentication (mlinfer.auth) --
    auth_mode: AuthMode = Field(
        default="required",
        description="disabled: every request is anonymous with all scopes (logged loudly); "
        "required: JWT and/or API key on every request.",
    )
    auth_jwt_secret: SecretStr | None = Field(
        default=None, description="Shared HS256 secret (>= 32 bytes); enables HS256 tokens."
    )
    auth_jwks_url: str | None = Field(
        default=None, description="JWKS URL of the identity provider; enables RS/ES tokens."
    )
    auth_jwt_algorithms: list[str] = Field(
        default_factory=lambda: ["HS256", "RS256", "ES256"],
        description="Accepted JWT algorithms ('none' is always refused).",
    )
    auth_jwt_issuer: str | None = Field(
        default=None, description="Required 'iss' of tokens; unset = not checked."
    )
    auth_jwt_audience: str | None = Field(
        default=None, description="Required 'aud' of tokens; mandatory with a JWKS URL."
    )
    auth_jwt_leeway_seconds: float = Field(
        default=30.0, description="Clock skew tolerated on exp/nbf/iat."
    )
    auth_jwt_models_claim: str = Field(
        default="models", description="Claim holding the model glob allow-list."
    )
    auth_jwks_cache_seconds: float = Field(
        default=300.0, description="JWKS cache time when the response has no Cache-Control."
    )
    auth_jwks_min_refetch_seconds: float = Field(
        default=30.0, description="Minimum time between JWKS fetches (unknown kids included)."
    )
    auth_jwks_timeout_seconds: float = Field(default=5.0, description="JWKS fetch timeout.")
    auth_api_keys: list[ApiKeySpec] = Field(
        default_factory=list,
        description='API keys as JSON: [{"name", "hash": "sha256:...", "scopes", "models"}].',
    )
    auth_model_access: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Subject -> model globs, for tokens without a models claim.",
    )
    auth_default_models: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Model globs for tokens with neither a models claim nor a mapping.",
    )
    # -- rate limits (mlinfer.ratelimit) --
    ratelimit_identity_rps: float | None = Field(
        default=None, description="Requests/s per client identity; unset or 0 = unlimited."
    )
    ratelimit_identity_burst: float | None = Field(
        default=None, description="Per-client burst; default max(1, rps)."
    )
    ratelimit_model_rps: float | None = Field(
        default=None, description="Requests/s per model, all clients together; unset = unlimited."
    )
    ratelimit_model_burst: float | None = Field(
        default=None, description="Per-model burst; default max(1, rps)."
    )
    ratelimit_overrides: dict[str, Rate] = Field(
        default_factory=dict,
        description='"<client>/<model glob>" -> {"requests_per_second", "burst"}, replacing '
        "the client limit for those models.",
    )
    ratelimit_redis_url: str | None = Field(
        default=None, description="Share buckets between processes through this Redis."
    )
    ratelimit_redis_prefix: str = Field(
        default="mlinfer:rl:", description="Prefix of rate limit keys in Redis."
    )
    ratelimit_redis_timeout_seconds: float = Field(
        default=0.25, description="Redis socket timeout; past it the request is limited locally."
    )
    ratelimit_redis_retry_seconds: float = Field(
        default=1.0, description="How often to probe Redis again during an outage."
    )
    auth_open_health: bool = Field(
        default=True, description="Health endpoints need no credentials (probes, load balancers)."
    )
    auth_open_metrics: bool = Field(
        default=True, description="/metrics needs no credentials (Prometheus scrapes)."
    )

    # -- response cache (mlinfer.cache) --
    cache_backend: Literal["memory", "redis", "off"] = Field(
        default="memory", description="Where cached responses live (models opt in)."
    )
    cache_max_bytes: int = Field(
        default=256 * 1024 * 1024, description="Memory cache: bound on total bytes."
    )
    cache_max_entries: int = Field(default=100_000, description="Memory cache: bound on entries.")
    cache_max_entry_bytes: int = Field(
        default=4 * 1024 * 1024, description="Larger responses are not cached."
    )
    cache_ttl_seconds: float = Field(default=3600.0, description="Entry lifetime; 0 = forever.")
    cache_redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis for cache_backend=redis."
    )
    cache_redis_prefix: str = Field(default="mlinfer:rc:", description="Cache key namespace.")
    cache_redis_timeout_seconds: float = Field(
        default=0.25, description="Redis socket timeout; past it the request goes uncached."
    )
    cache_redis_retry_seconds: float = Field(
        default=1.0, description="How long Redis is skipped after a failure."
    )
    cache_key_hash: Literal["xxh3_128", "blake2b"] | None = Field(
        default=None,
        description="Hash of tensor bytes in cache keys (None: xxh3_128; blake2b where "
        "clients must not be able to craft collisions).",
    )
    # -- image inference (mlinfer.imaging) --
    image_max_bytes: int = Field(
        default=20 * 1024 * 1024, description="Largest encoded image for /infer/image."
    )
    image_max_pixels: int = Field(
        default=40_000_000, description="Largest decoded image (decompression-bomb guard)."
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file must be given together")
        return self
