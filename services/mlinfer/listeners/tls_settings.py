"""What TLS is told: :class:`TlsSettings` (environment prefix ``MLINFER_TLS_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TlsSettings(BaseSettings):
    """One certificate for REST (HTTPS) and gRPC; both files or neither."""

    model_config = SettingsConfigDict(env_prefix="MLINFER_TLS_", extra="ignore", frozen=True)

    cert_file: Path | None = Field(
        None, description="PEM certificate: serve REST (HTTPS) and gRPC over TLS."
    )
    key_file: Path | None = Field(None, description="PEM private key for cert_file.")

    @model_validator(mode="after")
    def _pair(self) -> TlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls_cert_file and tls_key_file must be given together")
        return self

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None
