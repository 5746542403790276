"""Batch consumption with exactly-once effect: inbox, one transaction, dead letters.

A batch of records from one poll is handled in one Postgres transaction: the inbox
records every CloudEvent id with the state change and the outbox rows the handler
writes, so a redelivered event is a no-op and nothing is published that was not stored.
Offsets are committed only after that transaction (FastStream's ``NACK_ON_ERROR`` on a
batch subscriber: success commits, an exception rewinds every partition of the batch).

Failures are decided per message, before anything later is committed:
- a record that is not a valid event, or that its handler refuses, is *poison*: it goes
  to ``<topic>.dlq`` (through the outbox, in the same transaction) with its reason and
  the partition keeps flowing;
- a transient fault (database, broker) rewinds the batch and retries it after a backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka import ConsumerRecord
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from pydantic import BaseModel

from zicht_runtime.db import DbConnection, is_transient_db_error
from zicht_runtime.deadletter import dead_letter_message
from zicht_runtime.outbox import write_outbox
from zicht_runtime.telemetry import Telemetry, extract_context, messaging_attributes
from zicht_schemas import CloudEvent, InvalidEventError, from_kafka_record

__all__ = [
    "BatchProcessor",
    "EventHandler",
    "PoisonMessageError",
    "RawRecord",
    "Received",
    "RecordBatchProcessor",
    "RecordHandler",
    "TransientError",
]

log = logging.getLogger(__name__)

DataT = TypeVar("DataT", bound=BaseModel)


class PoisonMessageError(Exception):
    """A handler's verdict that this message can never be processed: dead-letter it."""


class TransientError(Exception):
    """A fault that passes (database, broker): retry the batch after a pause."""


@dataclass(frozen=True)
class Received(Generic[DataT]):
    """An event as consumed, with where it came from."""

    event: CloudEvent[DataT]
    topic: str
    partition: int
    offset: int
    key: bytes | None


EventHandler = Callable[[DbConnection, Received[DataT]], Awaitable[None]]


@dataclass(frozen=True)
class RawRecord:
    """A record that is not a CloudEvent (a partner's own format), as consumed."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int

    @property
    def record_id(self) -> str:
        """The record's identity for the inbox: where it is in the log."""
        return f"{self.topic}/{self.partition}/{self.offset}"


RecordHandler = Callable[[DbConnection, RawRecord], Awaitable[None]]


@dataclass(frozen=True)
class Refused:
    """A record that will not be processed, and why."""

    record: ConsumerRecord[Any, Any]
    error: BaseException
    reason: str


class BatchProcessor(Generic[DataT]):
    """Handles batches of one topic for one consumer group; see the module docstring."""

    def __init__(
        self,
        *,
        topic: str,
        consumer: str,
        model: type[DataT],
        handler: EventHandler[DataT],
        pool: asyncpg.Pool,
        telemetry: Telemetry,
        source: str,
        service: str,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
    ) -> None:
        self.topic = topic
        self.consumer = consumer
        self._model = model
        self._handler = handler
        self._pool = pool
        self._source = source
        self._service = service
        self._tracer = telemetry.tracer("zicht.consumer")
        meter = telemetry.meter("zicht.consumer")
        self._attrs = {
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": consumer,
        }
        self._processed = meter.create_counter(
            "zicht.events.processed", description="Events handled and committed."
        )
        self._duplicates = meter.create_counter(
            "zicht.events.duplicates", description="Redelivered events the inbox turned away."
        )
        self._dead_lettered = meter.create_counter(
            "zicht.events.dead_lettered", description="Events sent to a dead-letter topic."
        )
        self._retries = meter.create_counter(
            "zicht.batches.retried", description="Batches rewound after a transient fault."
        )
        self._latency = meter.create_histogram(
            "zicht.batch.duration", unit="s", description="Time to handle one batch."
        )
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._failures = 0

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Handle one polled batch; raise :class:`TransientError` to have it redelivered."""
        started = time.perf_counter()
        decoded: list[tuple[ConsumerRecord[Any, Any], _Item]] = []
        poison: list[Refused] = []
        for record in records:
            try:
                item = self._decode(record)
            except InvalidEventError as exc:
                poison.append(Refused(record, exc, _reason(exc)))
                continue
            decoded.append((record, item))
        try:
            await self._in_one_transaction(decoded, poison, isolate=False)
        except Exception as exc:
            if _is_transient(exc):
                await self._pause_before_retry(exc)
                raise TransientError(str(exc)) from exc
            # One message spoiled the batch: do it again, each message on its own
            # savepoint, so only the guilty one is dead-lettered.
            try:
                await self._in_one_transaction(decoded, poison, isolate=True)
            except Exception as again:
                # Transient, or a fault outside any handler: rewind and try later, slowly.
                await self._pause_before_retry(again)
                raise TransientError(str(again)) from again
        self._failures = 0
        self._latency.record(time.perf_counter() - started, self._attrs)

    def _decode(self, record: ConsumerRecord[Any, Any]) -> _Item:
        """Read one record as a CloudEvent of the model; raise InvalidEventError if not."""
        event = from_kafka_record(record.value or b"", record.headers, self._model)
        received = Received(event, record.topic, record.partition, record.offset, record.key)
        attributes: dict[str, str] = {"zicht.event_type": event.type}
        if event.subject:
            attributes["zicht.provider_id"] = event.subject
        return _Item(event.id, received, attributes)

    async def _invoke(self, conn: DbConnection, item: _Item) -> None:
        await self._handler(conn, item.payload)

    async def _pause_before_retry(self, exc: BaseException) -> None:
        self._failures += 1
        pause = min(self._backoff_initial_s * 2 ** (self._failures - 1), self._backoff_max_s)
        self._retries.add(1, self._attrs)
        log.warning(
            "batch rewound after a fault; it will be redelivered",
            extra={
                "zicht.consumer": self.consumer,
                "zicht.error_type": type(exc).__name__,
                "zicht.retry_in_s": pause,
            },
        )
        await asyncio.sleep(pause)

    async def _in_one_transaction(
        self,
        decoded: list[tuple[ConsumerRecord[Any, Any], _Item]],
        poison: list[Refused],
        *,
        isolate: bool,
    ) -> None:
        refused: list[Refused] = list(poison)
        processed = duplicates = 0
        async with self._pool.acquire() as conn, conn.transaction():
            fresh = await self._claim(conn, decoded)
            for record, item in decoded:
                if item.item_id not in fresh:
                    duplicates += 1
                    continue
                fresh.discard(item.item_id)  # a second copy in the same batch is a duplicate
                if not isolate:
                    await self._handle(conn, record, item)
                    processed += 1
                    continue
                try:
                    async with conn.transaction():
                        await self._handle(conn, record, item)
                    processed += 1
                except Exception as exc:
                    if _is_transient(exc):
                        raise
                    # Not transient: the message itself (or the code for it) is at fault;
                    # it goes to the dead-letter topic, where an operator can replay it.
                    refused.append(Refused(record, exc, _reason(exc)))
            await self._dead_letter(conn, refused)
        self._processed.add(processed, self._attrs)
        if duplicates:
            self._duplicates.add(duplicates, self._attrs)
        if refused:
            self._dead_lettered.add(len(refused), self._attrs)

    async def _claim(
        self,
        conn: DbConnection,
        decoded: list[tuple[ConsumerRecord[Any, Any], _Item]],
    ) -> set[str]:
        """Record the batch's event ids in the inbox; return those not seen before."""
        if not decoded:
            return set()
        rows = await conn.fetch(
            """
            INSERT INTO inbox (consumer, event_id, topic)
            SELECT $1, id, $2 FROM unnest($3::text[]) AS id
            ON CONFLICT DO NOTHING
            RETURNING event_id
            """,
            self.consumer,
            self.topic,
            list(dict.fromkeys(item.item_id for _, item in decoded)),
        )
        return {row["event_id"] for row in rows}

    async def _handle(
        self,
        conn: DbConnection,
        record: ConsumerRecord[Any, Any],
        item: _Item,
    ) -> None:
        attributes = messaging_attributes(
            record.topic,
            "process",
            item.item_id,
            partition=record.partition,
            offset=record.offset,
            consumer_group=self.consumer,
        )
        attributes.update(item.attributes)
        with self._tracer.start_as_current_span(
            f"{record.topic} process",
            context=extract_context(record.headers),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ):
            await self._invoke(conn, item)

    async def _dead_letter(self, conn: DbConnection, refused: list[Refused]) -> None:
        """Record each refused record and send it to its dead-letter topic via the outbox."""
        if not refused:
            return
        messages = []
        for item in refused:
            record = item.record
            inserted = await conn.fetchval(
                """
                INSERT INTO dead_letters
                    (topic, partition, "offset", consumer, error_type, reason)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT DO NOTHING
                RETURNING id
                """,
                record.topic,
                record.partition,
                record.offset,
                self.consumer,
                type(item.error).__name__,
                item.reason,
            )
            if inserted is None:
                continue  # dead-lettered on an earlier delivery already
            messages.append(
                dead_letter_message(
                    record,
                    error=item.error,
                    reason=item.reason,
                    consumer=self.consumer,
                    service=self._service,
                    source=self._source,
                )
            )
            trace.get_current_span().set_attribute("zicht.dead_lettered", value=True)
            log.warning(
                "message dead-lettered",
                extra={
                    "zicht.consumer": self.consumer,
                    "zicht.topic": record.topic,
                    "zicht.partition": record.partition,
                    "zicht.offset": record.offset,
                    "zicht.error_type": type(item.error).__name__,
                    "zicht.reason": item.reason,
                },
            )
        await write_outbox(conn, messages)


class RecordBatchProcessor(BatchProcessor[Any]):
    """Like :class:`BatchProcessor`, for records in a partner's own format (no CloudEvent).

    The inbox remembers each record by its place in the log (topic, partition, offset), so
    a redelivered record changes nothing; the handler decides what the bytes mean and
    raises :class:`PoisonMessageError` only for faults of its own (a partner's bad input
    is a business outcome, recorded by the handler, not a dead letter).
    """

    def __init__(
        self,
        *,
        topic: str,
        consumer: str,
        handler: RecordHandler,
        pool: asyncpg.Pool,
        telemetry: Telemetry,
        source: str,
        service: str,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
    ) -> None:
        super().__init__(
            topic=topic,
            consumer=consumer,
            model=BaseModel,
            handler=_never,
            pool=pool,
            telemetry=telemetry,
            source=source,
            service=service,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
        )
        self._record_handler = handler

    def _decode(self, record: ConsumerRecord[Any, Any]) -> _Item:
        value = record.value or b""
        raw = RawRecord(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=value if isinstance(value, bytes) else bytes(value),
            headers=tuple((name, bytes(v)) for name, v in record.headers),
            timestamp_ms=record.timestamp,
        )
        return _Item(raw.record_id, raw, {})

    async def _invoke(self, conn: DbConnection, item: _Item) -> None:
        await self._record_handler(conn, item.payload)


async def _never(_conn: DbConnection, _received: Received[Any]) -> None:
    raise AssertionError("a record processor never handles CloudEvents")  # pragma: no cover


@dataclass(frozen=True)
class _Item:
    """A decoded record: its inbox id, what the handler gets, and span attributes."""

    item_id: str
    payload: Any
    attributes: dict[str, str]


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientError) or is_transient_db_error(exc)


_MAX_REASON = 2000


def _reason(exc: BaseException) -> str:
    """A reason fit for a dead-letter record: the error's message, bounded in length."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
