"""Settings of the intake service, read once from the environment (prefix ``ZICHT_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from zicht_runtime.settings import ServiceSettings

__all__ = ["MIN_PSEUDONYM_KEY_LENGTH", "PUBLIC_PSEUDONYM_KEYS", "IntakeSettings"]

# BSNs are few enough (under a billion, one in eleven valid) to try them all, so a pseudonym
# is only as secret as its key: a short one, or one printed anywhere public, is refused.
MIN_PSEUDONYM_KEY_LENGTH = 32
PUBLIC_PSEUDONYM_KEYS = frozenset(
    {
        # The built-in keys of earlier versions, public in the repository's history.
        "zicht-development-pseudonym-key-not-for-production",
        "local-development-pseudonym-key-not-for-production",
    }
)


class IntakeSettings(ServiceSettings):
    """Everything the intake service can be told; infrastructure fields come from the kit."""

    model_config = SettingsConfigDict(env_prefix="ZICHT_", extra="ignore", frozen=True)

    service_name: str = Field(default="intake", description="Name of this service.")
    http_port: int = Field(default=8001, ge=0, le=65535, description="Port of the HTTP API.")
    max_request_bytes: int = Field(
        default=5 * 1024 * 1024 + 1,
        ge=1024,
        description="Largest request body; the routes' own limits (docs/partners/README.md) "
        "are lower, and refuse with their own 413 first.",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="Secret of the keyed hash (HMAC-SHA256) that replaces each BSN; held by "
        f"intake alone, at least {MIN_PSEUDONYM_KEY_LENGTH} characters. No default: intake "
        "refuses to start without one (make run makes one per installation). Changing it "
        "changes every pseudonym: rotate with a new key id (docs/operations.md).",
    )
    pseudonym_key_id: str = Field(
        default="dev", description="Id of the pseudonym key, recorded with every submission."
    )
    kafka_igj_partner: str = Field(
        default="igj", description="Partner id of records on partner.igj.v1."
    )
    kafka_police_partner: str = Field(
        default="police", description="Partner id of records on partner.police.v1."
    )
    kafka_access_team_partner: str = Field(
        default="access-team-kafka",
        description="Partner id (and team) of files on partner.access-team.v1.",
    )
    raw_retention_days: int = Field(
        default=30,
        ge=1,
        description="Days a raw submission (BSNs in clear) is kept after processing; then its "
        "body is removed, its receipt and digests stay.",
    )
    processing_log_retention_days: int = Field(
        default=365,
        ge=1,
        description="Days a line of the processing log (who did what with personal data) is kept.",
    )
    waiting_sweep_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between sweeps that release signals waiting for a provider the "
        "registry now knows (also run at start; a registration releases its signals at once).",
    )
    public_base_url: str = Field(
        default="", description="Base URL partners use, for Location headers (empty: relative)."
    )
