"""The intake service's composition root: the only module that knows the adapters."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from zicht_intake.adapters.clock import SystemClock
from zicht_intake.config import IntakeSettings
from zicht_intake.handlers import build_consumers
from zicht_intake.service import IntakeService
from zicht_runtime.kit import ServiceKit, create_service_app
from zicht_schemas import topics

__all__ = ["MIGRATIONS", "create_app", "create_broker", "create_kit"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_kit(settings: IntakeSettings) -> ServiceKit:
    """Wire the service's use cases to Postgres and Kafka through the shared kit."""
    service = IntakeService(clock=SystemClock())
    return ServiceKit(
        settings=settings,
        migrations=MIGRATIONS,
        consumers=build_consumers(service),
        produces=[
            topics.SIGNAL_RECEIVED,
            topics.SIGNAL_REJECTED,
            topics.PROVIDER_REGISTERED,
            topics.INDICATORS_REPORTED,
        ],
        compacted=[topics.PROVIDER_REGISTERED],
    )


def create_broker(settings: IntakeSettings) -> KafkaBroker:
    """The service's broker, typed, for tests and the AsyncAPI document."""
    return create_kit(settings).broker


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    """The service's HTTP app; starting it starts the consumers and the outbox relay."""
    settings = settings or IntakeSettings()
    return create_service_app(create_kit(settings), title="Zicht intake")
