"""Kafka plumbing: the FastStream broker factory, batch subscribers, topics, a raw sender."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from zicht_runtime.consumer import BatchProcessor
from zicht_runtime.outbox import OutboxMessage
from zicht_runtime.settings import ServiceSettings
from zicht_runtime.telemetry import Telemetry

__all__ = [
    "AiokafkaSender",
    "FetchPace",
    "adopt_committed_offsets",
    "broker_cluster_id",
    "create_broker",
    "ensure_topics",
    "subscribe_batch",
]

log = logging.getLogger(__name__)


def create_broker(settings: ServiceSettings, telemetry: Telemetry) -> KafkaBroker:
    """A FastStream Kafka broker; it connects when started, not here.

    No FastStream telemetry middleware: the batch processor makes the one consumer span per
    event (FastStream's would add a span per polled batch beside it), and the kit's own
    ``zicht.batch.duration`` measures what its ``messaging.process.duration`` did.
    """
    del telemetry  # the kit's consumer and relay trace; the broker itself does not
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=settings.kafka_linger_ms,
        client_id=f"zicht-{settings.service_name}",
        logger=logging.getLogger(f"zicht.{settings.service_name}.broker"),
        # FastStream's own line per message at DEBUG: the kit logs one line per event.
        log_level=logging.DEBUG,
        graceful_timeout=15.0,
    )


async def _undecoded(_message: StreamMessage[Any]) -> None:
    """Leave records as bytes: the batch processor decodes each and dead-letters bad ones.

    FastStream's own decoder would fail the whole batch on one malformed record before
    any handler could decide about it.
    """
    return


_IDLE_POLL_MS = 50
"""How often an idle subscriber looks in its consumer's buffer (FastStream sleeps as long
again after an empty look): long enough to cost next to nothing, short beside the idle wait."""


class FetchPace:
    """Short fetch waits while records flow, long ones once the service has been idle a while.

    The local broker does not answer a waiting fetch when data arrives on one of several
    partitions, so each hop waits up to its fetch wait: 10 ms keeps the alert path quick,
    but four services asking 100 times a second keep the broker and themselves busy with
    nothing to do (about 0.6 of a core together). After ``idle_after_s`` without a record the
    consumer asks every ``idle_wait_ms`` instead, and its first record back makes it brisk
    again: that first record waits up to the idle wait on each hop, every later one the
    short wait. Against Apache Kafka, which answers a waiting fetch as soon as data arrives,
    the long wait costs no latency at all.

    It sets the aiokafka fetcher's wait (a private attribute, ``_fetch_max_wait_ms``, read for
    every fetch request it builds; aiokafka is pinned in the lock) and FastStream's poll
    timeout; where either is missing it leaves the wait as configured and says so once.
    """

    def __init__(
        self, subscriber: Any, *, busy_wait_ms: int, idle_wait_ms: int, idle_after_s: float
    ) -> None:
        self._subscriber = subscriber
        self._busy_wait_ms = busy_wait_ms
        self._idle_wait_ms = idle_wait_ms
        self._idle_after_s = idle_after_s
        self._last_records = time.monotonic()
        self.idle = False
        self._warned = False

    @property
    def enabled(self) -> bool:
        """Whether idling changes anything (an idle wait longer than the busy one)."""
        return self._idle_wait_ms > self._busy_wait_ms and self._idle_after_s > 0

    def records_arrived(self) -> None:
        """Records came in: be brisk again (the processor calls this for every batch)."""
        self._last_records = time.monotonic()
        if self.idle:
            self.idle = False
            self._apply(self._busy_wait_ms, max(self._busy_wait_ms, 10))

    def check(self, now: float | None = None) -> None:
        """Go idle when no record has come for ``idle_after_s``."""
        now = time.monotonic() if now is None else now
        quiet = now - self._last_records >= self._idle_after_s
        if self.enabled and not self.idle and quiet:
            self.idle = self._apply(self._idle_wait_ms, min(self._idle_wait_ms, _IDLE_POLL_MS))

    async def run(self, stop: asyncio.Event) -> None:
        """Check a few times per idle period until the service stops."""
        if not self.enabled:
            return
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._idle_after_s / 4)
            self.check()

    def fetch_wait_ms(self) -> int | None:
        """The wait the consumer's next fetch request asks for (None before it started)."""
        wait = getattr(self._fetcher(), "_fetch_max_wait_ms", None)
        return int(wait) if wait is not None else None

    def _fetcher(self) -> Any:
        """The started aiokafka consumer's fetcher, or None."""
        return getattr(getattr(self._subscriber, "consumer", None), "_fetcher", None)

    def _apply(self, fetch_wait_ms: int, poll_ms: int) -> bool:
        fetcher = self._fetcher()
        if fetcher is None or not hasattr(fetcher, "_fetch_max_wait_ms"):
            if not self._warned and getattr(self._subscriber, "consumer", None) is not None:
                log.warning("the consumer has no fetch wait to set; it keeps the configured one")
                self._warned = True
            return False
        fetcher._fetch_max_wait_ms = fetch_wait_ms
        self._subscriber.batch_timeout_ms = poll_ms
        return True


def subscribe_batch(
    broker: KafkaBroker,
    processor: BatchProcessor,
    settings: ServiceSettings,
    *,
    fetch_max_wait_ms: int | None = None,
) -> FetchPace:
    """Register one batch subscriber over the processor's topics, in its consumer group.

    Returns its ``FetchPace``, which the kit runs beside it.

    Offsets are committed only after the batch is stored. ``NACK_ON_ERROR``: a batch that
    raises rewinds each of its partitions to its first record, so a later success can never
    commit past an unprocessed message.
    """
    wait = settings.kafka_fetch_max_wait_ms if fetch_max_wait_ms is None else fetch_max_wait_ms
    subscriber = broker.subscriber(
        *processor.topics,
        group_id=processor.group,
        batch=True,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_session_timeout_ms // 3,
        fetch_max_wait_ms=wait,
        max_records=settings.kafka_max_batch,
        batch_timeout_ms=max(wait, 10),
        decoder=_undecoded,
        title=processor.group,
    )

    pace = FetchPace(
        subscriber,
        busy_wait_ms=wait,
        idle_wait_ms=settings.kafka_idle_fetch_max_wait_ms,
        idle_after_s=settings.kafka_idle_after_ms / 1000,
    )

    async def on_batch(message: KafkaMessage) -> None:
        pace.records_arrived()
        raw: Any = message.raw_message
        records: Sequence[ConsumerRecord[Any, Any]] = raw if isinstance(raw, tuple) else (raw,)
        # The aiokafka consumer knows each partition's high-water mark (for the lag); the
        # test broker's stand-in does not.
        consumer = message.consumer
        await processor.process(
            records, consumer if isinstance(consumer, AIOKafkaConsumer) else None
        )

    subscriber(on_batch)
    return pace


async def adopt_committed_offsets(
    bootstrap_servers: str, group: str, earlier: Mapping[str, str]
) -> dict[TopicPartition, int]:
    """Give ``group`` the offsets committed under earlier groups, where it has none yet.

    ``earlier`` maps each topic to the group that read it before (Zicht once read every topic
    with a group of its own, ``<base>.<topic>``). For each partition that ``group`` has no
    committed offset for and the earlier group has, that offset is committed for ``group``:
    the service goes on where it was, without reading its topics again from the start and
    without skipping anything. A partition ``group`` already has an offset for is left
    alone, so this is a no-op on every start after the first. Returns what it committed.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()  # metadata, for the partitions of each topic
        missing: dict[str, list[TopicPartition]] = {}
        for topic, old_group in earlier.items():
            if old_group == group:
                continue
            for partition in sorted(consumer.partitions_for_topic(topic) or ()):
                tp = TopicPartition(topic, partition)
                if await consumer.committed(tp) is None:
                    missing.setdefault(old_group, []).append(tp)
        adopted: dict[TopicPartition, int] = {}
        for old_group, partitions in missing.items():
            adopted.update(await _committed(bootstrap_servers, old_group, partitions))
        if adopted:
            consumer.assign(list(adopted))
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in adopted.items()})
            log.info(
                "consumer group takes over the offsets of the groups that read its topics before",
                extra={
                    "zicht.consumer": group,
                    "zicht.adopted": {f"{tp.topic}/{tp.partition}": o for tp, o in adopted.items()},
                },
            )
        return adopted
    finally:
        await consumer.stop()


async def _committed(
    bootstrap_servers: str, group: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    """The offsets ``group`` has committed for ``partitions`` (those it has)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        found = {tp: await consumer.committed(tp) for tp in partitions}
    finally:
        await consumer.stop()
    return {tp: offset for tp, offset in found.items() if offset is not None}


async def broker_cluster_id(bootstrap_servers: str) -> str:
    """The id of the cluster the broker belongs to ("" when it does not say)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_cluster()
    finally:
        await admin.close()
    return str(described.get("cluster_id") or "")


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int,
    compacted: Iterable[str] = (),
) -> None:
    """Create the topics that do not exist yet (compacted ones with ``cleanup.policy``)."""
    compact = set(compacted)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=topic,
                num_partitions=partitions,
                replication_factor=1,
                topic_configs={"cleanup.policy": "compact"} if topic in compact else {},
            )
            for topic in dict.fromkeys(topics)
            if topic not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                log.debug("topics created concurrently by another instance")
    finally:
        await admin.close()


class AiokafkaSender:
    """Publishes outbox records with one aiokafka producer and waits for every ack."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            enable_idempotence=settings.kafka_enable_idempotence,
            linger_ms=settings.kafka_linger_ms,
            acks="all",
            client_id=f"zicht-{settings.service_name}-outbox",
        )

    async def start(self) -> None:
        """Connect to the broker."""
        await self._producer.start()

    async def stop(self) -> None:
        """Flush and disconnect."""
        await self._producer.stop()

    async def send_batch(self, records: Sequence[OutboxMessage]) -> None:
        """Send all records, then wait until the broker has acknowledged each one."""
        futures = [
            await self._producer.send(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
            for record in records
        ]
        await asyncio.gather(*futures)
