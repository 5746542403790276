"""Kafka plumbing: the FastStream broker factory, batch subscribers, topics, a raw sender."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.message import StreamMessage

from zicht_runtime.consumer import BatchProcessor
from zicht_runtime.outbox import OutboxMessage
from zicht_runtime.settings import ServiceSettings
from zicht_runtime.telemetry import Telemetry

__all__ = [
    "AiokafkaSender",
    "broker_cluster_id",
    "create_broker",
    "ensure_topics",
    "subscribe_batch",
]

log = logging.getLogger(__name__)


def create_broker(settings: ServiceSettings, telemetry: Telemetry) -> KafkaBroker:
    """A FastStream Kafka broker with telemetry on; it connects when started, not here."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=settings.kafka_linger_ms,
        client_id=f"zicht-{settings.service_name}",
        middlewares=(
            KafkaTelemetryMiddleware(
                tracer_provider=telemetry.tracer_provider,
                meter_provider=telemetry.meter_provider,
            ),
        ),
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


def subscribe_batch(
    broker: KafkaBroker,
    processor: BatchProcessor[Any],
    settings: ServiceSettings,
    *,
    fetch_max_wait_ms: int | None = None,
) -> None:
    """Register a batch subscriber that commits offsets only after the batch is stored.

    ``NACK_ON_ERROR``: a batch that raises rewinds each of its partitions to its first
    record, so a later success can never commit past an unprocessed message.
    """
    wait = settings.kafka_fetch_max_wait_ms if fetch_max_wait_ms is None else fetch_max_wait_ms
    subscriber = broker.subscriber(
        processor.topic,
        group_id=processor.consumer,
        batch=True,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_session_timeout_ms // 3,
        fetch_max_wait_ms=wait,
        max_records=settings.kafka_max_batch,
        batch_timeout_ms=max(wait, 10),
        decoder=_undecoded,
        title=f"{processor.consumer}:{processor.topic}",
    )

    async def on_batch(message: KafkaMessage) -> None:
        raw: Any = message.raw_message
        records: Sequence[ConsumerRecord[Any, Any]] = raw if isinstance(raw, tuple) else (raw,)
        # The aiokafka consumer knows each partition's high-water mark (for the lag); the
        # test broker's stand-in does not.
        consumer = message.consumer
        await processor.process(
            records, consumer if isinstance(consumer, AIOKafkaConsumer) else None
        )

    subscriber(on_batch)


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
