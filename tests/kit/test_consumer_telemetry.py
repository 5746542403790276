"""What operators see of a consumer and an outbox: a log line per event, counts, lag, backlog."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import asyncpg
import pytest
from aiokafka.structs import TopicPartition
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kit.helpers import SCHEMA, provider_event, read_topic, wait_committed
from kit.test_consumer import apply_effect, as_record, consuming, publish
from support.metrics import metric_values
from zicht_devtools.devstack import create_topics
from zicht_runtime.consumer import PoisonMessageError, Received
from zicht_runtime.kafka import AiokafkaSender
from zicht_runtime.logs import JsonFormatter
from zicht_runtime.outbox import OutboxMessage, OutboxRelay, event_message, write_outbox
from zicht_runtime.settings import ServiceSettings
from zicht_runtime.telemetry import after_commit, setup_telemetry
from zicht_schemas import ProviderRegisteredV1, dead_letter_topic

pytestmark = pytest.mark.connected


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def consumer_log_lines() -> Iterator[list[str]]:
    """The consumer's log lines while inside, as the service writes them (JSON)."""
    handler = _Lines()
    handler.setFormatter(JsonFormatter("kit-test"))
    logger = logging.getLogger("zicht_runtime.consumer")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


class _Watermarks:
    """A consumer that holds partition 0 of a topic whose high-water mark is known."""

    def __init__(self, topic: str, highwater: int) -> None:
        self._partition = TopicPartition(topic, 0)
        self._highwater = highwater

    def assignment(self) -> set[TopicPartition]:
        return {self._partition}

    def highwater(self, partition: TopicPartition) -> int | None:
        return self._highwater if partition == self._partition else None


async def test_every_event_has_one_log_line_in_its_consumer_span_and_counts_once_committed(
    pool: asyncpg.Pool,
    kafka_bootstrap: str,
    unique_topic: Callable[[str], str],
    unique_group: Callable[[str], str],
) -> None:
    topic, group = unique_topic("kit"), unique_group("kit")
    await create_topics(kafka_bootstrap, [topic, dead_letter_topic(topic)], partitions=1)
    reader, spans = InMemoryMetricReader(), InMemorySpanExporter()
    telemetry = setup_telemetry("kit-test", metric_readers=[reader], set_global=False)
    telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    business = telemetry.meter("test").create_counter("test.business")
    first, refused, last = (
        provider_event(1),
        provider_event(2, provider="prv-refuse"),
        provider_event(3),
    )

    async def handler(conn: asyncpg.Connection, received: Received[ProviderRegisteredV1]) -> None:
        after_commit(lambda: business.add(1))
        if received.event.data.provider_id == "prv-refuse":
            raise PoisonMessageError("provider prv-refuse cannot be processed")
        await apply_effect(conn, received)

    # offsets: 0 first, 1 first again (a duplicate), 2 refused by the handler, 3 last
    await publish(
        kafka_bootstrap,
        topic,
        [as_record(first), as_record(first), as_record(refused), as_record(last)],
    )
    with consumer_log_lines() as lines:
        async with consuming(
            bootstrap=kafka_bootstrap,
            pool=pool,
            telemetry=telemetry,
            topic=topic,
            group=group,
            handler=handler,
        ) as processor:
            await wait_committed(kafka_bootstrap, group, topic, 4, what="all four committed")
            events = [json.loads(line) for line in lines if '"zicht.result"' in line]

    by_offset = {entry["zicht.offset"]: entry for entry in events}
    assert len(events) == 4, "one line per event, also when the batch was handled twice"
    assert {o: e["zicht.result"] for o, e in by_offset.items()} == {
        0: "processed",
        1: "duplicate",
        2: "dead_lettered",
        3: "processed",
    }
    assert by_offset[2]["level"] == "WARNING"
    assert by_offset[2]["zicht.error_type"] == "PoisonMessageError"
    assert by_offset[0]["zicht.event_id"] == first.id
    assert by_offset[0]["zicht.provider_id"] == "prv-test-1"
    assert by_offset[0]["zicht.consumer"] == group
    assert by_offset[0]["zicht.duration_ms"] >= 0
    consumer_spans = {
        span.attributes["messaging.kafka.offset"]: span
        for span in spans.get_finished_spans()
        if span.attributes and span.attributes.get("messaging.consumer.group.name") == group
    }
    for offset, entry in by_offset.items():
        context = consumer_spans[offset].context
        assert entry["trace_id"] == format(context.trace_id, "032x"), offset
        assert entry["span_id"] == format(context.span_id, "016x"), offset
    assert not any("Proefzorg" in line for line in lines), "no payload in any log line"

    values = metric_values(reader)
    where = (("messaging.consumer.group.name", group), ("messaging.destination.name", topic))
    assert values[("zicht.events.processed", where)] == 2
    assert values[("zicht.events.duplicates", where)] == 1
    assert values[("zicht.events.dead_lettered", where)] == 1
    assert values[("test.business", ())] == 2, "the refused event's savepoint counted nothing"
    lag = (*where, ("messaging.destination.partition.id", "0"))
    assert values[("zicht.consumer.lag", tuple(sorted(lag)))] == 0, "the group caught up"

    # The first two records again, while the broker holds four: two are still to process.
    records = await read_topic(kafka_bootstrap, topic, expected=4)
    await processor.process(records[:2], _Watermarks(topic, highwater=4))
    assert metric_values(reader)[("zicht.consumer.lag", tuple(sorted(lag)))] == 2


async def test_the_outbox_gauges_show_the_backlog_and_the_age_of_its_oldest_row(
    pool: asyncpg.Pool, kafka_bootstrap: str, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("outbox")
    reader = InMemoryMetricReader()
    telemetry = setup_telemetry("kit-test", metric_readers=[reader], set_global=False)
    settings = ServiceSettings(service_name="kit-test", kafka_bootstrap_servers=kafka_bootstrap)
    sender = AiokafkaSender(settings)
    relay = OutboxRelay(pool, sender, schema=SCHEMA, meter=telemetry.meter("zicht.outbox"))
    assert metric_values(reader) == {}, "nothing is reported before the first measurement"

    async with pool.acquire() as conn, conn.transaction():
        messages = [event_message(provider_event(n)) for n in range(3)]
        await write_outbox(
            conn,
            [OutboxMessage(m.event_id, topic, m.key, m.value, m.headers) for m in messages],
        )
        await conn.execute("UPDATE outbox SET created_at = now() - interval '90 seconds'")
    await relay.measure()
    values = metric_values(reader)
    assert values[("zicht.outbox.backlog", ())] == 3
    assert values[("zicht.outbox.oldest_age", ())] >= 90

    await create_topics(kafka_bootstrap, [topic], partitions=1)
    await sender.start()
    try:
        assert await relay.relay_once() == 3
    finally:
        await sender.stop()
    await relay.measure()
    values = metric_values(reader)
    assert values[("zicht.outbox.backlog", ())] == 0
    assert values[("zicht.outbox.oldest_age", ())] == 0
