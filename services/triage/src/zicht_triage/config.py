"""Settings of the triage service, read once from the environment (prefix ``ZICHT_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from zicht_runtime.settings import ServiceSettings

__all__ = ["TriageSettings"]


class TriageSettings(ServiceSettings):
    """Everything the triage service can be told; infrastructure fields come from the kit."""

    model_config = SettingsConfigDict(env_prefix="ZICHT_", extra="ignore", frozen=True)

    service_name: str = Field(default="triage", description="Name of this service.")
    http_port: int = Field(default=8002, ge=0, le=65535, description="Port of the HTTP API.")
    framework_file: Path | None = Field(
        default=None,
        description="The assessment framework (YAML) in force; empty: the shipped default "
        "(2025.1). A malformed or contradictory file stops the service at start-up.",
    )
    regions: tuple[str, ...] = Field(
        default=("twente", "nmd"),
        description="Ids of the regions this deployment supervises (reference regions).",
    )
