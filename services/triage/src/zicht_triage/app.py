"""The triage service's composition root: the only module that knows the adapters."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from zicht_runtime.clock import Clock, SystemClock
from zicht_runtime.kit import ServiceKit, create_service_app
from zicht_schemas import source_urn, topics
from zicht_triage.api import build_router
from zicht_triage.config import TriageSettings
from zicht_triage.counts import business_counts
from zicht_triage.domain import Framework, default_framework, load_framework_file
from zicht_triage.handlers import build_consumers
from zicht_triage.service import TriageService

__all__ = ["MIGRATIONS", "create_app", "create_broker", "create_kit", "create_service"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def load_framework(settings: TriageSettings) -> Framework:
    """The framework in force: the configured file, else the shipped default."""
    if settings.framework_file is None:
        return default_framework()
    return load_framework_file(settings.framework_file)


def create_service(settings: TriageSettings, clock: Clock | None = None) -> TriageService:
    """The use cases with the framework in force (refused at start-up when malformed)."""
    return TriageService(
        clock=clock or SystemClock(),
        framework=load_framework(settings),
        source=source_urn(settings.oin, settings.service_name),
        region_ids=settings.regions,
    )


def create_kit(settings: TriageSettings, service: TriageService | None = None) -> ServiceKit:
    """Wire the service's use cases to Postgres and Kafka through the shared kit."""
    service = service or create_service(settings)
    return ServiceKit(
        settings=settings,
        migrations=MIGRATIONS,
        consumers=build_consumers(service),
        produces=[topics.SIGNAL_ASSESSED, topics.INVESTIGATION_CHANGED],
        compacted=[],
        counts=business_counts,
    )


def create_broker(settings: TriageSettings) -> KafkaBroker:
    """The service's broker, typed, for tests and the AsyncAPI document."""
    return create_kit(settings).broker


def create_app(
    settings: TriageSettings | None = None,
    *,
    service: TriageService | None = None,
    kit: ServiceKit | None = None,
) -> FastAPI:
    """The service's HTTP app; starting it starts the consumers and the outbox relay."""
    settings = settings or TriageSettings()
    service = service or create_service(settings)
    kit = kit or create_kit(settings, service)
    router = build_router(service, lambda: kit.pool, kit.keys)
    return create_service_app(
        kit,
        title="Zicht triage",
        routers=[router],
        version="1",
        description="Every signal weighed against the region's assessment framework; "
        "supervisors follow and close investigations.",
    )
