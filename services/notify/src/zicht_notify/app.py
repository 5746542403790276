"""The notify service's composition root: the only module that knows the adapters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from zicht_notify.api import build_router
from zicht_notify.config import NotifySettings
from zicht_notify.counts import business_counts
from zicht_notify.delivery import delivery_loop
from zicht_notify.domain import (
    RetryPolicy,
    RoutingPolicy,
    SecretBox,
    SecretKeyError,
    default_routing,
    load_routing_file,
)
from zicht_notify.handlers import build_consumers
from zicht_notify.service import NotifyService
from zicht_runtime.clock import Clock, SystemClock
from zicht_runtime.kit import ServiceKit, create_service_app
from zicht_schemas import source_urn, topics

__all__ = [
    "MIGRATIONS",
    "SecretKeyError",
    "create_app",
    "create_broker",
    "create_kit",
    "create_service",
    "secret_box",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def load_routing(settings: NotifySettings) -> RoutingPolicy:
    """The routing policy in force: the configured file, else the shipped default."""
    if settings.routing_file is None:
        return default_routing()
    return load_routing_file(settings.routing_file)


def secret_box(settings: NotifySettings) -> SecretBox:
    """The keys the webhook secrets are sealed under, or a clear refusal of none or bad ones."""
    if settings.webhook_secret_keys is None:
        raise SecretKeyError(
            "no webhook secret key: set ZICHT_WEBHOOK_SECRET_KEYS to <key id>:<key> (the key "
            "at least 32 random bytes in base64, e.g. openssl rand -base64 32); `make run` "
            "makes one per installation in .zicht/notify-secret-keys.json"
        )
    try:
        return SecretBox.from_setting(settings.webhook_secret_keys.get_secret_value())
    except SecretKeyError as exc:
        raise SecretKeyError(f"ZICHT_WEBHOOK_SECRET_KEYS: {exc}") from None


def create_service(settings: NotifySettings, clock: Clock | None = None) -> NotifyService:
    """The use cases with the routing policy, the retry policy and the secret keys in force."""
    return NotifyService(
        clock=clock or SystemClock(),
        box=secret_box(settings),
        routing=load_routing(settings),
        source=source_urn(settings.oin, settings.service_name),
        link_base=settings.link_base_url,
        retry=RetryPolicy(
            max_attempts=settings.retry_max_attempts,
            window=timedelta(seconds=settings.retry_window_s),
            base=timedelta(seconds=settings.retry_base_s),
            cap=timedelta(seconds=settings.retry_cap_s),
        ),
        timeout_s=settings.delivery_timeout_s,
        verification_timeout_s=settings.verification_timeout_s,
        pause_hold=timedelta(seconds=settings.pause_hold_s),
    )


def create_kit(settings: NotifySettings, service: NotifyService | None = None) -> ServiceKit:
    """Wire the service's use cases to Postgres and Kafka through the shared kit."""
    service = service or create_service(settings)
    return ServiceKit(
        settings=settings,
        migrations=MIGRATIONS,
        consumers=build_consumers(service),
        produces=[topics.ALERT_DELIVERED, topics.ALERT_FAILED],
        compacted=[],
        background=[
            delivery_loop(
                service,
                schema=settings.db_schema,
                concurrency=settings.delivery_concurrency,
                poll_interval_s=settings.delivery_poll_interval_s,
            )
        ],
        counts=business_counts,
    )


def create_broker(settings: NotifySettings) -> KafkaBroker:
    """The service's broker, typed, for tests and the AsyncAPI document."""
    return create_kit(settings).broker


def create_app(
    settings: NotifySettings | None = None,
    *,
    service: NotifyService | None = None,
    kit: ServiceKit | None = None,
) -> FastAPI:
    """The service's HTTP app; starting it starts the consumers, relay and deliveries."""
    settings = settings or NotifySettings()
    service = service or create_service(settings)
    kit = kit or create_kit(settings, service)
    router = build_router(
        service,
        lambda: kit.pool,
        kit.keys,
        allow_private_urls=settings.allow_private_webhook_urls,
        secret_overlap=timedelta(seconds=settings.secret_overlap_s),
    )

    async def seal_plain_secrets() -> None:
        # Subscriptions stored before secrets were sealed (migration 0006) are sealed now.
        async with kit.pool.acquire() as conn:
            await service.reseal(conn, plain_only=True)

    return create_service_app(
        kit,
        title="Zicht notify",
        routers=[router],
        on_started=seal_plain_secrets,
        version="1",
        description="Webhook subscriptions of municipalities, casus tables and IGJ; signed "
        "deliveries that are never lost.",
    )
