"""Settings of the notify service, read once from the environment (prefix ``ZICHT_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from zicht_runtime.settings import ServiceSettings

__all__ = ["NotifySettings"]


class NotifySettings(ServiceSettings):
    """Everything the notify service can be told; infrastructure fields come from the kit."""

    model_config = SettingsConfigDict(env_prefix="ZICHT_", extra="ignore", frozen=True)

    service_name: str = Field(default="notify", description="Name of this service.")
    http_port: int = Field(default=8004, ge=0, le=65535, description="Port of the HTTP API.")
    routing_file: Path | None = Field(
        default=None,
        description="The routing policy (YAML) in force; empty: the shipped default (2025.2). "
        "The shipped 2025.1 stays in the package (zicht_notify/routing/2025.1.yaml) and is put "
        "back in force by naming that file here.",
    )
    link_base_url: str = Field(
        default="http://127.0.0.1:8003/v1/providers",
        description="Base of the link an alert carries to the provider's risk page.",
    )
    delivery_timeout_s: float = Field(
        default=10.0, gt=0, description="Seconds a receiver has to answer one delivery."
    )
    verification_timeout_s: float = Field(
        default=5.0, gt=0, description="Seconds a receiver has to answer a verification delivery."
    )
    delivery_concurrency: int = Field(
        default=16, ge=1, description="Deliveries in flight at once per notify process."
    )
    delivery_poll_interval_s: float = Field(
        default=1.0, gt=0, description="Longest wait for due deliveries when nothing wakes it."
    )
    retry_max_attempts: int = Field(
        default=10, ge=1, description="Delivery attempts before an alert fails."
    )
    retry_window_s: float = Field(
        default=86_400.0, gt=0, description="Seconds after the first attempt to keep retrying."
    )
    retry_base_s: float = Field(
        default=30.0, gt=0, description="Wait before the first retry; it triples each time."
    )
    retry_cap_s: float = Field(
        default=7 * 3600.0, gt=0, description="Longest wait between two attempts."
    )
    pause_hold_s: float = Field(
        default=7 * 86_400.0,
        gt=0,
        description="Seconds a paused subscription's alerts are held for it; they are "
        "delivered in order when it is resumed, and given up (subscription_disabled, "
        "reported as AlertFailed) once older than this.",
    )
    secret_overlap_s: float = Field(
        default=86_400.0, ge=0, description="Seconds a rotated-out secret still signs."
    )
    webhook_secret_keys: SecretStr | None = Field(
        default=None,
        description="Keys that seal the subscriptions' webhook secrets at rest: "
        "<key id>:<base64 key of at least 32 bytes>, comma-separated, the current key first; "
        "older keys only open rows sealed under them. No default: notify refuses to start "
        "without one. Rotate by putting a new key first, then `reseal` (docs/operations.md).",
    )
    allow_private_webhook_urls: bool = Field(
        default=True,
        description="Accept webhook URLs on loopback or private addresses (local runs, tests); "
        "a deployment turns it off.",
    )
