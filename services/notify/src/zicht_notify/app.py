"""The notify service's composition root: the only module that knows the adapters."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from zicht_notify.adapters.clock import SystemClock
from zicht_notify.config import NotifySettings
from zicht_notify.handlers import build_consumers
from zicht_notify.service import NotifyService
from zicht_runtime.kit import ServiceKit, create_service_app
from zicht_schemas import topics

__all__ = ["MIGRATIONS", "create_app", "create_broker", "create_kit"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_kit(settings: NotifySettings) -> ServiceKit:
    """Wire the service's use cases to Postgres and Kafka through the shared kit."""
    service = NotifyService(clock=SystemClock())
    return ServiceKit(
        settings=settings,
        migrations=MIGRATIONS,
        consumers=build_consumers(service),
        produces=[topics.ALERT_DELIVERED, topics.ALERT_FAILED],
        compacted=[],
    )


def create_broker(settings: NotifySettings) -> KafkaBroker:
    """The service's broker, typed, for tests and the AsyncAPI document."""
    return create_kit(settings).broker


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    """The service's HTTP app; starting it starts the consumers and the outbox relay."""
    settings = settings or NotifySettings()
    return create_service_app(create_kit(settings), title="Zicht notify")
