"""Process settings: the listener and logging fields here, one section per concern.

Every field is an environment variable: the fields of this class are ``MLINFER_<FIELD>``,
each section reads its own prefix (``MLINFER_AUTH_*``, ``MLINFER_CACHE_*``, ...; see the
section classes). Components receive their own section, never the whole of Settings.
:func:`settings_from_names` builds Settings from values named as the environment names
them, which is how CLI flags and tests override single variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlinfer.admission.settings import AdmissionSettings
from mlinfer.auth.settings import AuthSettings
from mlinfer.backends.settings import EngineSettings, TritonSettings
from mlinfer.cache.settings import CacheSettings
from mlinfer.imaging.settings import ImageSettings
from mlinfer.listeners.admin_settings import AdminSettings
from mlinfer.listeners.grpc_settings import GrpcSettings
from mlinfer.listeners.tls_settings import TlsSettings
from mlinfer.listeners.websocket_settings import WebSocketSettings
from mlinfer.listeners.workers_settings import WorkersSettings
from mlinfer.observability.settings import TracingSettings
from mlinfer.ratelimit.settings import RateLimitSettings
from mlinfer.registry.settings import RegistrySettings


class Settings(BaseSettings):
    """Everything a mlinfer process can be told. CLI flags override these fields."""

    model_config = SettingsConfigDict(env_prefix="MLINFER_", env_file=None, extra="ignore")

    host: str = Field("127.0.0.1", description="Address the REST and gRPC servers bind.")
    http_port: int = Field(8000, description="REST port (Open Inference Protocol, /metrics).")
    max_request_bytes: int = Field(64 * 1024 * 1024, description="Largest accepted request body.")
    request_body_timeout_s: float = Field(
        60.0,
        ge=0,
        description="Time a REST client has to send a request's whole body (0 = no limit).",
    )
    cors_allow_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (empty = CORS off)."
    )
    shutdown_grace_seconds: float = Field(
        10.0, description="How long shutdown waits for in-flight requests to drain."
    )
    log_level: str = Field("INFO", description="Python logging level.")
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object per line; text: for humans."
    )
    access_log: bool = Field(True, description="One log line per inference request.")

    engine: EngineSettings = Field(default_factory=EngineSettings)
    triton: TritonSettings = Field(default_factory=TritonSettings)
    grpc: GrpcSettings = Field(default_factory=GrpcSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    ratelimit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    admission: AdmissionSettings = Field(default_factory=AdmissionSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    image: ImageSettings = Field(default_factory=ImageSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    websocket: WebSocketSettings = Field(default_factory=WebSocketSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    workers: WorkersSettings = Field(default_factory=WorkersSettings)


def _sections() -> dict[str, tuple[str, type[BaseSettings]]]:
    """Section field -> (environment prefix after ``MLINFER_``, its class)."""
    out: dict[str, tuple[str, type[BaseSettings]]] = {}
    for name, info in Settings.model_fields.items():
        cls = info.annotation
        if isinstance(cls, type) and issubclass(cls, BaseSettings):
            prefix = str(cls.model_config.get("env_prefix", "")).upper()
            out[name] = (prefix.removeprefix("MLINFER_").lower(), cls)
    return out


def settings_from_names(values: Mapping[str, Any]) -> Settings:
    """Settings where ``values`` override variables named as in the environment, lower case
    and without ``MLINFER_`` (``{"auth_mode": "disabled", "grpc_port": 0}``); the rest is
    read from the environment as usual. An unknown name is a ValueError.
    """
    top: dict[str, Any] = {}
    by_section: dict[str, dict[str, Any]] = {}
    sections = _sections()
    # Longest prefix first: a section with an empty prefix (the engine) takes what is left.
    ordered = sorted(sections.items(), key=lambda item: -len(item[1][0]))
    for key, value in values.items():
        if key in Settings.model_fields and key not in sections:
            top[key] = value
            continue
        for section, (prefix, cls) in ordered:
            field = key.removeprefix(prefix)
            if key.startswith(prefix) and field in cls.model_fields:
                by_section.setdefault(section, {})[field] = value
                break
        else:
            raise ValueError(f"unknown setting '{key}' (MLINFER_{key.upper()})")
    for section, fields in by_section.items():
        top[section] = sections[section][1](**fields)
    return Settings(**top)


def environment_variables() -> dict[str, Any]:
    """Every variable a process reads, ``MLINFER_...`` -> its default (for docs and checks)."""
    out: dict[str, Any] = {}
    sections = _sections()
    for name, info in Settings.model_fields.items():
        if name in sections:
            prefix, cls = sections[name]
            for field, sub in cls.model_fields.items():
                out[f"MLINFER_{prefix}{field}".upper()] = sub.get_default(call_default_factory=True)
        else:
            out[f"MLINFER_{name}".upper()] = info.get_default(call_default_factory=True)
    return out
