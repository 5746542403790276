"""Dead letters: a record no consumer can process, kept whole on ``<topic>.dlq``."""

from __future__ import annotations

import uuid
from typing import Any

from aiokafka import ConsumerRecord

from zicht_runtime.outbox import OutboxMessage, event_message
from zicht_schemas import DeadLetteredV1, new_event

__all__ = ["dead_letter_id", "dead_letter_message"]


def dead_letter_id(consumer: str, topic: str, partition: int, offset: int) -> str:
    """The event id of a record's dead letter: the same record always gets the same id.

    The outbox keeps one row per event id, so a poison message redelivered after a crash
    is dead-lettered once.
    """
    name = f"zicht:dead-letter:{consumer}:{topic}:{partition}:{offset}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def dead_letter_message(
    record: ConsumerRecord[Any, Any],
    *,
    error: BaseException,
    reason: str,
    consumer: str,
    service: str,
    source: str,
) -> OutboxMessage:
    """The outbox record that carries ``record`` to its dead-letter topic, with the reason."""
    data = DeadLetteredV1.for_record(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=list(record.headers),
        error=error,
        reason=reason,
        consumer_group=consumer,
        service=service,
        timestamp_ms=record.timestamp,
    )
    event_id = dead_letter_id(consumer, record.topic, record.partition, record.offset)
    return event_message(new_event(data, source=source, event_id=event_id))
