"""Settings of the scoring service, read once from the environment (prefix ``ZICHT_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from zicht_runtime.settings import ServiceSettings

__all__ = ["ScoringSettings"]


class ScoringSettings(ServiceSettings):
    """Everything the scoring service can be told; infrastructure fields come from the kit."""

    model_config = SettingsConfigDict(env_prefix="ZICHT_", extra="ignore", frozen=True)

    service_name: str = Field(default="scoring", description="Name of this service.")
    http_port: int = Field(default=8003, ge=0, le=65535, description="Port of the HTTP API.")
    model_file: Path | None = Field(
        default=None,
        description="The risk model (YAML) in force; empty: the shipped default (2025.1). A "
        "malformed file stops the service at start-up.",
    )
    decay_interval_s: float = Field(
        default=86_400.0,
        gt=0,
        description="Seconds between re-evaluations for decay (daily by default).",
    )
