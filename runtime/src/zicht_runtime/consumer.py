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

What operators see of each event is written once the transaction has committed (or the batch
was refused for good): one JSON log line per event (result ``processed``, ``duplicate`` or
``dead_lettered``, in the context of its consumer span), the ``zicht.events.*`` counters and
the business metrics handlers record with :func:`zicht_runtime.telemetry.after_commit`.
A rewound batch logs and counts nothing; its redelivery does. After each batch the consumer
lag of its partitions (``zicht.consumer.lag``) is the broker's high-water mark minus the next
offset to process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from aiokafka import ConsumerRecord
from aiokafka.structs import TopicPartition
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind
from opentelemetry.util.types import AttributeValue
from pydantic import BaseModel

from zicht_runtime.db import DbConnection, is_transient_db_error
from zicht_runtime.deadletter import dead_letter_message
from zicht_runtime.outbox import write_outbox
from zicht_runtime.telemetry import (
    DURATION_BUCKETS_S,
    Telemetry,
    commit_scope,
    extract_context,
    messaging_attributes,
)
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
    "Watermarks",
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
    log_id: str = ""
    """The broker cluster whose log holds the record ("" when unknown)."""

    @property
    def record_id(self) -> str:
        """The record's identity for the inbox: where it is in which log."""
        return _place(self.log_id, self.topic, self.partition, self.offset)


def _place(log_id: str, topic: str, partition: int, offset: int) -> str:
    """A record's place: offsets count in one broker's log, so the log is part of it."""
    place = f"{topic}/{partition}/{offset}"
    return f"{log_id}:{place}" if log_id else place


RecordHandler = Callable[[DbConnection, RawRecord], Awaitable[None]]


class Watermarks(Protocol):
    """What the consumer lag is computed from: the aiokafka consumer that polled the batch."""

    def assignment(self) -> set[TopicPartition]:
        """The partitions this consumer holds now."""

    def highwater(self, partition: TopicPartition) -> int | None:
        """The offset the next record of ``partition`` will get (None: not fetched yet)."""


@dataclass(frozen=True)
class Refused:
    """A record that will not be processed, and why (``item`` is None when undecodable)."""

    record: ConsumerRecord[Any, Any]
    error: BaseException
    reason: str
    item: _Item | None = None


@dataclass(frozen=True)
class _Handled:
    """An event the transaction handled, for its log line once the transaction commits."""

    record: ConsumerRecord[Any, Any]
    item: _Item
    result: str


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
        log_id: str = "",
    ) -> None:
        self.topic = topic
        self.consumer = consumer
        # Which log the offsets count in (the broker's cluster id): a record without an event
        # id is known by its place, and a broker started afresh counts from 0 again.
        self._log_id = log_id
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
            "zicht.batch.duration",
            unit="s",
            description="Time to handle one batch.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS_S,
        )
        self._lag = meter.create_gauge(
            "zicht.consumer.lag",
            unit="{message}",
            description="Records of a partition not yet processed by the consumer group: "
            "the high-water mark minus the next offset to process, after each batch.",
        )
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._failures = 0

    async def process(
        self,
        records: Sequence[ConsumerRecord[Any, Any]],
        watermarks: Watermarks | None = None,
    ) -> None:
        """Handle one polled batch; raise :class:`TransientError` to have it redelivered.

        Args:
            records: The batch, as polled.
            watermarks: The consumer that polled it, for the lag after the batch (None:
                no lag is recorded, e.g. under FastStream's test broker).
        """
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
        if watermarks is not None:
            self._record_lag(records, watermarks)

    def _record_lag(
        self, records: Sequence[ConsumerRecord[Any, Any]], watermarks: Watermarks
    ) -> None:
        """Set ``zicht.consumer.lag`` of each partition in the batch, now that it is done."""
        next_offsets: dict[TopicPartition, int] = {}
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            next_offsets[partition] = max(next_offsets.get(partition, 0), record.offset + 1)
        # A rebalance during the batch may have taken a partition away; it is not ours to tell.
        held = watermarks.assignment()
        for partition, next_offset in next_offsets.items():
            highwater = watermarks.highwater(partition) if partition in held else None
            if highwater is None:
                continue
            self._lag.set(
                max(highwater - next_offset, 0),
                {
                    **self._attrs,
                    "messaging.destination.name": partition.topic,
                    "messaging.destination.partition.id": str(partition.partition),
                },
            )

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
        handled: list[_Handled] = []
        # The scope comes first: what handlers count runs after the commit, or never.
        async with commit_scope(), self._pool.acquire() as conn, conn.transaction():
            fresh = await self._claim(conn, decoded)
            refused = await self._claim_poison(conn, poison)
            for record, item in decoded:
                if item.item_id not in fresh:
                    self._mark_duplicate(record, item)
                    handled.append(_Handled(record, item, "duplicate"))
                    continue
                fresh.discard(item.item_id)  # a second copy in the same batch is a duplicate
                if not isolate:
                    await self._handle(conn, record, item, isolate=False)
                    handled.append(_Handled(record, item, "processed"))
                    continue
                try:
                    async with commit_scope(), conn.transaction():
                        await self._handle(conn, record, item, isolate=True)
                    handled.append(_Handled(record, item, "processed"))
                except Exception as exc:
                    if _is_transient(exc):
                        raise
                    # Not transient: the message itself (or the code for it) is at fault;
                    # it goes to the dead-letter topic, where an operator can replay it.
                    refused.append(Refused(record, exc, _reason(exc), item))
            await self._dead_letter(conn, refused)
        processed = sum(h.result == "processed" for h in handled)
        duplicates = len(handled) - processed
        self._processed.add(processed, self._attrs)
        if duplicates:
            self._duplicates.add(duplicates, self._attrs)
        if refused:
            self._dead_lettered.add(len(refused), self._attrs)
        for done in handled:
            self._log_event(done.record, done.item, done.result)
        for refusal in refused:
            self._log_refused(refusal)

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

    async def _claim_poison(self, conn: DbConnection, poison: list[Refused]) -> list[Refused]:
        """Record undecodable records in the inbox by their place in the log.

        They have no event id, but they were taken in: the inbox counts them with the rest
        (the reconciliation compares what was taken in with what was sent), and a poison
        record read again after a crash is not dead-lettered a second time.
        """
        if not poison:
            return []
        places = {
            _place(self._log_id, r.record.topic, r.record.partition, r.record.offset): r
            for r in poison
        }
        rows = await conn.fetch(
            """
            INSERT INTO inbox (consumer, event_id, topic)
            SELECT $1, id, $2 FROM unnest($3::text[]) AS id
            ON CONFLICT DO NOTHING
            RETURNING event_id
            """,
            self.consumer,
            self.topic,
            list(places),
        )
        new = {row["event_id"] for row in rows}
        return [refusal for place, refusal in places.items() if place in new]

    def _span_attributes(
        self, record: ConsumerRecord[Any, Any], item: _Item | None
    ) -> dict[str, AttributeValue]:
        attributes = messaging_attributes(
            record.topic,
            "process",
            item.item_id if item is not None else None,
            partition=record.partition,
            offset=record.offset,
            consumer_group=self.consumer,
        )
        if item is not None:
            attributes.update(item.attributes)
        return attributes

    async def _handle(
        self,
        conn: DbConnection,
        record: ConsumerRecord[Any, Any],
        item: _Item,
        *,
        isolate: bool,
    ) -> None:
        with self._tracer.start_as_current_span(
            f"{record.topic} process",
            context=extract_context(record.headers),
            kind=SpanKind.CONSUMER,
            attributes=self._span_attributes(record, item),
        ) as span:
            item.span_context = span.get_span_context()
            started = time.perf_counter()
            try:
                await self._invoke(conn, item)
            except Exception as exc:
                if isolate and not _is_transient(exc):
                    span.set_attribute("zicht.dead_lettered", value=True)
                raise
            finally:
                item.duration_s = time.perf_counter() - started

    def _mark_duplicate(self, record: ConsumerRecord[Any, Any], item: _Item) -> None:
        """A short consumer span for an event the inbox turned away, for its log line."""
        with self._tracer.start_as_current_span(
            f"{record.topic} process",
            context=extract_context(record.headers),
            kind=SpanKind.CONSUMER,
            attributes={**self._span_attributes(record, item), "zicht.duplicate": True},
        ) as span:
            item.span_context = span.get_span_context()
            item.duration_s = 0.0

    def _log_event(
        self,
        record: ConsumerRecord[Any, Any],
        item: _Item | None,
        result: str,
        *,
        level: int = logging.INFO,
        span_context: SpanContext | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        """The one log line of an event: where it was, what it was, what became of it.

        Ids, types, codes and numbers only: never the payload, a pseudonym or free text.
        It is written in the context of the event's consumer span, so it carries its ids.
        """
        fields: dict[str, object] = {
            "zicht.consumer": self.consumer,
            "zicht.topic": record.topic,
            "zicht.partition": record.partition,
            "zicht.offset": record.offset,
            "zicht.result": result,
        }
        if item is not None:
            fields["zicht.event_id"] = item.item_id
            fields.update(item.attributes)
            fields["zicht.duration_ms"] = round(item.duration_s * 1000, 3)
        fields.update(extra or {})
        context = span_context or (item.span_context if item is not None else None)
        span = NonRecordingSpan(context) if context is not None else trace.INVALID_SPAN
        with trace.use_span(span, end_on_exit=False):
            log.log(level, "event %s", result, extra=fields)

    def _log_refused(self, refused: Refused) -> None:
        """The log line of a dead-lettered event: a warning, with the error's class only."""
        item = refused.item
        context = item.span_context if item is not None else None
        if context is None:
            # Never reached a handler (undecodable): a consumer span of its own, in the trace
            # of whoever produced it, so the dead letter is found from the producer's trace.
            with self._tracer.start_as_current_span(
                f"{refused.record.topic} process",
                context=extract_context(refused.record.headers),
                kind=SpanKind.CONSUMER,
                attributes={
                    **self._span_attributes(refused.record, item),
                    "zicht.dead_lettered": True,
                    "zicht.error_type": type(refused.error).__name__,
                },
            ) as span:
                context = span.get_span_context()
        self._log_event(
            refused.record,
            item,
            "dead_lettered",
            level=logging.WARNING,
            span_context=context,
            extra={"zicht.error_type": type(refused.error).__name__},
        )

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
        log_id: str = "",
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
            log_id=log_id,
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
            log_id=self._log_id,
        )
        return _Item(raw.record_id, raw, {})

    async def _invoke(self, conn: DbConnection, item: _Item) -> None:
        await self._record_handler(conn, item.payload)


async def _never(_conn: DbConnection, _received: Received[Any]) -> None:
    raise AssertionError("a record processor never handles CloudEvents")  # pragma: no cover


@dataclass
class _Item:
    """A decoded record: its inbox id, what the handler gets, and span attributes.

    ``span_context`` and ``duration_s`` are of the latest attempt to handle it, for its
    log line.
    """

    item_id: str
    payload: Any
    attributes: dict[str, str]
    span_context: SpanContext | None = field(default=None, compare=False)
    duration_s: float = 0.0


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientError) or is_transient_db_error(exc)


_MAX_REASON = 2000


def _reason(exc: BaseException) -> str:
    """A reason fit for a dead-letter record: the error's message, bounded in length."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
