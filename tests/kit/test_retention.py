"""The kit's purges: published outbox rows, the inbox and dead letters go after their period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from kit.helpers import provider_event
from zicht_runtime.outbox import event_message, write_outbox
from zicht_runtime.retention import kit_purges, run_purges
from zicht_runtime.settings import ServiceSettings

pytestmark = pytest.mark.connected

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


async def test_what_is_past_its_period_goes_and_an_unsent_event_never_does(
    pool: asyncpg.Pool,
) -> None:
    settings = ServiceSettings(service_name="kit-test")  # 7, 30 and 90 days by default
    async with pool.acquire() as conn:
        await write_outbox(conn, [event_message(provider_event(n)) for n in range(4)])
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM outbox ORDER BY id")]
        # Sent 8 days ago, sent 6 days ago, never sent (written 100 days ago), never sent.
        await conn.execute(
            "UPDATE outbox SET sent_at = $2 WHERE id = $1", ids[0], NOW - timedelta(days=8)
        )
        await conn.execute(
            "UPDATE outbox SET sent_at = $2 WHERE id = $1", ids[1], NOW - timedelta(days=6)
        )
        await conn.execute(
            "UPDATE outbox SET created_at = $2 WHERE id = $1", ids[2], NOW - timedelta(days=100)
        )
        await conn.executemany(
            "INSERT INTO inbox (consumer, event_id, topic, processed_at) VALUES ('c', $1, 't', $2)",
            [("old", NOW - timedelta(days=31)), ("recent", NOW - timedelta(days=29))],
        )
        await conn.executemany(
            'INSERT INTO dead_letters (topic, partition, "offset", consumer, error_type, reason, '
            "dead_lettered_at) VALUES ('t', 0, $1, 'c', 'E', 'why', $2)",
            [(1, NOW - timedelta(days=91)), (2, NOW - timedelta(days=89))],
        )  # fmt: skip

    removed = await run_purges(pool, dict(kit_purges(settings)), NOW)

    async with pool.acquire() as conn:
        outbox = [r["id"] for r in await conn.fetch("SELECT id FROM outbox ORDER BY id")]
        inbox = [r["event_id"] for r in await conn.fetch("SELECT event_id FROM inbox")]
        dead = [r["offset"] for r in await conn.fetch('SELECT "offset" FROM dead_letters')]
    assert removed == {"outbox": 1, "inbox": 1, "dead_letters": 1}
    assert outbox == ids[1:], "the published row past 7 days goes; unsent ones stay, however old"
    assert inbox == ["recent"]
    assert dead == [2]
