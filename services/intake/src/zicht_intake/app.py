"""The intake service's composition root: the only module that knows the adapters."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from zicht_intake.adapters import postgres as db
from zicht_intake.api import IntakeApi, body_limit_of, build_router
from zicht_intake.config import (
    MIN_PSEUDONYM_KEY_LENGTH,
    PUBLIC_PSEUDONYM_KEYS,
    IntakeSettings,
)
from zicht_intake.counts import business_counts
from zicht_intake.domain import Pseudonymiser
from zicht_intake.handlers import build_consumers, build_record_consumers
from zicht_intake.service import IntakeService
from zicht_runtime.clock import Clock, SystemClock
from zicht_runtime.db import DbConnection
from zicht_runtime.kit import ServiceKit, create_service_app, periodic
from zicht_runtime.retention import Purge, delete_older
from zicht_schemas import source_urn, topics

__all__ = [
    "MIGRATIONS",
    "PseudonymKeyError",
    "create_app",
    "create_broker",
    "create_kit",
    "create_service",
    "intake_purges",
    "pseudonym_key",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

log = logging.getLogger(__name__)


class PseudonymKeyError(ValueError):
    """Intake has no pseudonym key it may use: missing, too short, or public."""


def pseudonym_key(settings: IntakeSettings) -> str:
    """The configured pseudonym key, or a clear refusal of a missing, short or public one."""
    if settings.pseudonym_key is None:
        raise PseudonymKeyError(
            "no pseudonym key: set ZICHT_PSEUDONYM_KEY to a random secret of at least "
            f"{MIN_PSEUDONYM_KEY_LENGTH} characters (for example: openssl rand -base64 48) "
            "and ZICHT_PSEUDONYM_KEY_ID to its id; `make run` makes one per installation "
            "in .zicht/pseudonym-key.json"
        )
    key = settings.pseudonym_key.get_secret_value()
    if key in PUBLIC_PSEUDONYM_KEYS:
        raise PseudonymKeyError(
            "ZICHT_PSEUDONYM_KEY is a key published with Zicht's source: anyone could reverse "
            "its pseudonyms; set a random secret of your own"
        )
    if len(key) < MIN_PSEUDONYM_KEY_LENGTH:
        raise PseudonymKeyError(
            f"ZICHT_PSEUDONYM_KEY has {len(key)} characters; it needs at least "
            f"{MIN_PSEUDONYM_KEY_LENGTH}, since every BSN can be tried against a short key"
        )
    return key


def create_service(settings: IntakeSettings, clock: Clock | None = None) -> IntakeService:
    """The use cases, with the pseudonym key and the clock."""
    key = pseudonym_key(settings)
    return IntakeService(
        clock=clock or SystemClock(),
        pseudonymiser=Pseudonymiser(key.encode(), settings.pseudonym_key_id),
        source=source_urn(settings.oin, settings.service_name),
    )


async def _release_waiting(service: IntakeService, pool: asyncpg.Pool) -> None:
    """Release waiting signals whose provider is known (at start, then every interval)."""
    async with pool.acquire() as conn, conn.transaction():
        await service.release_waiting(conn)


def intake_purges(settings: IntakeSettings) -> dict[str, Purge]:
    """Intake's own retention: raw bodies (BSNs in clear), then the processing log."""

    async def raw_submissions(conn: DbConnection, now: datetime) -> int:
        before = now - timedelta(days=settings.raw_retention_days)
        return await db.purge_raw_submissions(conn, before, now)

    async def processing_log(conn: DbConnection, now: datetime) -> int:
        before = now - timedelta(days=settings.processing_log_retention_days)
        return await delete_older(conn, "processing_log", "at", before)

    return {"raw_submissions": raw_submissions, "processing_log": processing_log}


def create_kit(settings: IntakeSettings, service: IntakeService | None = None) -> ServiceKit:
    """Wire the service's use cases to Postgres and Kafka through the shared kit."""
    service = service or create_service(settings)
    return ServiceKit(
        settings=settings,
        migrations=MIGRATIONS,
        consumers=build_consumers(service),
        record_consumers=build_record_consumers(service, settings),
        produces=[
            topics.SIGNAL_RECEIVED,
            topics.SIGNAL_REJECTED,
            topics.PROVIDER_REGISTERED,
            topics.INDICATORS_REPORTED,
        ],
        compacted=[topics.PROVIDER_REGISTERED],
        background=[
            periodic(
                "releasing waiting signals",
                lambda pool: _release_waiting(service, pool),
                settings.waiting_sweep_interval_s,
            )
        ],
        purges=intake_purges(settings),
        counts=business_counts,
    )


def create_broker(settings: IntakeSettings) -> KafkaBroker:
    """The service's broker, typed, for tests and the AsyncAPI document."""
    return create_kit(settings).broker


def create_app(
    settings: IntakeSettings | None = None,
    *,
    clock: Clock | None = None,
    kit: ServiceKit | None = None,
) -> FastAPI:
    """The service's HTTP app; starting it starts the consumers and the outbox relay."""
    settings = settings or IntakeSettings()
    service = create_service(settings, clock)
    kit = kit or create_kit(settings, service)
    api = IntakeApi(service=service, pool=lambda: kit.pool)
    router = build_router(api, kit.keys)
    return create_service_app(
        kit,
        title="Zicht intake",
        routers=[router],
        body_limit=body_limit_of(router),
        version="1",
        description="Partners submit signals about care providers in their own formats; "
        "contract management keeps the provider registry. See docs/partners/.",
    )
