"""Helpers for the kit's connected tests: a migrated service schema, events, reading topics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.structs import TopicPartition

from zicht_devtools.devstack import PostgresDatabases
from zicht_runtime.db import create_pool
from zicht_runtime.migrations import RUNTIME_MIGRATIONS, apply_migrations
from zicht_runtime.telemetry import Telemetry, setup_telemetry
from zicht_schemas import CloudEvent, ProviderRegisteredV1, new_event, source_urn

SCHEMA = "kit"
SOURCE = source_urn("00000001000000000000", "kit-test")
TEST_MIGRATIONS = Path(__file__).parent / "migrations"


async def _migrate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn, SCHEMA, [RUNTIME_MIGRATIONS, ("kit-test", TEST_MIGRATIONS)])
    finally:
        await conn.close()


@pytest_asyncio.fixture(loop_scope="session")
async def kit_database(databases: PostgresDatabases) -> AsyncIterator[str]:
    """A fresh database cloned from a template with the kit's tables migrated."""
    await databases.template("kit_template", _migrate)
    url = await databases.create("kit_template")
    yield url
    await databases.drop(url)


@pytest_asyncio.fixture(loop_scope="session")
async def pool(kit_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test's database, confined to the kit's schema."""
    pool = await create_pool(kit_database, SCHEMA, min_size=1, max_size=5)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def telemetry() -> Telemetry:
    """A process-local tracer and meter provider (not installed globally)."""
    return setup_telemetry("kit-test", set_global=False)


def provider_event(number: int, *, provider: str | None = None) -> CloudEvent[ProviderRegisteredV1]:
    """A synthetic registry event about provider ``prv-test-<number>``."""
    return new_event(
        ProviderRegisteredV1(
            provider_id=provider or f"prv-test-{number}",
            name=f"Stichting Proefzorg {number}",
            active=True,
            registry_version=1,
            updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        source=SOURCE,
    )


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, within: float = 30.0, what: str = "condition"
) -> None:
    """Poll ``condition`` until it holds; fail the test with ``what`` after ``within``."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out after {within:.0f}s waiting for {what}")


async def read_topic(
    bootstrap: str, topic: str, *, expected: int, within: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the start, once at least ``expected`` have arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + within
        while len(records) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
        # A short extra read shows records beyond the expected count (duplicates).
        for batch in (await consumer.getmany(timeout_ms=300)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def committed_offset(bootstrap: str, group: str, topic: str, partition: int = 0) -> int:
    """The offset ``group`` has committed on one partition (-1 when none)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        offset = await consumer.committed(TopicPartition(topic, partition))
    finally:
        await consumer.stop()
    return -1 if offset is None else int(offset)


async def wait_committed(bootstrap: str, group: str, topic: str, offset: int, *, what: str) -> None:
    """Wait until ``group`` has committed ``offset`` on partition 0 of ``topic``."""

    async def committed() -> bool:
        return await committed_offset(bootstrap, group, topic) == offset

    await wait_for(committed, what=what)
