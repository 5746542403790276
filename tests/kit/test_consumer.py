"""The batch consumer against a real broker and Postgres: inbox, dead letters, retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from kit.helpers import SCHEMA, SOURCE, provider_event, read_topic, wait_committed
from zicht_devtools.devstack import create_topics
from zicht_runtime.consumer import (
    BatchProcessor,
    PoisonMessageError,
    Received,
    Subscription,
    TransientError,
    each,
)
from zicht_runtime.kafka import AiokafkaSender, create_broker, subscribe_batch
from zicht_runtime.outbox import OutboxRelay
from zicht_runtime.settings import ServiceSettings
from zicht_runtime.telemetry import Telemetry
from zicht_schemas import (
    CloudEvent,
    DeadLetteredV1,
    ProviderRegisteredV1,
    dead_letter_topic,
    from_kafka_record,
    to_kafka_record,
)

pytestmark = pytest.mark.connected

Handler = Callable[[asyncpg.Connection, Received[ProviderRegisteredV1]], object]


async def apply_effect(conn: asyncpg.Connection, received: Received[ProviderRegisteredV1]) -> None:
    """A state change that shows how often it was applied."""
    await conn.execute(
        """
        INSERT INTO effects (event_id, provider_id) VALUES ($1, $2)
        ON CONFLICT (event_id) DO UPDATE SET applied = effects.applied + 1
        """,
        received.event.id,
        received.event.data.provider_id,
    )


async def publish(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


def as_record(
    event: CloudEvent[ProviderRegisteredV1],
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    record = to_kafka_record(event)
    return record.key or b"", record.value, list(record.headers)


@asynccontextmanager
async def consuming(
    *,
    bootstrap: str,
    pool: asyncpg.Pool,
    telemetry: Telemetry,
    topic: str,
    group: str,
    handler: Callable[[asyncpg.Connection, Received[ProviderRegisteredV1]], object],
    relay: bool = False,
) -> AsyncIterator[BatchProcessor]:
    """A real FastStream batch subscriber (and optionally the outbox relay) while inside."""
    settings = ServiceSettings(
        service_name="kit-test", kafka_bootstrap_servers=bootstrap, database_schema=SCHEMA
    )
    processor = BatchProcessor(
        group=group,
        subscriptions=[
            Subscription(
                topic,
                each(handler),  # type: ignore[arg-type]  # test handlers return None as awaitables
                ProviderRegisteredV1,
                name=group,
            )
        ],
        pool=pool,
        telemetry=telemetry,
        source=SOURCE,
        service="kit-test",
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )
    broker = create_broker(settings, telemetry)
    subscribe_batch(broker, processor, settings)
    sender = AiokafkaSender(settings)
    outbox = OutboxRelay(pool, sender, schema=SCHEMA, poll_interval_s=0.1)
    stop = asyncio.Event()
    task = None
    await broker.start()
    if relay:
        await sender.start()
        task = asyncio.create_task(outbox.run(stop))
    try:
        yield processor
    finally:
        await broker.stop()
        if task is not None:
            stop.set()
            await task
            await sender.stop()


async def effects(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch("SELECT event_id, applied FROM effects")
    return {row["event_id"]: row["applied"] for row in rows}


async def test_a_redelivered_event_changes_nothing(
    pool: asyncpg.Pool,
    telemetry: Telemetry,
    kafka_bootstrap: str,
    unique_topic: Callable[[str], str],
    unique_group: Callable[[str], str],
) -> None:
    topic, group = unique_topic("kit"), unique_group("kit")
    await create_topics(kafka_bootstrap, [topic], partitions=1)
    first, second = provider_event(1), provider_event(2)
    # The same event twice (a producer retry, a relay re-publish after a crash), then another.
    await publish(kafka_bootstrap, topic, [as_record(first), as_record(first), as_record(second)])

    async with consuming(
        bootstrap=kafka_bootstrap,
        pool=pool,
        telemetry=telemetry,
        topic=topic,
        group=group,
        handler=apply_effect,
    ) as processor:
        await wait_committed(
            kafka_bootstrap, group, topic, 3, what="offsets committed past all three records"
        )

    assert await effects(pool) == {first.id: 1, second.id: 1}
    inbox = await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", group)
    assert inbox == 2

    # A whole batch delivered again (a crash after the transaction, before the offset commit).
    records = await read_topic(kafka_bootstrap, topic, expected=3)
    await processor.process(records)
    assert await effects(pool) == {first.id: 1, second.id: 1}


async def test_poison_messages_are_dead_lettered_with_their_reason_and_the_partition_keeps_flowing(
    pool: asyncpg.Pool,
    telemetry: Telemetry,
    kafka_bootstrap: str,
    unique_topic: Callable[[str], str],
    unique_group: Callable[[str], str],
) -> None:
    topic, group = unique_topic("kit"), unique_group("kit")
    await create_topics(kafka_bootstrap, [topic, dead_letter_topic(topic)], partitions=1)
    good_before, refused, good_after = (
        provider_event(1),
        provider_event(2, provider="prv-refuse"),
        provider_event(3),
    )
    not_json = (
        b"prv-x",
        b"\xff\xfe this is not JSON",
        [("ce_type", ProviderRegisteredV1.EVENT_TYPE.encode())],
    )
    key, _, headers = as_record(provider_event(4))
    invalid_data = (key, b'{"provider_id": "prv-test-4"}', headers)  # required fields missing

    async def handler(conn: asyncpg.Connection, received: Received[ProviderRegisteredV1]) -> None:
        if received.event.data.provider_id == "prv-refuse":
            raise PoisonMessageError("provider prv-refuse cannot be processed")
        await apply_effect(conn, received)

    await publish(
        kafka_bootstrap,
        topic,
        [as_record(good_before), not_json, invalid_data, as_record(refused), as_record(good_after)],
    )
    async with consuming(
        bootstrap=kafka_bootstrap,
        pool=pool,
        telemetry=telemetry,
        topic=topic,
        group=group,
        handler=handler,
        relay=True,
    ) as processor:
        await wait_committed(
            kafka_bootstrap, group, topic, 5, what="offsets committed past the poison"
        )
        letters = await read_topic(kafka_bootstrap, dead_letter_topic(topic), expected=3)

    assert await effects(pool) == {good_before.id: 1, good_after.id: 1}
    dead = {}
    for record in letters:
        event = from_kafka_record(record.value or b"", record.headers, DeadLetteredV1)
        dead[event.data.original_offset] = event.data
    assert sorted(dead) == [1, 2, 3], "each poison message is dead-lettered exactly once"
    assert dead[1].error_type == "InvalidEventError"
    assert dead[1].original_value is not None
    assert dead[1].original_value.to_bytes() == b"\xff\xfe this is not JSON"
    assert dead[2].error_type == "InvalidEventError"
    assert "registry_version" in dead[2].reason
    assert dead[3].error_type == "PoisonMessageError"
    assert dead[3].reason == "provider prv-refuse cannot be processed"
    assert all(
        letter.original_topic == topic and letter.consumer_group == group
        for letter in dead.values()
    )
    assert [h.name for h in dead[3].original_headers][:2] == ["ce_specversion", "ce_id"]
    rows = await pool.fetch(
        'SELECT "offset" FROM dead_letters WHERE consumer = $1 ORDER BY 1', group
    )
    assert [row["offset"] for row in rows] == [1, 2, 3]
    # Every record taken in is in the inbox, the undecodable ones by their place in the log,
    # so operators' counts of what was taken in add up with what was sent.
    inbox = await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", group)
    assert inbox == 5

    # The batch read again (a crash after the commit, before the offsets): no second letter.
    again = await read_topic(kafka_bootstrap, topic, expected=5)
    await processor.process(again)
    rows = await pool.fetch("SELECT 1 FROM dead_letters WHERE consumer = $1", group)
    assert len(rows) == 3


async def test_a_transient_fault_rewinds_the_batch_and_it_is_retried_until_it_succeeds(
    pool: asyncpg.Pool,
    telemetry: Telemetry,
    kafka_bootstrap: str,
    unique_topic: Callable[[str], str],
    unique_group: Callable[[str], str],
) -> None:
    topic, group = unique_topic("kit"), unique_group("kit")
    await create_topics(kafka_bootstrap, [topic], partitions=1)
    first, second = provider_event(1), provider_event(2)
    failures = {"left": 2}

    async def flaky(conn: asyncpg.Connection, received: Received[ProviderRegisteredV1]) -> None:
        await apply_effect(conn, received)
        if received.event.id == second.id and failures["left"]:
            failures["left"] -= 1
            raise TransientError("database briefly unreachable")

    await publish(kafka_bootstrap, topic, [as_record(first), as_record(second)])
    async with consuming(
        bootstrap=kafka_bootstrap,
        pool=pool,
        telemetry=telemetry,
        topic=topic,
        group=group,
        handler=flaky,
    ):
        await wait_committed(
            kafka_bootstrap, group, topic, 2, what="the batch to succeed after two transient faults"
        )

    assert failures["left"] == 0
    # Rolled back twice with the failing batch, applied once when it succeeded; nothing
    # was dead-lettered for a fault that passes.
    assert await effects(pool) == {first.id: 1, second.id: 1}
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0
