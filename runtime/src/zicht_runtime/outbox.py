"""The transactional outbox: events are stored with the state change, then relayed to Kafka.

The relay also measures the outbox for operators: ``zicht.outbox.backlog`` (rows not yet
published) and ``zicht.outbox.oldest_age`` (seconds the oldest of them has waited). The
gauges' callbacks are synchronous, so the relay runs one cheap query every few seconds and
the gauges report its last answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from aiokafka.errors import KafkaError
from asyncpg.pool import PoolConnectionProxy
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind

from zicht_runtime.db import DbConnection, is_transient_db_error
from zicht_runtime.telemetry import context_headers, extract_context, messaging_attributes
from zicht_schemas import CloudEvent, to_kafka_record

__all__ = [
    "OutboxMessage",
    "OutboxRelay",
    "RecordSender",
    "event_message",
    "follow_broker_cluster",
    "outbox_backlog",
    "outbox_state",
    "write_events",
    "write_outbox",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxMessage:
    """A Kafka record waiting in the outbox."""

    event_id: str
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


async def write_outbox(conn: DbConnection, messages: Iterable[OutboxMessage]) -> int:
    """Store records to publish, inside the caller's transaction; return how many were new.

    The current trace context travels with each record. A record whose event id is already
    in the outbox is left as it is, so a retried transaction cannot publish twice.
    """
    trace_headers = context_headers()  # the relay continues this trace
    rows = []
    for message in messages:
        names = {name for name, _ in message.headers}
        headers = list(message.headers) + [h for h in trace_headers if h[0] not in names]
        rows.append(
            (
                message.event_id,
                message.topic,
                message.key,
                message.value,
                # As JSON text: asyncpg would read a list of lists as a 2-D array.
                json.dumps([[name, value.decode("latin-1")] for name, value in headers]),
            )
        )
    if not rows:
        return 0
    keys = sorted({r[2] for r in rows if r[2] is not None})
    if keys:
        await _lock_keys(conn, keys)
    inserted = await conn.fetch(
        """
        INSERT INTO outbox (event_id, topic, key, value, headers)
        SELECT e, t, k, v, h::jsonb
        FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::text[])
            AS u(e, t, k, v, h)
        ON CONFLICT (event_id) DO NOTHING
        RETURNING id
        """,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
    )
    return len(inserted)


async def _lock_keys(conn: DbConnection, keys: Sequence[bytes]) -> None:
    """Hold each key's outbox lock until the caller's transaction ends.

    Without it, ids are not commit order: two transactions writing for one key take ids 10
    and 11, the second commits first, and the relay publishes 11 before 10 is visible; a
    republish (a relay that crashed before marking, a broker started afresh) sends them in id
    order, so the key's events would reach Kafka in two different orders. Under the lock a
    second writer for the key takes its id only after the first has committed or rolled back,
    so per key the id order, the commit order and the order on Kafka are one. The locks are
    taken in one statement in hash order, so two batch writers cannot deadlock on them; the
    lock space is the schema's, so services sharing a database do not wait for each other.
    """
    await conn.execute(
        """
        SELECT pg_advisory_xact_lock(hashtext(current_schema()), h)
        FROM (
            SELECT DISTINCT hashtext(encode(k, 'hex')) AS h FROM unnest($1::bytea[]) AS u(k)
            ORDER BY h
        ) AS ordered
        """,
        list(keys),
    )


def event_message(event: CloudEvent[Any]) -> OutboxMessage:
    """The outbox record of a CloudEvent: its topic, key, data and ``ce_*`` headers."""
    record = to_kafka_record(event)
    return OutboxMessage(event.id, record.topic, record.key, record.value, record.headers)


async def write_events(conn: DbConnection, *events: CloudEvent[Any]) -> int:
    """Store CloudEvents to publish, inside the caller's transaction (see write_outbox)."""
    return await write_outbox(conn, [event_message(event) for event in events])


async def outbox_backlog(conn: DbConnection) -> int:
    """How many records wait in the outbox."""
    value = await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    return int(value)


async def outbox_state(conn: DbConnection) -> tuple[int, float]:
    """How many records wait in the outbox, and how long the oldest has waited (seconds).

    One query over the partial index of unsent rows: cheap while the relay keeps up.
    """
    row = await conn.fetchrow(
        "SELECT count(*) AS backlog, "
        "coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) AS age "
        "FROM outbox WHERE sent_at IS NULL"
    )
    if row is None:  # pragma: no cover - an aggregate always answers one row
        return 0, 0.0
    return int(row["backlog"]), max(float(row["age"]), 0.0)


async def follow_broker_cluster(conn: DbConnection, cluster_id: str) -> int:
    """Publish the outbox again when the broker is not the cluster it was published to.

    A local broker started afresh (``make run`` after a stop) has an empty log and a new
    cluster id: what was published to the old one but not yet consumed would be lost, and
    the compacted topics would be empty. So every event the outbox still holds is marked
    unsent, and the relay publishes them again, in their order, before anything new. The
    consumers' inboxes make copies of events they had already processed no-ops. The first
    start only records the cluster. Returns how many events go out again.
    """
    if not cluster_id:
        return 0  # a broker that does not say which cluster it is: nothing to compare
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO broker_cluster (cluster_id) VALUES ($1) ON CONFLICT DO NOTHING",
            cluster_id,
        )
        known = await conn.fetchval("SELECT cluster_id FROM broker_cluster FOR UPDATE")
        if known == cluster_id:
            return 0
        status = await conn.execute("UPDATE outbox SET sent_at = NULL WHERE sent_at IS NOT NULL")
        await conn.execute("UPDATE broker_cluster SET cluster_id = $1, since = now()", cluster_id)
    return int(status.split()[-1])


class RecordSender(Protocol):
    """Publishes a batch of records and returns once the broker has them all."""

    async def send_batch(self, records: Sequence[OutboxMessage]) -> None:
        """Publish every record; raise if any was not acknowledged by the broker."""


class OutboxRelay:
    """Publishes the outbox in id order and marks rows sent.

    One relay publishes a schema's outbox at a time (an advisory lock), so records of one
    key keep their order. A crash after publishing and before marking re-publishes on the
    next round: at-least-once, made exactly-once in effect by the consumers' inbox.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        sender: RecordSender,
        *,
        schema: str,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
        tracer: trace.Tracer | None = None,
        meter: metrics.Meter | None = None,
        measure_interval_s: float = 5.0,
    ) -> None:
        self._pool = pool
        self._sender = sender
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._wake = asyncio.Event()
        self._tracer = tracer or trace.get_tracer("zicht.outbox")
        self.published = 0
        self._measure_interval_s = measure_interval_s
        self._measured_at = float("-inf")
        self.backlog: int | None = None
        """Rows waiting at the last measurement (None: not measured yet)."""
        self.oldest_age_s: float | None = None
        """Seconds the oldest waiting row had waited at the last measurement."""
        if meter is not None:
            # One relay per process: these gauges are created once.
            meter.create_observable_gauge(
                "zicht.outbox.backlog",
                callbacks=[self._observe_backlog],
                unit="{record}",
                description="Outbox rows not yet published (measured every few seconds).",
            )
            meter.create_observable_gauge(
                "zicht.outbox.oldest_age",
                callbacks=[self._observe_oldest_age],
                unit="s",
                description="How long the oldest unpublished outbox row has waited.",
            )

    @property
    def channel(self) -> str:
        """The NOTIFY channel the outbox trigger signals."""
        return f"zicht_outbox_{self._schema}"

    def wake(self, *_: Any) -> None:
        """Start the next round now (a listener callback, or a test)."""
        self._wake.set()

    async def measure(self) -> None:
        """Measure the backlog and the oldest row's age for the gauges (one query)."""
        async with self._pool.acquire() as conn:
            self.backlog, self.oldest_age_s = await outbox_state(conn)
        self._measured_at = time.monotonic()

    def _observe_backlog(self, _options: CallbackOptions) -> Iterator[Observation]:
        if self.backlog is not None:
            yield Observation(self.backlog)

    def _observe_oldest_age(self, _options: CallbackOptions) -> Iterator[Observation]:
        if self.oldest_age_s is not None:
            yield Observation(self.oldest_age_s)

    async def relay_once(self) -> int:
        """Publish one batch of unsent records; return how many were published."""
        async with self._pool.acquire() as conn, conn.transaction():
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext($1))", f"outbox:{self._schema}"
            )
            if not locked:
                return 0
            rows = await conn.fetch(
                "SELECT id, event_id, topic, key, value, headers FROM outbox "
                "WHERE sent_at IS NULL ORDER BY id LIMIT $1",
                self._batch_size,
            )
            if not rows:
                return 0
            messages = [
                OutboxMessage(
                    event_id=row["event_id"],
                    topic=row["topic"],
                    key=bytes(row["key"]) if row["key"] is not None else None,
                    value=bytes(row["value"]),
                    headers=tuple((n, v.encode("latin-1")) for n, v in row["headers"]),
                )
                for row in rows
            ]
            await self._publish(messages)
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])",
                [row["id"] for row in rows],
            )
        self.published += len(messages)
        return len(messages)

    async def _publish(self, messages: list[OutboxMessage]) -> None:
        """Send with a producer span per record, each a child of the trace that wrote it."""
        traced: list[OutboxMessage] = []
        spans = []
        for message in messages:
            span = self._tracer.start_span(
                f"{message.topic} publish",
                context=extract_context(message.headers),
                kind=SpanKind.PRODUCER,
                attributes=messaging_attributes(message.topic, "publish", message.event_id),
            )
            spans.append(span)
            # The consumer's parent is this producer span: its context replaces the writer's.
            produced = context_headers(trace.set_span_in_context(span))
            replaced = {name for name, _ in produced}
            kept = [(n, v) for n, v in message.headers if n not in replaced]
            headers = tuple(kept + produced)
            traced.append(
                OutboxMessage(message.event_id, message.topic, message.key, message.value, headers)
            )
        try:
            await self._sender.send_batch(traced)
        except BaseException as exc:
            for span in spans:
                span.record_exception(exc)
                span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
                span.end()
            raise
        for span in spans:
            span.end()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set: at once on NOTIFY, else every poll interval.

        Faults never end the relay: it logs them and tries again with growing pauses, so
        rows wait in the outbox (visible as backlog) rather than being lost.
        """
        backoff = self._backoff_initial_s
        listener: PoolConnectionProxy[asyncpg.Record] | None = None
        try:
            while not stop.is_set():
                # Measured also while publishing fails: that is when the backlog grows.
                if time.monotonic() - self._measured_at >= self._measure_interval_s:
                    with contextlib.suppress(*_CLOSE_ERRORS):  # the database may be down
                        await self.measure()
                try:
                    if listener is None:
                        listener = await self._listen()
                    # Cleared before the round: a NOTIFY during the round starts another.
                    self._wake.clear()
                    while await self.relay_once() >= self._batch_size:
                        pass
                    backoff = self._backoff_initial_s
                except Exception as exc:
                    if is_transient_db_error(exc) or _is_broker_error(exc):
                        log.warning(
                            "outbox relay: transient fault, retrying",
                            extra={"zicht.error_type": type(exc).__name__},
                        )
                    else:
                        log.exception("outbox relay: unexpected fault, retrying")
                    await self._unlisten(listener)
                    listener = None
                    await _wait(stop, backoff)
                    backoff = min(backoff * 2, self._backoff_max_s)
                    continue
                await _wait_any(stop, self._wake, self._poll_interval_s)
        finally:
            await self._unlisten(listener)

    async def _listen(self) -> PoolConnectionProxy[asyncpg.Record]:
        conn = await self._pool.acquire()
        await conn.add_listener(self.channel, self.wake)
        return conn

    async def _unlisten(self, conn: PoolConnectionProxy[asyncpg.Record] | None) -> None:
        """Give the listening connection back; never raise, since a fault called it.

        After the server went away mid-operation, asyncpg can refuse the UNLISTEN with an
        InternalClientError ("another operation is in progress"): the connection is then
        closed rather than handed back to the pool in that state. Raising here once ended the
        relay for good, and the service stayed unready.
        """
        if conn is None:
            return
        try:
            await conn.remove_listener(self.channel, self.wake)
        except _BROKEN_ERRORS as exc:
            log.debug("outbox relay: closing its listening connection after %r", exc)
            with contextlib.suppress(Exception):
                conn.terminate()
        with contextlib.suppress(*_BROKEN_ERRORS):
            await self._pool.release(conn, timeout=2)


_CLOSE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresError,
    TimeoutError,
)
# A connection left mid-operation by a server that went away.
_BROKEN_ERRORS: tuple[type[BaseException], ...] = (*_CLOSE_ERRORS, asyncpg.InternalClientError)


def _is_broker_error(exc: BaseException) -> bool:
    """Broker faults: the relay keeps the rows and tries again later."""
    return isinstance(exc, KafkaError | ConnectionError | TimeoutError)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
