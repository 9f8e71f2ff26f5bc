"""Registry settings (env prefix ``MLINFER_REGISTRY_``): the service and its clients.

The service half (database, artifacts, deploy target, canary clock) is read by
``mlinfer registry serve`` or by ``mlinfer serve`` when it hosts the registry in-process.
The client half (``url``, credentials, policy cache) is read by gateways that subscribe
to traffic policies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class RegistrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLINFER_REGISTRY_", env_file=None, extra="ignore")

    # -- the service --
    host: str = Field("127.0.0.1", description="Address the registry admin API binds.")
    port: int = Field(8080, description="Registry admin API port (0 = any free).")
    database_url: str = Field(
        "sqlite:///registry/registry.db",
        description="SQLAlchemy URL: sqlite:///path (default) or postgresql+psycopg://...",
    )
    artifact_store: Literal["local", "s3"] = Field("local", description="Where artifacts live.")
    artifact_dir: Path = Field(Path("registry/artifacts"), description="Local artifact store.")
    s3_endpoint_url: str | None = Field(None, description="S3 endpoint (MinIO, SeaweedFS, ...).")
    s3_bucket: str = Field("mlinfer-models", description="Bucket holding artifacts.")
    s3_region: str = Field("us-east-1", description="S3 region name.")
    s3_access_key: str | None = Field(None, description="S3 access key id.")
    s3_secret_key: SecretStr | None = Field(None, description="S3 secret access key.")
    s3_timeout_seconds: float = Field(10.0, description="S3 connect/read timeout.")
    s3_multipart_threshold_bytes: int = Field(
        16 * 1024 * 1024, description="Artifacts larger than this upload in parts."
    )
    serving_url: str | None = Field(
        None, description="REST URL of the serving process deploys load into."
    )
    serving_repository: Path = Field(
        Path("model_repository"), description="The serving process's model repository."
    )
    serving_api_key: SecretStr | None = Field(
        None, description="API key (models:admin) the registry loads models with."
    )
    metrics_urls: list[str] = Field(
        default_factory=list,
        description="/metrics URLs canary analysis reads (default: serving_url + /metrics).",
    )
    load_timeout_seconds: float = Field(300.0, description="Longest wait for a load to be ready.")
    converge_timeout_seconds: float = Field(
        5.0, description="Longest wait for subscribed gateways to take a new policy."
    )
    drain_seconds: float = Field(
        2.0, description="Time the old version keeps serving requests routed to it."
    )
    subscriber_ttl_seconds: float = Field(
        90.0, description="A gateway not seen for this long no longer holds deploys back."
    )
    rollout_tick_seconds: float = Field(1.0, description="How often rollouts are checked.")
    fleet_probe_timeout_seconds: float = Field(
        5.0, description="Longest wait for a fleet box to answer before it counts as offline."
    )
    fleet_retry_seconds: float = Field(
        10.0, description="How often an offline fleet box is tried again (catch-up)."
    )
    gc_keep_last: int = Field(5, description="gc keeps this many newest versions per model.")

    # -- clients (gateways) --
    url: str | None = Field(None, description="Registry URL a gateway takes policies from.")
    api_key: SecretStr | None = Field(None, description="API key a gateway subscribes with.")
    subscriber_name: str = Field("", description="Name a gateway subscribes under (host:port).")
    policy_cache: Path = Field(
        Path("registry/policies.json"), description="Last policies, kept when the registry is down."
    )
    poll_wait_seconds: float = Field(30.0, description="Long-poll hold time.")
    retry_seconds: float = Field(1.0, description="Wait after a failed policy fetch.")

    # -- all-in-one --
    embedded: bool = Field(False, description="`mlinfer serve` hosts the registry in-process.")
