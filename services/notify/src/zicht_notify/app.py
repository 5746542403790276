"""The notify service's composition root: the only module that knows the adapters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from zicht_notify.adapters.clock import SystemClock
from zicht_notify.api import build_router
from zicht_notify.config import NotifySettings
from zicht_notify.counts import business_counts
from zicht_notify.delivery import delivery_loop
from zicht_notify.domain import RetryPolicy, RoutingPolicy, default_routing, load_routing_file
from zicht_notify.handlers import build_consumers
from zicht_notify.ports import Clock
from zicht_notify.service import NotifyService
from zicht_runtime.auth import KeyStore
from zicht_runtime.kit import ServiceKit, create_service_app
from zicht_schemas import source_urn, topics

__all__ = ["MIGRATIONS", "create_app", "create_broker", "create_kit", "create_service"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def load_routing(settings: NotifySettings) -> RoutingPolicy:
    """The routing policy in force: the configured file, else the shipped default."""
    if settings.routing_file is None:
        return default_routing()
    return load_routing_file(settings.routing_file)


def create_service(settings: NotifySettings, clock: Clock | None = None) -> NotifyService:
    """The use cases with the routing policy and the retry policy in force."""
    return NotifyService(
        clock=clock or SystemClock(),
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
        lambda: KeyStore(kit.pool),
        allow_private_urls=settings.allow_private_webhook_urls,
        secret_overlap=timedelta(seconds=settings.secret_overlap_s),
    )
    return create_service_app(
        kit,
        title="Zicht notify",
        routers=[router],
        version="1",
        description="Webhook subscriptions of municipalities, casus tables and IGJ; signed "
        "deliveries that are never lost.",
    )
