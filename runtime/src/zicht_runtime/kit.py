"""The composition every service shares: telemetry, pool, migrations, broker, outbox relay.

A service gives its settings, its migrations and its consumers; the kit starts them in
order, stops them in reverse, and answers readiness. No service copies this wiring.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace.export import SpanExporter
from pydantic import BaseModel

from zicht_runtime.auth import KeyStore
from zicht_runtime.consumer import BatchHandler, BatchProcessor, RecordBatchHandler, Subscription
from zicht_runtime.db import create_pool
from zicht_runtime.guard import BodyLimit, RequestGuard
from zicht_runtime.health import ReadinessCheck, health_router, metrics_router
from zicht_runtime.kafka import (
    AiokafkaSender,
    FetchPace,
    adopt_committed_offsets,
    broker_cluster_id,
    create_broker,
    ensure_topics,
    subscribe_batch,
)
from zicht_runtime.migrations import RUNTIME_MIGRATIONS, apply_migrations
from zicht_runtime.ops import Counts, ops_router
from zicht_runtime.outbox import OutboxRelay, follow_broker_cluster
from zicht_runtime.problems import install_problem_handlers
from zicht_runtime.retention import Purge, kit_purges, run_purges
from zicht_runtime.settings import ServiceSettings
from zicht_runtime.telemetry import Telemetry, setup_telemetry
from zicht_schemas import dead_letter_topic, source_urn

__all__ = ["ConsumerSpec", "RecordConsumerSpec", "ServiceKit", "create_service_app"]

log = logging.getLogger(__name__)

BackgroundLoop = Callable[[asyncpg.Pool, asyncio.Event], Coroutine[Any, Any, None]]
"""A loop the kit runs beside the consumers until the service stops (given the pool)."""


@dataclass(frozen=True)
class ConsumerSpec:
    """One topic of CloudEvents a service reads, and the batch handler of its events.

    The handler gets the fresh events of the topic in each batch at once (wrap a handler of
    one event in :func:`zicht_runtime.consumer.each`).
    """

    topic: str
    model: type[BaseModel]
    handler: BatchHandler[Any]


@dataclass(frozen=True)
class RecordConsumerSpec:
    """A topic of raw records (a partner's own format, no CloudEvents), and its batch handler."""

    topic: str
    handler: RecordBatchHandler


@dataclass
class ServiceKit:
    """Everything a running service holds; built from settings, started in a lifespan."""

    settings: ServiceSettings
    migrations: Path | None = None
    consumers: Sequence[ConsumerSpec] = ()
    record_consumers: Sequence[RecordConsumerSpec] = ()
    produces: Sequence[str] = ()
    compacted: Sequence[str] = ()
    span_exporters: Sequence[SpanExporter] = ()
    global_telemetry: bool = True
    background: Sequence[BackgroundLoop] = ()
    """Loops the service runs beside its consumers (e.g. a daily re-evaluation); each gets
    the pool and an event that is set when the service stops."""
    purges: Mapping[str, Purge] = field(default_factory=dict)
    """The service's own purges of what is past its retention, run with the kit's (outbox,
    inbox, dead letters) every ``purge_interval_s`` (see :mod:`zicht_runtime.retention`)."""
    counts: Counts | None = None
    """The service's business counts for ``GET /v1/ops/flow`` (see :mod:`zicht_runtime.ops`)."""
    telemetry: Telemetry = field(init=False)
    broker: KafkaBroker = field(init=False)
    pool: asyncpg.Pool = field(init=False)
    relay: OutboxRelay = field(init=False)
    processors: list[BatchProcessor] = field(init=False, default_factory=list)
    paces: list[FetchPace] = field(init=False, default_factory=list)
    """Each subscriber's fetch wait: short while records flow, long when idle."""
    _sender: AiokafkaSender = field(init=False)
    _stop: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _keys: KeyStore | None = field(init=False, default=None)
    _relay_task: asyncio.Task[None] | None = field(init=False, default=None)
    _background_tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)
    _pace_tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.telemetry = setup_telemetry(
            self.settings.service_name,
            span_exporters=self.span_exporters,
            otlp=bool(self.settings.otel_exporter_otlp_endpoint),
            set_global=self.global_telemetry,
        )
        self.broker = create_broker(self.settings, self.telemetry)

    def keys(self) -> KeyStore:
        """The service's one API-key store (its verified keys are cached for every request)."""
        if self._keys is None or self._keys.pool is not self.pool:
            self._keys = KeyStore(self.pool)
        return self._keys

    @property
    def source(self) -> str:
        """The CloudEvents `source` of everything this service publishes."""
        return source_urn(self.settings.oin, self.settings.service_name)

    @property
    def group(self) -> str:
        """The service's consumer group: one over all the topics it reads.

        One group means one consumer per instance, polling once for all its topics, so the
        fetch wait can be short without keeping the cores busy; instances of the service
        share the topics' partitions in it.
        """
        return self.settings.kafka_consumer_group or f"zicht-{self.settings.service_name}"

    def subscription_name(self, topic: str) -> str:
        """A topic's subscription in the inbox and the dead-letter records: ``<group>.<topic>``.

        It is also the consumer group that read the topic before the service read all its
        topics with one group, so events processed then are still known to the inbox.
        """
        return f"{self.group}.{topic}"

    async def start(self) -> None:
        """Open the pool, migrate, create topics, subscribe, and start the relay."""
        settings = self.settings
        self.pool = await create_pool(
            settings.database_url,
            settings.db_schema,
            min_size=settings.database_pool_min,
            max_size=settings.database_pool_max,
        )
        sets = [RUNTIME_MIGRATIONS]
        if self.migrations is not None:
            sets.append((settings.service_name, self.migrations))
        async with self.pool.acquire() as conn:
            applied = await apply_migrations(conn, settings.db_schema, sets)
        if applied:
            log.info("migrations applied", extra={"zicht.migrations": applied})
        consumed = [spec.topic for spec in self.consumers]
        consumed += [spec.topic for spec in self.record_consumers]
        topics = [*self.produces, *consumed, *(dead_letter_topic(t) for t in consumed)]
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            topics,
            partitions=settings.kafka_topic_partitions,
            compacted=self.compacted,
        )
        cluster = await broker_cluster_id(settings.kafka_bootstrap_servers)
        async with self.pool.acquire() as conn:
            again = await follow_broker_cluster(conn, cluster)
        if again:
            log.warning(
                "the broker is not the cluster this service published to (a broker started "
                "afresh keeps nothing); its outbox is published again",
                extra={"zicht.cluster_id": cluster, "zicht.republished": again},
            )
        subscriptions = [
            Subscription(spec.topic, spec.handler, spec.model, self.subscription_name(spec.topic))
            for spec in self.consumers
        ] + [
            Subscription(spec.topic, spec.handler, None, self.subscription_name(spec.topic))
            for spec in self.record_consumers
        ]
        if subscriptions:
            await adopt_committed_offsets(
                settings.kafka_bootstrap_servers,
                self.group,
                {s.topic: s.name for s in subscriptions},
            )
            processor = BatchProcessor(
                group=self.group,
                subscriptions=subscriptions,
                pool=self.pool,
                telemetry=self.telemetry,
                source=self.source,
                service=settings.service_name,
                backoff_initial_s=settings.retry_backoff_initial_s,
                backoff_max_s=settings.retry_backoff_max_s,
                log_id=cluster,
            )
            self.paces.append(subscribe_batch(self.broker, processor, settings))
            self.processors.append(processor)
        self._sender = AiokafkaSender(settings)
        await self._sender.start()
        self.relay = OutboxRelay(
            self.pool,
            self._sender,
            schema=settings.db_schema,
            batch_size=settings.outbox_batch,
            poll_interval_s=settings.outbox_poll_interval_s,
            backoff_initial_s=settings.retry_backoff_initial_s,
            backoff_max_s=settings.retry_backoff_max_s,
            tracer=self.telemetry.tracer("zicht.outbox"),
            meter=self.telemetry.meter("zicht.outbox"),
        )
        self._stop.clear()
        self._relay_task = asyncio.create_task(self.relay.run(self._stop), name="outbox-relay")
        await _start_subscribers_together(self.broker)
        loops = list(self.background)
        if settings.purge_interval_s > 0:
            purges = {**kit_purges(settings), **self.purges}

            async def purge(pool: asyncpg.Pool) -> None:
                await run_purges(pool, purges, datetime.now(UTC))

            loops.append(
                periodic("purging what is past its retention", purge, settings.purge_interval_s)
            )
        self._background_tasks = [
            asyncio.create_task(
                _supervised(loop, self.pool, self._stop, name=_loop_name(loop, n)),
                name=f"background-{_loop_name(loop, n)}",
            )
            for n, loop in enumerate(loops)
        ]
        self._pace_tasks = [
            asyncio.create_task(pace.run(self._stop), name="fetch-pace") for pace in self.paces
        ]

    async def stop(self) -> None:
        """Stop consuming, let the relay finish its round, close everything.

        Each step runs even when an earlier one fails; failures are logged, not hidden.
        """
        await _step("stop broker", self.broker.stop())
        self._stop.set()
        if self._relay_task is not None:
            await _step("stop outbox relay", asyncio.wait_for(self._relay_task, timeout=10))
        for task in [*self._background_tasks, *self._pace_tasks]:
            await _step(f"stop {task.get_name()}", asyncio.wait_for(task, timeout=10))
        if hasattr(self, "_sender"):
            await _step("stop outbox producer", self._sender.stop())
        if hasattr(self, "pool"):
            await _step("close database pool", self.pool.close())
        self.telemetry.shutdown()

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        """What `/readyz` asks: the database answers, the broker answers, the relay runs."""

        async def database() -> bool:
            async with self.pool.acquire(timeout=2) as conn:
                return bool(await conn.fetchval("SELECT true"))

        async def broker() -> bool:
            return bool(await self.broker.ping(timeout=2))

        async def relay() -> bool:
            return self._relay_task is not None and not self._relay_task.done()

        async def background() -> bool:
            return all(not task.done() for task in self._background_tasks)

        checks: dict[str, ReadinessCheck] = {
            "database": database,
            "broker": broker,
            "outbox_relay": relay,
        }
        if self.background:
            checks["background"] = background
        return checks


def create_service_app(
    kit: ServiceKit,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    on_started: Callable[[], Awaitable[None]] | None = None,
    body_limit: BodyLimit | None = None,
    **app_options: Any,
) -> FastAPI:
    """The service's FastAPI app: its routers, health, telemetry, and the kit's lifespan.

    ``body_limit`` gives the routes' own (lower) body limits, so a body over one is refused
    naming that limit before it is read.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await kit.start()
        try:
            if on_started is not None:
                await on_started()
            yield
        finally:
            await kit.stop()

    if not kit.settings.api_docs:
        # Swagger UI and ReDoc load from a CDN: off unless asked (ZICHT_API_DOCS=true).
        app_options = {"docs_url": None, "redoc_url": None, **app_options}
    app = FastAPI(title=title, lifespan=lifespan, **app_options)
    install_problem_handlers(app)
    app.add_middleware(
        RequestGuard, max_body_bytes=kit.settings.max_request_bytes, body_limit=body_limit
    )
    for router in routers:
        app.include_router(router)
    app.include_router(health_router(kit.readiness_checks()))
    app.include_router(
        ops_router(kit.settings.service_name, lambda: kit.pool, kit.keys, kit.counts)
    )
    app.include_router(metrics_router())
    # One server span per request: not also a span per ASGI receive and send.
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=kit.telemetry.tracer_provider, exclude_spans=["receive", "send"]
    )
    return app


SUPERVISOR_BACKOFF_MAX_S = 30.0


def periodic(
    what: str, work: Callable[[asyncpg.Pool], Awaitable[object]], interval_s: float
) -> BackgroundLoop:
    """A background loop that does ``work`` at start, then every ``interval_s`` seconds.

    A database or network fault is logged and the work is tried again at the next interval;
    ``what`` names the work in the log and in the loop's task name.
    """

    async def loop(pool: asyncpg.Pool, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await work(pool)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("%s failed; trying again later", what)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    loop.__qualname__ = what
    return loop


def _loop_name(loop: BackgroundLoop, n: int) -> str:
    qualname = getattr(loop, "__qualname__", "")
    # A closure made by ``delivery_loop(...)`` is called ``delivery_loop.<locals>.loop``.
    return qualname.split(".<locals>", 1)[0] if qualname else str(n)


async def _start_subscribers_together(broker: KafkaBroker) -> None:
    """Start the broker with every subscription joining its consumer group at the same time.

    FastStream's ``start`` starts the subscribers one after the other, and aiokafka's consumer
    start waits until its group has assigned it partitions: about half a session timeout per
    subscription on the local broker, so a service with five subscriptions took 15 s to be
    ready. This does what ``KafkaBroker.start`` does (connect, start the subscribers, then the
    publishers, mark it running), with the subscribers started together.
    """
    await broker.connect()
    await asyncio.gather(*(subscriber.start() for subscriber in broker.subscribers))
    for publisher in broker.publishers:
        await publisher.start()
    broker.running = True


async def _supervised(
    loop: BackgroundLoop, pool: asyncpg.Pool, stop: asyncio.Event, *, name: str
) -> None:
    """Run a background loop until the service stops; start it again if it dies before.

    A loop is meant to handle its own faults. One that raises anyway (or returns early) is
    logged with what it raised and started again after a growing pause, so a fault nobody
    foresaw costs a few seconds of work instead of the rest of the process's life.
    """
    pause = 0.5
    while not stop.is_set():
        try:
            await loop(pool, stop)
        except Exception:
            log.exception("background loop %s died; starting it again in %.1fs", name, pause)
        else:
            if stop.is_set():
                return
            log.error("background loop %s returned early; starting it again in %.1fs", name, pause)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=pause)
        pause = min(pause * 2, SUPERVISOR_BACKOFF_MAX_S)


async def _step(what: str, awaitable: Awaitable[Any]) -> None:
    """Run one shutdown step; log its failure and go on with the next."""
    try:
        await awaitable
    except Exception:
        log.exception("shutdown step failed: %s", what)
