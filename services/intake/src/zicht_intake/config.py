"""Settings of the intake service, read once from the environment (prefix ``ZICHT_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from zicht_runtime.settings import ServiceSettings

__all__ = ["IntakeSettings"]


class IntakeSettings(ServiceSettings):
    """Everything the intake service can be told; infrastructure fields come from the kit."""

    model_config = SettingsConfigDict(env_prefix="ZICHT_", extra="ignore", frozen=True)

    service_name: str = Field(default="intake", description="Name of this service.")
    http_port: int = Field(default=8001, ge=0, le=65535, description="Port of the HTTP API.")
