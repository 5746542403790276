"""The scoring service's composition root: the only module that knows the adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from zicht_runtime.clock import Clock, SystemClock
from zicht_runtime.kit import ServiceKit, create_service_app, periodic
from zicht_schemas import source_urn, topics
from zicht_scoring.api import build_router
from zicht_scoring.config import ScoringSettings
from zicht_scoring.counts import business_counts
from zicht_scoring.domain import RiskModel, default_model, load_model_file
from zicht_scoring.handlers import build_consumers
from zicht_scoring.service import ScoringService

__all__ = ["MIGRATIONS", "create_app", "create_broker", "create_kit", "create_service"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)


def load_model(settings: ScoringSettings) -> RiskModel:
    """The risk model in force: the configured file, else the shipped default."""
    return default_model() if settings.model_file is None else load_model_file(settings.model_file)


def create_service(settings: ScoringSettings, clock: Clock | None = None) -> ScoringService:
    """The use cases with the risk model in force (refused at start-up when malformed)."""
    return ScoringService(
        clock=clock or SystemClock(),
        model=load_model(settings),
        source=source_urn(settings.oin, settings.service_name),
    )


def _decay_loop(service: ScoringService, interval_s: float):  # type: ignore[no-untyped-def]
    async def loop(pool: asyncpg.Pool, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            if stop.is_set():
                return
            try:
                changed = await service.decay_all(pool)
            except (OSError, asyncpg.PostgresError):
                log.exception("decay re-evaluation failed; it runs again next interval")
                continue
            log.info("decay re-evaluation done", extra={"zicht.risk_changes": changed})

    return loop


def create_kit(settings: ScoringSettings, service: ScoringService | None = None) -> ServiceKit:
    """Wire the service's use cases to Postgres and Kafka through the shared kit."""
    service = service or create_service(settings)
    return ServiceKit(
        settings=settings,
        migrations=MIGRATIONS,
        consumers=build_consumers(service),
        produces=[topics.PROVIDER_RISK_CHANGED],
        compacted=[],
        background=[
            _decay_loop(service, settings.decay_interval_s),
            # The providers-per-level gauge: counted at start-up and every minute.
            periodic("counting providers per level", service.count_levels, 60.0),
        ],
        counts=business_counts,
    )


def create_broker(settings: ScoringSettings) -> KafkaBroker:
    """The service's broker, typed, for tests and the AsyncAPI document."""
    return create_kit(settings).broker


def create_app(
    settings: ScoringSettings | None = None,
    *,
    service: ScoringService | None = None,
    kit: ServiceKit | None = None,
) -> FastAPI:
    """The service's HTTP app; starting it starts the consumers, relay and decay loop."""
    settings = settings or ScoringSettings()
    service = service or create_service(settings)
    kit = kit or create_kit(settings, service)
    return create_service_app(
        kit,
        title="Zicht scoring",
        routers=[build_router(lambda: kit.pool, kit.keys)],
        version="1",
        description="Each provider's risk: the barrier model's traffic light, explained.",
    )
