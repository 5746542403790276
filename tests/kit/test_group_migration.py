"""A deployment that read each topic with a group of its own moves to one group per service:
it goes on where the old groups stopped, re-reads nothing from the start, skips nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from kit.helpers import SCHEMA, SOURCE, committed_offset, provider_event, wait_committed
from kit.test_consumer import as_record, publish
from zicht_devtools.devstack import create_topics
from zicht_runtime.consumer import BatchProcessor, Received, Subscription, Watermarks, each
from zicht_runtime.db import DbConnection
from zicht_runtime.kafka import adopt_committed_offsets, create_broker, subscribe_batch
from zicht_runtime.settings import ServiceSettings
from zicht_runtime.telemetry import Telemetry
from zicht_schemas import ProviderRegisteredV1, dead_letter_topic

pytestmark = pytest.mark.connected


async def _commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
    finally:
        await consumer.stop()


class _Seeing(BatchProcessor):
    """A processor that remembers which records the broker handed it."""

    seen: list[tuple[str, int]]

    async def process(
        self, records: Sequence[ConsumerRecord[Any, Any]], watermarks: Watermarks | None = None
    ) -> None:
        self.seen.extend((r.topic, r.offset) for r in records)
        await super().process(records, watermarks)


async def test_the_service_group_goes_on_from_the_offsets_the_per_topic_groups_committed(
    pool: asyncpg.Pool,
    telemetry: Telemetry,
    kafka_bootstrap: str,
    unique_topic: Callable[[str], str],
    unique_group: Callable[[str], str],
) -> None:
    first, second = unique_topic("registry"), unique_topic("other")
    base = unique_group("svc")
    old = {first: f"{base}.{first}", second: f"{base}.{second}"}
    await create_topics(
        kafka_bootstrap, [first, second, dead_letter_topic(first), dead_letter_topic(second)],
        partitions=1,
    )  # fmt: skip
    label = {first: "a", second: "b"}
    events = {t: [provider_event(n, provider=f"prv-{label[t]}-{n}") for n in range(6)] for t in old}
    for topic, evs in events.items():
        await publish(kafka_bootstrap, topic, [as_record(e) for e in evs])
    # The old version handled events 0-4 of the first topic but committed only up to 3 (it
    # stopped before its last commit); of the second topic it handled and committed 0-1.
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO inbox (consumer, event_id, topic) VALUES ($1, $2, $3)",
            [(old[first], e.id, first) for e in events[first][:5]]
            + [(old[second], e.id, second) for e in events[second][:2]],
        )
    await _commit(kafka_bootstrap, old[first], {TopicPartition(first, 0): 3})
    await _commit(kafka_bootstrap, old[second], {TopicPartition(second, 0): 2})

    adopted = await adopt_committed_offsets(kafka_bootstrap, base, old)
    assert adopted == {TopicPartition(first, 0): 3, TopicPartition(second, 0): 2}
    again = await adopt_committed_offsets(kafka_bootstrap, base, old)
    assert again == {}, "a group that has its offsets takes over nothing"

    handled: list[str] = []

    async def handler(_conn: DbConnection, received: Received[ProviderRegisteredV1]) -> None:
        handled.append(received.event.data.provider_id)

    settings = ServiceSettings(
        service_name="kit-test", kafka_bootstrap_servers=kafka_bootstrap, database_schema=SCHEMA
    )
    processor = _Seeing(
        group=base,
        subscriptions=[
            Subscription(t, each(handler), ProviderRegisteredV1, name) for t, name in old.items()
        ],
        pool=pool, telemetry=telemetry, source=SOURCE, service="kit-test",
    )  # fmt: skip
    processor.seen = []
    broker = create_broker(settings, telemetry)
    subscribe_batch(broker, processor, settings)
    await broker.start()
    try:
        await wait_committed(kafka_bootstrap, base, first, 6, what="first topic read to its end")
        await wait_committed(kafka_bootstrap, base, second, 6, what="second topic read to its end")
        await asyncio.sleep(0.2)
    finally:
        await broker.stop()

    # Offsets 0-2 were never read again; 3 and 4 came again and the inbox turned them away.
    assert sorted(set(processor.seen)) == sorted(
        [(first, n) for n in range(3, 6)] + [(second, n) for n in range(2, 6)]
    )
    assert sorted(handled) == sorted(["prv-a-5"] + [f"prv-b-{n}" for n in range(2, 6)])
    assert await committed_offset(kafka_bootstrap, old[first], first) == 3, "old group untouched"
