"""A broker that is not the cluster the outbox was published to gets the outbox again."""

from __future__ import annotations

import asyncpg
import pytest

from kit.helpers import provider_event
from zicht_runtime.consumer import RawRecord
from zicht_runtime.outbox import event_message, follow_broker_cluster, write_outbox

pytestmark = pytest.mark.connected


async def _sent(pool: asyncpg.Pool, count: int) -> None:
    async with pool.acquire() as conn:
        await write_outbox(conn, [event_message(provider_event(n)) for n in range(count)])
        await conn.execute("UPDATE outbox SET sent_at = now() WHERE id <= $1", count - 1)


async def test_a_new_cluster_has_the_whole_outbox_published_again_in_order(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        first = await follow_broker_cluster(conn, "zicht-local-aaaa")
    await _sent(pool, 4)  # three sent, one still waiting
    async with pool.acquire() as conn:
        same = await follow_broker_cluster(conn, "zicht-local-aaaa")
        unsent_same = await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        other = await follow_broker_cluster(conn, "zicht-local-bbbb")
        unsent = await conn.fetch("SELECT id FROM outbox WHERE sent_at IS NULL ORDER BY id")
        again = await follow_broker_cluster(conn, "zicht-local-bbbb")

    assert first == 0, "the first start only records the cluster"
    assert (same, unsent_same) == (0, 1), "the same cluster publishes nothing again"
    assert other == 3, "the three sent events go out again"
    assert [r["id"] for r in unsent] == [1, 2, 3, 4], "every event, in its order"
    assert again == 0


async def test_a_broker_that_names_no_cluster_changes_nothing(pool: asyncpg.Pool) -> None:
    await _sent(pool, 2)
    async with pool.acquire() as conn:
        again = await follow_broker_cluster(conn, "")
        known = await conn.fetchval("SELECT count(*) FROM broker_cluster")

    assert (again, known) == (0, 0)


def test_a_records_place_names_the_log_it_is_in() -> None:
    def at(log_id: str) -> str:
        record = RawRecord("partner.igj.v1", 0, 7, None, b"{}", (), 0, log_id=log_id)
        return record.record_id

    # Offset 7 of a broker started afresh is another record than offset 7 of the old one.
    assert at("zicht-local-aaaa") != at("zicht-local-bbbb")
    assert at("") == "partner.igj.v1/0/7"
