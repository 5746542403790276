"""The settings every Zicht service shares, read once from the environment."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings):
    """Infrastructure settings common to all four services.

    Each service subclasses this with its own fields. Every process reads its own
    environment once, at start-up, with the prefix ``ZICHT_`` (``ZICHT_DATABASE_URL``,
    ``ZICHT_KAFKA_BOOTSTRAP_SERVERS``, ...); OpenTelemetry reads the standard ``OTEL_*``
    variables itself.
    """

    model_config = SettingsConfigDict(
        env_prefix="ZICHT_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = Field(
        default="zicht", description="Name of the service, used in logs, traces and URNs."
    )
    oin: str = Field(
        default="00000001000000000000",
        pattern=r"^\d{20}$",
        description="OIN (organisation identification number) of the deploying organisation, "
        "used in CloudEvents `source` URNs per the NL GOV profile.",
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/zicht",
        description="Postgres URL; the service keeps its tables in its own schema there.",
    )
    database_schema: str = Field(
        default="",
        pattern=r"^[a-z_][a-z0-9_]*$|^$",
        description="Postgres schema of this service; empty means the service name.",
    )
    database_pool_min: int = Field(default=1, ge=1, description="Minimum pool connections.")
    database_pool_max: int = Field(default=10, ge=1, description="Maximum pool connections.")
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated."
    )
    kafka_enable_idempotence: bool = Field(
        default=False,
        description="Idempotent producer: on against Apache Kafka; off against the local "
        "Tansu broker, which does not support it.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=10,
        ge=0,
        description="Longest the service's consumer waits for data in one fetch. Small "
        "values keep each hop's latency low on brokers that do not wake a waiting fetch when "
        "data arrives (the local broker); the consumer asks the broker again after this long "
        "when idle, once for all the service's topics (one consumer group per service).",
    )
    kafka_idle_fetch_max_wait_ms: int = Field(
        default=250,
        ge=0,
        description="The fetch wait once the service has had no record for "
        "ZICHT_KAFKA_IDLE_AFTER_MS: an idle service then asks the broker four times a second "
        "instead of a hundred; its first record back waits up to this long on each hop, and "
        "makes it brisk again. At or below the fetch wait: never idle.",
    )
    kafka_idle_after_ms: int = Field(
        default=2_000,
        ge=0,
        description="How long without a record before the consumer takes the idle fetch wait "
        "(0: never). Longer than the gap between records of a steady trickle, so a few "
        "signals a second keep every hop brisk.",
    )
    kafka_linger_ms: int = Field(
        default=0, ge=0, description="Producer linger: batching delay before a send."
    )
    kafka_max_batch: int = Field(
        default=500, ge=1, description="Most records a batch subscriber handles at once."
    )
    kafka_session_timeout_ms: int = Field(
        default=10_000,
        ge=6_000,
        description="Consumer-group session timeout: how long a silent member keeps its "
        "partitions; a group join on the local broker takes about half of it.",
    )
    kafka_consumer_group: str = Field(
        default="",
        # As the dead-letter event records it: a name it refuses would fail every dead letter.
        pattern=r"^([A-Za-z0-9._:-]{1,200})?$",
        description="The service's consumer group, over all the topics it reads; empty: "
        "zicht-<service name>. Inbox entries are kept per <group>.<topic>. Letters, digits "
        "and . _ : - only.",
    )
    kafka_topic_partitions: int = Field(
        default=4, ge=1, description="Partitions of topics this service creates."
    )
    outbox_batch: int = Field(
        default=500, ge=1, description="Most outbox rows the relay publishes per round."
    )
    outbox_poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="Fallback poll of the outbox; new rows normally wake the relay at once.",
    )
    purge_interval_s: float = Field(
        default=3600.0,
        ge=0,
        description="Seconds between purges of what is past its retention (0: never purge).",
    )
    retention_outbox_sent_days: int = Field(
        default=7,
        ge=1,
        description="Days a published outbox row is kept (published again to a broker "
        "started afresh while it is kept).",
    )
    retention_inbox_days: int = Field(
        default=30,
        ge=1,
        description="Days a consumer remembers an event it processed; longer than any "
        "redelivery can come (outbox and broker retention).",
    )
    retention_dead_letters_days: int = Field(
        default=90, ge=1, description="Days a dead letter's record is kept for operators."
    )
    retry_backoff_initial_s: float = Field(
        default=0.2, gt=0, description="First wait before retrying after a transient fault."
    )
    retry_backoff_max_s: float = Field(
        default=10.0, gt=0, description="Longest wait between retries of a transient fault."
    )
    http_host: str = Field(default="127.0.0.1", description="Address the HTTP API binds to.")
    http_port: int = Field(default=8000, ge=0, le=65535, description="Port of the HTTP API.")
    max_request_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body any route accepts; larger ones get 413 before they "
        "are read (routes may set lower limits of their own).",
    )
    api_docs: bool = Field(
        default=False,
        description="Serve the interactive API pages /docs and /redoc. Off by default: they "
        "load their scripts and styles from a public CDN, which a region's network may not "
        "reach and should not have to trust; /openapi.json is always served.",
    )
    log_level: str = Field(default="INFO", description="Logging level of the service.")
    log_json: bool = Field(default=True, description="Log JSON lines (off: readable text).")
    otel_exporter_otlp_endpoint: str = Field(
        default="",
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="OTLP/HTTP endpoint; when set, traces and metrics are exported there "
        "(the exporters read the other standard OTEL_* variables themselves).",
    )

    @property
    def db_schema(self) -> str:
        """The Postgres schema that holds this service's tables."""
        return self.database_schema or self.service_name.replace("-", "_")
