"""Raw partner records: the inbox remembers each by its place in the log; faults dead-letter."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import pytest
from aiokafka import ConsumerRecord
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kit.helpers import SOURCE
from zicht_runtime.consumer import BatchProcessor, PoisonMessageError, RawRecord, Subscription, each
from zicht_runtime.db import DbConnection
from zicht_runtime.telemetry import Telemetry, setup_telemetry

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


async def test_a_batch_handler_gets_the_whole_batch_at_once_and_the_spans_carry_its_cost(
    pool: asyncpg.Pool,
) -> None:
    spans = InMemorySpanExporter()
    telemetry = setup_telemetry("kit-test", set_global=False)
    telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    calls: list[list[int]] = []

    async def set_based(conn: DbConnection, records: Sequence[RawRecord]) -> None:
        calls.append([r.offset for r in records])
        if any(r.value == b"boom" for r in records):
            raise PoisonMessageError("intake cannot read this record")
        await conn.executemany(
            "INSERT INTO effects (event_id, provider_id) VALUES ($1, $2)",
            [(r.record_id, r.value.decode()) for r in records],
        )

    processor = BatchProcessor(
        group="kit-batch",
        subscriptions=[Subscription("partner.test.v1", set_based, None, "kit-batch")],
        pool=pool, telemetry=telemetry, source=SOURCE, service="kit-test",
    )  # fmt: skip

    await processor.process([record(0, b"first"), record(1, b"second"), record(2, b"third")])
    await processor.process([record(3, b"fourth"), record(4, b"boom"), record(5, b"fifth")])

    # One call for a good batch; a batch with poison once whole, then halved until the bad
    # record is alone: the good ones around it commit in batch order.
    assert calls == [[0, 1, 2], [3, 4, 5], [3], [4, 5], [4], [5]]
    rows = await pool.fetch("SELECT provider_id FROM effects ORDER BY event_id")
    assert [r["provider_id"] for r in rows] == ["first", "second", "third", "fourth", "fifth"]
    finished = spans.get_finished_spans()
    assert len(finished) == 6, "one consumer span per record, also when a batch ran twice"
    first_batch = [s.attributes or {} for s in finished[:3]]
    assert {a["zicht.batch.size"] for a in first_batch} == {3}
    # BEGIN, the inbox claim, one executemany, COMMIT and the pool's reset: not one per record.
    assert {a["zicht.db.statements"] for a in first_batch} == {5}
    assert all(float(str(a["zicht.db.duration_ms"])) > 0 for a in first_batch)
    assert [bool((s.attributes or {}).get("zicht.dead_lettered")) for s in finished[3:]] == [
        False,
        True,
        False,
    ]


async def test_halving_a_spoiled_batch_dead_letters_exactly_its_bad_records_and_keeps_order(
    pool: asyncpg.Pool, telemetry: Telemetry
) -> None:
    stored: list[int] = []
    calls = 0

    async def set_based(conn: DbConnection, records: Sequence[RawRecord]) -> None:
        nonlocal calls
        calls += 1
        if any(r.value == b"boom" for r in records):
            raise PoisonMessageError("intake cannot read this record")
        await conn.executemany(
            "INSERT INTO effects (event_id, provider_id) VALUES ($1, $2)",
            [(r.record_id, r.value.decode()) for r in records],
        )
        stored.extend(r.offset for r in records)

    processor = BatchProcessor(
        group="kit-halving",
        subscriptions=[Subscription("partner.test.v1", set_based, None, "kit-halving")],
        pool=pool, telemetry=telemetry, source=SOURCE, service="kit-test",
    )  # fmt: skip
    bad = {0, 7, 8, 31}
    batch = [record(n, b"boom" if n in bad else f"signal {n}".encode()) for n in range(32)]
    await processor.process(batch)

    rows = await pool.fetch("SELECT event_id FROM effects")
    assert sorted(int(r["event_id"].rsplit("/", 1)[1]) for r in rows) == [
        n for n in range(32) if n not in bad
    ]
    assert stored == sorted(stored), "the good records were handled in batch order"
    dead = await pool.fetch('SELECT "offset" FROM dead_letters ORDER BY 1')
    assert [d["offset"] for d in dead] == sorted(bad)
    assert calls < 32, f"halving, not record by record: {calls} calls"
