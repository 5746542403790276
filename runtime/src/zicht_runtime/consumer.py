"""Batch consumption with exactly-once effect: inbox, one transaction, dead letters.

A service reads all its topics with one consumer group. A batch of records from one poll is
handled in one Postgres transaction: every record is decoded once, the inbox records every
event id in one statement, and each subscription's handler gets *all* its fresh records of the
batch in one call (in partition order), so it can do its work with a fixed handful of
statements for the batch. The inbox rows, the state change and the outbox rows the handlers
write commit together: a redelivered event is a no-op and nothing is published that was not
stored. Offsets are committed only after that transaction (FastStream's ``NACK_ON_ERROR`` on
a batch subscriber: success commits, an exception rewinds every partition of the batch).

Failures are decided per record, before anything later is committed:
- a record that is not a valid event, or that its handler refuses, is *poison*: it goes
  to ``<topic>.dlq`` (through the outbox, in the same transaction) with its reason and
  the partition keeps flowing. A batch whose handler fails is handled again record by
  record, each on its own savepoint, so only the guilty record is dead-lettered and the
  good ones of the batch commit;
- a transient fault (database, broker) rewinds the batch and retries it after a backoff.

Tracing: each record has one consumer span (``<topic> process``, a child of its producer's
span), covering the batch it was handled in, with the batch's size, statement count and
database time on it (``zicht.batch.size``, ``zicht.db.statements``, ``zicht.db.duration_ms``)
instead of a span per SQL statement. Handlers that write for an event use its ``context``
(:func:`each` makes it current), so what they publish continues the event's trace.

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
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from aiokafka import ConsumerRecord
from aiokafka.structs import TopicPartition
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue
from pydantic import BaseModel

from zicht_runtime.db import DbConnection, DbWork, is_transient_db_error, measured
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
    "BatchHandler",
    "BatchProcessor",
    "PoisonMessageError",
    "RawRecord",
    "Received",
    "RecordBatchHandler",
    "Subscription",
    "TransientError",
    "Watermarks",
    "each",
]

log = logging.getLogger(__name__)

DataT = TypeVar("DataT", bound=BaseModel)
PayloadT = TypeVar("PayloadT", bound="Received[Any] | RawRecord")


class PoisonMessageError(Exception):
    """A handler's verdict that this message can never be processed: dead-letter it."""


class TransientError(Exception):
    """A fault that passes (database, broker): retry the batch after a pause."""


@dataclass(frozen=True)
class Received(Generic[DataT]):
    """An event as consumed, with where it came from and the context of its consumer span."""

    event: CloudEvent[DataT]
    topic: str
    partition: int
    offset: int
    key: bytes | None
    context: Context | None = field(default=None, compare=False)
    """The trace context of the event's consumer span: what a handler writes for this event
    (outbox rows, business spans) belongs in it."""


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
    context: Context | None = field(default=None, compare=False)
    """The trace context of the record's consumer span (see :class:`Received`)."""

    @property
    def record_id(self) -> str:
        """The record's identity for the inbox: where it is in which log."""
        return _place(self.log_id, self.topic, self.partition, self.offset)


def _place(log_id: str, topic: str, partition: int, offset: int) -> str:
    """A record's place: offsets count in one broker's log, so the log is part of it."""
    place = f"{topic}/{partition}/{offset}"
    return f"{log_id}:{place}" if log_id else place


BatchHandler = Callable[[DbConnection, Sequence[Received[DataT]]], Awaitable[None]]
"""Handles the fresh events of one topic in a batch, in partition order, in one transaction."""

RecordBatchHandler = Callable[[DbConnection, Sequence[RawRecord]], Awaitable[None]]
"""Handles the fresh raw records of one topic in a batch (see :data:`BatchHandler`)."""


def each(
    handler: Callable[[DbConnection, PayloadT], Awaitable[None]],
) -> Callable[[DbConnection, Sequence[PayloadT]], Awaitable[None]]:
    """A batch handler that calls ``handler`` for one event after the other, in order.

    Each call runs in the context of its event's consumer span, so the spans it starts and
    the outbox rows it writes belong to that event's trace. For handlers not (yet) set-based.
    """

    async def batch(conn: DbConnection, items: Sequence[PayloadT]) -> None:
        for item in items:
            token = otel_context.attach(item.context) if item.context is not None else None
            try:
                await handler(conn, item)
            finally:
                if token is not None:
                    otel_context.detach(token)

    batch.__qualname__ = getattr(handler, "__qualname__", "each")
    return batch


@dataclass(frozen=True)
class Subscription:
    """One topic a service consumes: how its records are read and who handles them.

    ``model`` is the CloudEvent data model of the topic's events; ``None`` means the topic
    carries a partner's own format, handed over as :class:`RawRecord`. ``name`` is the
    subscription's identity in the inbox and the dead-letter records (its consumer); it
    stays the same when the consumer group changes, so an event processed under an earlier
    group is still known.
    """

    topic: str
    handler: Callable[[DbConnection, Sequence[Any]], Awaitable[None]]
    model: type[BaseModel] | None
    name: str


class Watermarks(Protocol):
    """What the consumer lag is computed from: the aiokafka consumer that polled the batch."""

    def assignment(self) -> set[TopicPartition]:
        """The partitions this consumer holds now."""

    def highwater(self, partition: TopicPartition) -> int | None:
        """The offset the next record of ``partition`` will get (None: not fetched yet)."""


@dataclass
class _Item:
    """One record of a batch: its subscription, inbox id, what the handler gets, its span.

    ``payload`` is None for a record that could not be decoded (``refusal`` says why).
    ``duration_s`` is of the handler call that last handled it, for its log line.
    """

    record: ConsumerRecord[Any, Any]
    subscription: Subscription
    item_id: str
    payload: Any
    attributes: dict[str, str]
    span: Span
    refusal: BaseException | None = None
    result: str = ""
    reason: str = ""
    duration_s: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        """The record's row in the inbox: its subscription and its id."""
        return (self.subscription.name, self.item_id)


class BatchProcessor:
    """Handles the batches of one consumer group over its subscriptions; see the module."""

    def __init__(
        self,
        *,
        group: str,
        subscriptions: Sequence[Subscription],
        pool: asyncpg.Pool,
        telemetry: Telemetry,
        source: str,
        service: str,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
        log_id: str = "",
    ) -> None:
        if not subscriptions:
            raise ValueError("a consumer needs at least one subscription")
        topics = [s.topic for s in subscriptions]
        if len(set(topics)) != len(topics):
            raise ValueError(f"a topic is subscribed twice: {topics}")
        self.group = group
        self.subscriptions = {s.topic: s for s in subscriptions}
        # Which log the offsets count in (the broker's cluster id): a record without an event
        # id is known by its place, and a broker started afresh counts from 0 again.
        self._log_id = log_id
        self._pool = pool
        self._source = source
        self._service = service
        self._tracer = telemetry.tracer("zicht.consumer")
        meter = telemetry.meter("zicht.consumer")
        self._attrs = {"messaging.consumer.group.name": group}
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

    @property
    def topics(self) -> list[str]:
        """The topics this consumer reads."""
        return list(self.subscriptions)

    async def process(
        self,
        records: Sequence[ConsumerRecord[Any, Any]],
        watermarks: Watermarks | None = None,
    ) -> None:
        """Handle one polled batch; raise :class:`TransientError` to have it redelivered.

        Args:
            records: The batch, as polled (records of one partition in offset order).
            watermarks: The consumer that polled it, for the lag after the batch (None:
                no lag is recorded, e.g. under FastStream's test broker).
        """
        started = time.perf_counter()
        items = [self._decode(record) for record in records]
        work = DbWork()
        try:
            try:
                spoiled: set[str] = set()
                work = await self._in_one_transaction(items, isolate=False, spoiled=spoiled)
            except Exception as exc:
                if _is_transient(exc):
                    raise
                # A record spoiled the batch: do it again, halving what fails on its own
                # savepoint, so only the guilty records are dead-lettered.
                work = await self._in_one_transaction(items, isolate=True, spoiled=spoiled)
        except Exception as exc:
            # Transient, or a fault outside any handler: rewind and try later, slowly.
            self._end_spans(items, work, rewound=exc)
            await self._pause_before_retry(exc)
            raise TransientError(str(exc)) from exc
        except BaseException as exc:  # cancelled: the service stops; the batch comes again
            self._end_spans(items, work, rewound=exc)
            raise
        self._end_spans(items, work)
        self._after_commit(items)
        self._failures = 0
        self._latency.record(time.perf_counter() - started, self._attrs)
        if watermarks is not None:
            self._record_lag(records, watermarks)

    def _decode(self, record: ConsumerRecord[Any, Any]) -> _Item:
        """Read one record for its subscription; an undecodable one is marked refused."""
        subscription = self.subscriptions[record.topic]
        attributes: dict[str, str] = {}
        payload: Any = None
        refusal: BaseException | None = None
        item_id = _place(self._log_id, record.topic, record.partition, record.offset)
        if subscription.model is None:
            value = record.value or b""
            payload = RawRecord(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=value if isinstance(value, bytes) else bytes(value),
                headers=tuple((name, bytes(v)) for name, v in record.headers),
                timestamp_ms=record.timestamp,
                log_id=self._log_id,
            )
        else:
            try:
                event = from_kafka_record(record.value or b"", record.headers, subscription.model)
            except InvalidEventError as exc:
                refusal = exc
            else:
                item_id = event.id
                payload = Received(event, record.topic, record.partition, record.offset, record.key)
                attributes["zicht.event_type"] = event.type
                if event.subject:
                    attributes["zicht.provider_id"] = event.subject
        span_attributes: dict[str, AttributeValue] = {
            **messaging_attributes(
                record.topic,
                "process",
                item_id if refusal is None else None,
                partition=record.partition,
                offset=record.offset,
                consumer_group=self.group,
            ),
            **attributes,
        }
        span = self._tracer.start_span(
            f"{record.topic} process",
            context=extract_context(record.headers),
            kind=SpanKind.CONSUMER,
            attributes=span_attributes,
        )
        if payload is not None:
            payload = dataclasses.replace(payload, context=trace.set_span_in_context(span))
        return _Item(record, subscription, item_id, payload, attributes, span, refusal)

    async def _in_one_transaction(
        self, items: list[_Item], *, isolate: bool, spoiled: set[str]
    ) -> DbWork:
        """Handle the batch in one transaction; return what it asked of the database.

        ``spoiled`` collects the topic whose handler failed the batch (``isolate=False``);
        with ``isolate=True`` those handlers' records are halved at once, the others tried
        whole first.
        """
        for item in items:
            item.result, item.reason = "", ""
        with measured() as work:
            # The scope comes first: what handlers count runs after the commit, or never.
            async with commit_scope(), self._pool.acquire() as conn, conn.transaction():
                fresh = await self._claim(conn, items)
                for item in items:
                    if item.refusal is not None:
                        continue
                    if item.key not in fresh:
                        item.result = "duplicate"
                        continue
                    fresh.discard(item.key)  # a second copy in one batch is a duplicate
                    item.result = "processed"
                for subscription, group in _by_subscription(items):
                    if not isolate:
                        try:
                            await self._handle(conn, subscription, group)
                        except Exception:
                            spoiled.add(subscription.topic)
                            raise
                    else:
                        # The handler that failed the batch begins with its halves.
                        failed = subscription.topic in spoiled
                        await self._handle_halving(conn, subscription, group, failed=failed)
                await self._dead_letter(conn, [i for i in items if i.result == "dead_lettered"])
            await asyncio.sleep(0)  # asyncpg reports the last statements one loop turn later
        return work

    async def _handle(
        self, conn: DbConnection, subscription: Subscription, items: list[_Item]
    ) -> None:
        started = time.perf_counter()
        try:
            await subscription.handler(conn, [item.payload for item in items])
        finally:
            elapsed = time.perf_counter() - started
            for item in items:
                item.duration_s = elapsed

    async def _handle_halving(
        self,
        conn: DbConnection,
        subscription: Subscription,
        items: list[_Item],
        *,
        failed: bool = False,
    ) -> None:
        """Handle records on a savepoint; if they fail, halve them until the culprits are alone.

        Each call is the handler's own unit (one savepoint), so a set-based handler does a
        spoiled batch of 500 with one bad record in about 19 calls instead of 500 record by
        record (``python -m bench poison``). A record that fails alone is dead-lettered; the
        halves are handled in batch order, so what the good records change is applied in
        order as in a clean batch. ``failed``: these records are known to fail together
        (the batch's first run), so they are halved without being tried whole again.
        """
        if not failed or len(items) == 1:
            try:
                async with commit_scope(), conn.transaction():
                    await self._handle(conn, subscription, items)
            except Exception as exc:
                if _is_transient(exc):
                    raise
                if len(items) == 1:
                    # Not transient: the message itself (or the code for it) is at fault; it
                    # goes to the dead-letter topic, where an operator can replay it.
                    items[0].result, items[0].refusal = "dead_lettered", exc
                    return
            else:
                return
        middle = len(items) // 2
        await self._handle_halving(conn, subscription, items[:middle])
        await self._handle_halving(conn, subscription, items[middle:])

    async def _claim(self, conn: DbConnection, items: list[_Item]) -> set[tuple[str, str]]:
        """Record the batch's ids in the inbox, per subscription; return the new ones.

        Undecodable records are known by their place in the log: they were taken in, so the
        inbox counts them with the rest (the reconciliation compares what was taken in with
        what was sent), and one read again after a crash is not dead-lettered twice.
        """
        names = [item.subscription.name for item in items]
        topics = [item.subscription.topic for item in items]
        ids = [item.item_id for item in items]
        if not ids:
            return set()
        rows = await conn.fetch(
            """
            INSERT INTO inbox (consumer, event_id, topic)
            SELECT DISTINCT ON (c, e) c, e, t FROM unnest($1::text[], $2::text[], $3::text[])
                AS u(c, e, t)
            ON CONFLICT DO NOTHING
            RETURNING consumer, event_id
            """,
            names,
            ids,
            topics,
        )
        new = {(row["consumer"], row["event_id"]) for row in rows}
        for item in items:
            if item.refusal is not None:
                item.result = "dead_lettered" if item.key in new else "duplicate"
        return new

    async def _dead_letter(self, conn: DbConnection, refused: list[_Item]) -> None:
        """Record each refused record and send it to its dead-letter topic via the outbox."""
        if not refused:
            return
        messages = []
        for item in refused:
            record, error = item.record, item.refusal
            assert error is not None  # noqa: S101 - a refused item has its refusal
            item.reason = _reason(error)
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
                item.subscription.name,
                type(error).__name__,
                item.reason,
            )
            if inserted is None:
                continue  # dead-lettered on an earlier delivery already
            messages.append(
                dead_letter_message(
                    record,
                    error=error,
                    reason=item.reason,
                    consumer=self.group,
                    service=self._service,
                    source=self._source,
                )
            )
        await write_outbox(conn, messages)

    def _end_spans(
        self, items: list[_Item], work: DbWork, *, rewound: BaseException | None = None
    ) -> None:
        """End each record's consumer span with what its batch cost and what became of it."""
        batch: dict[str, AttributeValue] = {
            "zicht.batch.size": len(items),
            "zicht.db.statements": work.statements,
            "zicht.db.duration_ms": round(work.seconds * 1000, 3),
        }
        for item in items:
            span = item.span
            span.set_attributes(batch)
            if rewound is not None:
                span.set_attribute("zicht.error_type", type(rewound).__name__)
                span.set_status(Status(StatusCode.ERROR, "batch rewound; it will be redelivered"))
            elif item.result == "duplicate":
                span.set_attribute("zicht.duplicate", value=True)
            elif item.result == "dead_lettered" and item.refusal is not None:
                span.set_attribute("zicht.dead_lettered", value=True)
                span.set_attribute("zicht.error_type", type(item.refusal).__name__)
            span.end()

    def _after_commit(self, items: list[_Item]) -> None:
        """Count and log each record, now that its batch has committed."""
        for topic in {item.record.topic for item in items}:
            of_topic = [item for item in items if item.record.topic == topic]
            attrs = {**self._attrs, "messaging.destination.name": topic}
            processed = sum(item.result == "processed" for item in of_topic)
            duplicates = sum(item.result == "duplicate" for item in of_topic)
            refused = sum(item.result == "dead_lettered" for item in of_topic)
            self._processed.add(processed, attrs)
            if duplicates:
                self._duplicates.add(duplicates, attrs)
            if refused:
                self._dead_lettered.add(refused, attrs)
        for item in items:
            self._log_event(item, len(items))

    def _log_event(self, item: _Item, batch_size: int) -> None:
        """The one log line of an event: where it was, what it was, what became of it.

        Ids, types, codes and numbers only: never the payload, a pseudonym or free text.
        It is written in the context of the event's consumer span, so it carries its ids.
        """
        record = item.record
        fields: dict[str, object] = {
            "zicht.consumer": item.subscription.name,
            "zicht.topic": record.topic,
            "zicht.partition": record.partition,
            "zicht.offset": record.offset,
            "zicht.result": item.result,
        }
        level = logging.INFO
        if item.payload is not None:
            fields["zicht.event_id"] = item.item_id
            fields.update(item.attributes)
            fields["zicht.duration_ms"] = round(item.duration_s * 1000, 3)
            fields["zicht.batch_size"] = batch_size
        if item.result == "dead_lettered" and item.refusal is not None:
            level = logging.WARNING
            fields["zicht.error_type"] = type(item.refusal).__name__
        span = NonRecordingSpan(item.span.get_span_context())
        with trace.use_span(span, end_on_exit=False):
            log.log(level, "event %s", item.result, extra=fields)

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

    async def _pause_before_retry(self, exc: BaseException) -> None:
        self._failures += 1
        pause = min(self._backoff_initial_s * 2 ** (self._failures - 1), self._backoff_max_s)
        self._retries.add(1, self._attrs)
        log.warning(
            "batch rewound after a fault; it will be redelivered",
            extra={
                "zicht.consumer": self.group,
                "zicht.error_type": type(exc).__name__,
                "zicht.retry_in_s": pause,
            },
        )
        await asyncio.sleep(pause)


def _by_subscription(items: list[_Item]) -> list[tuple[Subscription, list[_Item]]]:
    """The records each handler gets: its fresh ones, in batch order, topics as they came."""
    groups: dict[str, tuple[Subscription, list[_Item]]] = {}
    for item in items:
        if item.result == "processed":
            groups.setdefault(item.record.topic, (item.subscription, []))[1].append(item)
    return list(groups.values())


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientError) or is_transient_db_error(exc)


_MAX_REASON = 2000


def _reason(exc: BaseException) -> str:
    """A reason fit for a dead-letter record: the error's message, bounded in length."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
