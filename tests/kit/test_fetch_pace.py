"""An idle consumer asks the broker seldom; its first record makes it brisk again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import pytest

from kit.helpers import SCHEMA, SOURCE, provider_event, wait_for
from kit.test_consumer import apply_effect, as_record, effects, publish
from zicht_devtools.devstack import create_topics
from zicht_runtime.consumer import BatchProcessor, Subscription, each
from zicht_runtime.kafka import FetchPace, create_broker, subscribe_batch
from zicht_runtime.settings import ServiceSettings
from zicht_runtime.telemetry import Telemetry
from zicht_schemas import ProviderRegisteredV1


class _Subscriber:
    """What FetchPace reads and sets of a FastStream subscriber."""

    def __init__(self) -> None:
        self.batch_timeout_ms = 10
        self.consumer: object | None = None


class _Consumer:
    def __init__(self, wait_ms: int = 10) -> None:
        self._fetcher = type("Fetcher", (), {"_fetch_max_wait_ms": wait_ms})()


def _idle(pace: FetchPace) -> bool:
    return pace.idle


def test_the_pace_goes_idle_after_its_quiet_period_and_brisk_on_records() -> None:
    subscriber = _Subscriber()
    pace = FetchPace(subscriber, busy_wait_ms=10, idle_wait_ms=250, idle_after_s=2.0)
    pace.check()
    assert not pace.idle, "not started: nothing to set"
    subscriber.consumer = _Consumer()
    start = 1_000.0
    pace._last_records = start
    pace.check(now=start + 1.9)
    assert not _idle(pace)
    assert pace.fetch_wait_ms() == 10
    pace.check(now=start + 2.0)
    assert _idle(pace)
    assert pace.fetch_wait_ms() == 250
    assert subscriber.batch_timeout_ms == 50, "an idle poll looks in the buffer 20 times a second"
    pace.records_arrived()
    assert not _idle(pace)
    assert (pace.fetch_wait_ms(), subscriber.batch_timeout_ms) == (10, 10)


def test_an_idle_wait_no_longer_than_the_busy_one_never_idles() -> None:
    subscriber = _Subscriber()
    subscriber.consumer = _Consumer(250)
    pace = FetchPace(subscriber, busy_wait_ms=250, idle_wait_ms=250, idle_after_s=2.0)
    pace.check(now=pace._last_records + 60)
    assert not pace.enabled
    assert not _idle(pace)
    assert pace.fetch_wait_ms() == 250


@pytest.mark.connected
async def test_an_idle_subscriber_of_the_real_broker_waits_long_and_a_record_makes_it_brisk(
    pool: asyncpg.Pool,
    telemetry: Telemetry,
    kafka_bootstrap: str,
    unique_topic: Callable[[str], str],
    unique_group: Callable[[str], str],
) -> None:
    topic, group = unique_topic("pace"), unique_group("pace")
    await create_topics(kafka_bootstrap, [topic], partitions=2)
    settings = ServiceSettings(
        service_name="kit-test",
        kafka_bootstrap_servers=kafka_bootstrap,
        database_schema=SCHEMA,
        kafka_fetch_max_wait_ms=10,
        kafka_idle_fetch_max_wait_ms=200,
        kafka_idle_after_ms=400,
    )
    processor = BatchProcessor(
        group=group,
        subscriptions=[Subscription(topic, each(apply_effect), ProviderRegisteredV1, name=group)],  # type: ignore[arg-type]
        pool=pool,
        telemetry=telemetry,
        source=SOURCE,
        service="kit-test",
    )
    broker = create_broker(settings, telemetry)
    pace = subscribe_batch(broker, processor, settings)
    stop = asyncio.Event()
    await broker.start()
    pacing = asyncio.create_task(pace.run(stop))
    try:

        async def idle() -> bool:
            return pace.idle

        await wait_for(idle, within=10, what="the subscriber to go idle")
        assert pace.fetch_wait_ms() == 200, "the aiokafka fetcher asks with the idle wait"
        event = provider_event(1)
        await publish(kafka_bootstrap, topic, [as_record(event)])

        async def applied() -> bool:
            return (await effects(pool)).get(event.id) == 1

        await wait_for(applied, within=10, what="the record to be handled")
        assert not _idle(pace)
        assert pace.fetch_wait_ms() == 10, "brisk again after its first record"
    finally:
        stop.set()
        await pacing
        await broker.stop()
