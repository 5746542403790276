"""The outbox against a real broker and Postgres: nothing lost, trace context kept."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kit.helpers import SCHEMA, provider_event, read_topic
from support.locks import blocked_or_done
from zicht_devtools.devstack import create_topics
from zicht_runtime.kafka import AiokafkaSender
from zicht_runtime.outbox import (
    OutboxMessage,
    OutboxRelay,
    event_message,
    outbox_backlog,
    write_events,
    write_outbox,
)
from zicht_runtime.settings import ServiceSettings
from zicht_runtime.telemetry import setup_telemetry

pytestmark = pytest.mark.connected


def _to(topic: str, message: OutboxMessage) -> OutboxMessage:
    return OutboxMessage(message.event_id, topic, message.key, message.value, message.headers)


async def test_the_outbox_loses_nothing_when_the_relay_is_killed_between_publish_and_mark(
    pool: asyncpg.Pool,
    kit_database: str,
    kafka_bootstrap: str,
    unique_topic: Callable[[str], str],
) -> None:
    topic = unique_topic("outbox")
    await create_topics(kafka_bootstrap, [topic], partitions=2)
    events = [provider_event(n) for n in range(50)]
    async with pool.acquire() as conn, conn.transaction():
        assert await write_outbox(conn, [_to(topic, event_message(e)) for e in events]) == 50

    crashed = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("crashing_relay.py")),
        kit_database,
        kafka_bootstrap,
        SCHEMA,
    )
    assert await asyncio.wait_for(crashed.wait(), timeout=60) == -signal.SIGKILL

    async with pool.acquire() as conn:
        assert await outbox_backlog(conn) == 50, "the killed relay marked nothing sent"
    published_before_crash = await read_topic(kafka_bootstrap, topic, expected=20)
    assert len(published_before_crash) == 20

    settings = ServiceSettings(service_name="kit-test", kafka_bootstrap_servers=kafka_bootstrap)
    sender = AiokafkaSender(settings)
    await sender.start()
    try:
        relay = OutboxRelay(pool, sender, schema=SCHEMA, batch_size=20)
        while await relay.relay_once():
            pass
    finally:
        await sender.stop()
    async with pool.acquire() as conn:
        assert await outbox_backlog(conn) == 0

    records = await read_topic(kafka_bootstrap, topic, expected=70)
    ids = [dict(r.headers)["ce_id"].decode() for r in records]
    assert len(ids) == 70, "the 20 published before the crash are published again"
    assert set(ids) == {e.id for e in events}, "every event arrived: nothing lost"


async def test_an_event_written_twice_to_the_outbox_is_stored_once(pool: asyncpg.Pool) -> None:
    event = provider_event(1)
    async with pool.acquire() as conn, conn.transaction():
        assert await write_events(conn, event) == 1
        assert await write_events(conn, event) == 0
        assert await outbox_backlog(conn) == 1


async def test_the_relay_continues_the_trace_that_wrote_the_outbox_row(
    pool: asyncpg.Pool, kafka_bootstrap: str, unique_topic: Callable[[str], str]
) -> None:
    exporter = InMemorySpanExporter()
    telemetry = setup_telemetry("kit-test", set_global=False)
    telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = telemetry.tracer("test")
    topic = unique_topic("outbox")
    await create_topics(kafka_bootstrap, [topic], partitions=1)
    with tracer.start_as_current_span("normalise signal") as span:
        trace_id = span.get_span_context().trace_id
        async with pool.acquire() as conn, conn.transaction():
            await write_outbox(conn, [_to(topic, event_message(provider_event(1)))])

    settings = ServiceSettings(service_name="kit-test", kafka_bootstrap_servers=kafka_bootstrap)
    sender = AiokafkaSender(settings)
    await sender.start()
    try:
        relay = OutboxRelay(pool, sender, schema=SCHEMA, tracer=telemetry.tracer("zicht.outbox"))
        assert await relay.relay_once() == 1
    finally:
        await sender.stop()

    (record,) = await read_topic(kafka_bootstrap, topic, expected=1)
    traceparent = dict(record.headers)["traceparent"].decode()
    assert traceparent.split("-")[1] == format(trace_id, "032x")
    publish = [s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.PRODUCER]
    assert len(publish) == 1
    assert publish[0].context.trace_id == trace_id
    assert publish[0].attributes is not None
    assert publish[0].attributes["messaging.destination.name"] == topic
    # The record's traceparent names the producer span, the parent of whoever consumes it.
    assert traceparent.split("-")[2] == format(publish[0].context.span_id, "016x")


async def _relay_all(pool: asyncpg.Pool, kafka_bootstrap: str) -> None:
    settings = ServiceSettings(service_name="kit-test", kafka_bootstrap_servers=kafka_bootstrap)
    sender = AiokafkaSender(settings)
    await sender.start()
    try:
        relay = OutboxRelay(pool, sender, schema=SCHEMA)
        while await relay.relay_once():
            pass
    finally:
        await sender.stop()


async def test_two_writers_for_one_key_reach_kafka_in_commit_order_and_a_republish_keeps_it(
    pool: asyncpg.Pool, kafka_bootstrap: str, unique_topic: Callable[[str], str]
) -> None:
    """The first writer takes the lower id; the second must not commit and publish before it.

    Without the key's lock the second writer's row (id 11) committed and was published while
    the first's (id 10) was still open, and a republish in id order sent them the other way.
    """
    topic = unique_topic("outbox-order")
    await create_topics(kafka_bootstrap, [topic], partitions=1)
    first, second = (
        _to(topic, event_message(provider_event(n, provider="prv-test-same"))) for n in (1, 2)
    )
    other_key = _to(topic, event_message(provider_event(3)))
    first_conn = await pool.acquire()
    second_conn = await pool.acquire()
    try:
        first_tx = first_conn.transaction()
        await first_tx.start()
        await write_outbox(first_conn, [first])

        async def second_writer() -> None:
            async with second_conn.transaction():
                await write_outbox(second_conn, [second])

        writing = asyncio.create_task(second_writer())
        await blocked_or_done(pool, second_conn.get_server_pid(), writing)
        if writing.done():
            # No lock held it back: it committed, and the relay publishes it first.
            await _relay_all(pool, kafka_bootstrap)
        else:
            # Another key is not held back by the open writer.
            async with pool.acquire() as conn, conn.transaction():
                await write_outbox(conn, [other_key])
        await first_tx.commit()
        await asyncio.wait_for(writing, timeout=10)
    finally:
        await pool.release(first_conn)
        await pool.release(second_conn)
    await _relay_all(pool, kafka_bootstrap)

    async with pool.acquire() as conn:
        by_id = [
            row["event_id"]
            for row in await conn.fetch("SELECT event_id FROM outbox ORDER BY id")
            if row["event_id"] != other_key.event_id
        ]
        # A broker started afresh: the whole outbox is published again, in id order.
        await conn.execute("UPDATE outbox SET sent_at = NULL")
    await _relay_all(pool, kafka_bootstrap)

    records = await read_topic(kafka_bootstrap, topic, expected=6)
    same_key = [dict(r.headers)["ce_id"].decode() for r in records if r.key == first.key]
    assert by_id == [first.event_id, second.event_id], "the first writer holds the lower id"
    assert same_key == [first.event_id, second.event_id] * 2, (
        "the key's events reach Kafka in commit order, and in the same order when republished"
    )
    assert sum(r.key == other_key.key for r in records) == 2
