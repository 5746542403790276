"""What a broker started afresh costs: the outbox published again, at the relay's pace.

``make run``'s local broker keeps its data in memory: after a stop it starts with an empty
log and a new cluster id, and each service publishes every event its outbox still holds
again (``zicht_runtime.outbox.follow_broker_cluster``), so nothing published before the stop
is lost. This measures that cost on one service's schema: ``events`` sent outbox rows of the
size of a signal event, marked unsent by the new cluster id (one UPDATE), then published by
the kit's own relay and sender to the fresh broker, until the backlog is 0. The consumers'
side (each copy turned away by an inbox) costs what any redelivery costs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.common import Result, say, scratch_dir
from bench.infra import Infra
from zicht_runtime.db import create_pool
from zicht_runtime.kafka import AiokafkaSender, broker_cluster_id
from zicht_runtime.migrations import RUNTIME_MIGRATIONS, apply_migrations
from zicht_runtime.outbox import OutboxRelay, follow_broker_cluster, outbox_backlog
from zicht_runtime.settings import ServiceSettings

__all__ = ["run"]

_SCHEMA = "bench"
_TOPIC = "bench.republished.v1"
_VALUE_BYTES = 1_400  # about a signal-received event


async def _republish(infra: Infra, events: int) -> dict[str, Any]:
    url = await infra.database()
    pool = await create_pool(url, _SCHEMA, min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, _SCHEMA, [RUNTIME_MIGRATIONS])
            await conn.execute(
                """
                INSERT INTO outbox (event_id, topic, key, value, headers, sent_at)
                SELECT 'bench-' || g, $1, ('p-' || g % 300)::bytea, convert_to(repeat('x', $2),
                       'UTF8'), '[]'::jsonb, now()
                FROM generate_series(1, $3::int) g
                """,
                _TOPIC,
                _VALUE_BYTES,
                events,
            )
            await follow_broker_cluster(conn, "the-broker-before")
            cluster = await broker_cluster_id(infra.bootstrap)
            began = time.perf_counter()
            again = await follow_broker_cluster(conn, cluster)
            marked_s = time.perf_counter() - began
        settings = ServiceSettings(
            service_name="bench", kafka_bootstrap_servers=infra.bootstrap, database_url=url
        )
        sender = AiokafkaSender(settings)
        await sender.start()
        stop = asyncio.Event()
        relay = OutboxRelay(pool, sender, schema=_SCHEMA, batch_size=settings.outbox_batch)
        began = time.perf_counter()
        task = asyncio.create_task(relay.run(stop))
        while True:
            async with pool.acquire() as conn:
                if await outbox_backlog(conn) == 0:
                    break
            await asyncio.sleep(0.05)
        published_s = time.perf_counter() - began
        stop.set()
        await task
        await sender.stop()
    finally:
        await pool.close()
    return {"events": again, "marked_s": marked_s, "published_s": published_s}


async def run(*, quick: bool) -> Result:
    """Measure the republishing of an outbox to a broker started afresh."""
    events = 5_000 if quick else 50_000
    with scratch_dir("restart") as workdir, Infra(workdir) as infra:
        say(f"restart: {events:,} sent outbox rows, then a broker with a new cluster id")
        figures = await _republish(infra, events)
        versions = infra.versions()
    result = Result("restart", "Restart: the outbox published again to a broker started afresh")
    result.add(
        "republished events per second",
        figures["events"] / figures["published_s"],
        "events/s",
        note=f"{figures['events']:,} events of {_VALUE_BYTES:,} bytes, the kit's relay",
    )
    result.add(
        "time to publish them all",
        figures["published_s"],
        "s",
        note="from the relay's start to an empty backlog",
    )
    result.add(
        "marking them unsent",
        figures["marked_s"] * 1000,
        "ms",
        note="one UPDATE when the cluster id changed",
    )
    result.settings = {
        "events": events,
        "event size (bytes)": _VALUE_BYTES,
        "how": "follow_broker_cluster then OutboxRelay + AiokafkaSender, as a service starts",
        "postgres": versions[0],
        "broker": versions[1],
    }
    result.details = figures
    return result
