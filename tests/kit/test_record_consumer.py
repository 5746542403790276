"""Raw partner records: the inbox remembers each by its place in the log; faults dead-letter."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import ConsumerRecord

from kit.helpers import SOURCE
from zicht_runtime.consumer import BatchProcessor, PoisonMessageError, RawRecord, Subscription, each
from zicht_runtime.db import DbConnection
from zicht_runtime.telemetry import Telemetry

pytestmark = pytest.mark.asyncio(loop_scope="session")


def record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="partner.test.v1", partition=0, offset=offset, timestamp=1_700_000_000_000,
        timestamp_type=0, key=b"ref-1", value=value, checksum=None, serialized_key_size=5,
        serialized_value_size=len(value), headers=[("content-type", b"application/json")],
    )  # fmt: skip


async def remember(conn: DbConnection, raw: RawRecord) -> None:
    if raw.value == b"boom":
        raise PoisonMessageError("intake cannot read this record")
    await conn.execute(
        "INSERT INTO effects (event_id, provider_id) VALUES ($1, $2) "
        "ON CONFLICT (event_id) DO UPDATE SET applied = effects.applied + 1",
        raw.record_id,
        raw.value.decode(),
    )


async def test_a_redelivered_record_changes_nothing_and_a_faulty_one_is_dead_lettered(
    pool: asyncpg.Pool, telemetry: Telemetry
) -> None:
    processor = BatchProcessor(
        group="kit-records",
        subscriptions=[Subscription("partner.test.v1", each(remember), None, "kit-records")],
        pool=pool, telemetry=telemetry, source=SOURCE, service="kit-test",
    )  # fmt: skip
    batch = [record(0, b"first"), record(1, b"boom"), record(2, b"second")]

    await processor.process(batch)
    await processor.process(batch)  # redelivered after a rebalance

    rows = await pool.fetch("SELECT event_id, provider_id, applied FROM effects ORDER BY 1")
    assert [(r["event_id"], r["provider_id"], r["applied"]) for r in rows] == [
        ("partner.test.v1/0/0", "first", 1),
        ("partner.test.v1/0/2", "second", 1),
    ]
    dead = await pool.fetch('SELECT topic, "offset", reason FROM dead_letters')
    assert [(d["topic"], d["offset"]) for d in dead] == [("partner.test.v1", 1)]
    assert "cannot read" in dead[0]["reason"]
    outbox = await pool.fetch("SELECT topic FROM outbox")
    assert [o["topic"] for o in outbox] == ["partner.test.v1.dlq"]
