"""Purging what is past its retention: the kit's tables, then each service's own.

Every period is a setting (``ZICHT_RETENTION_*``, see docs/operations.md). The purge runs in
each service as a background loop, every ``ZICHT_PURGE_INTERVAL_S``, in small batches so it
never holds a long lock; a service adds its own purges (intake's raw submissions and
processing log). Each purge takes ``now`` so a test can move the clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg

from zicht_runtime.db import DbConnection
from zicht_runtime.settings import ServiceSettings

__all__ = ["BATCH", "Purge", "delete_older", "kit_purges", "run_purges"]

log = logging.getLogger(__name__)

BATCH = 5_000
"""Rows per statement: each batch commits on its own, so no purge holds a long lock."""

Purge = Callable[[DbConnection, datetime], Awaitable[int]]
"""One purge: given ``now``, removes what is past its period; returns how many rows."""


async def delete_older(
    conn: DbConnection, table: str, column: str, before: datetime, *, where: str = "true"
) -> int:
    """Delete rows of ``table`` whose ``column`` is before ``before``, batch by batch."""
    removed = 0
    while True:
        status = await conn.execute(
            f'DELETE FROM "{table}" WHERE ctid = ANY(ARRAY('  # noqa: S608 - names from code
            f'SELECT ctid FROM "{table}" WHERE "{column}" < $1 AND ({where}) LIMIT {BATCH}))',
            before,
        )
        done = int(status.split()[-1])
        removed += done
        if done < BATCH:
            return removed


def kit_purges(settings: ServiceSettings) -> dict[str, Purge]:
    """The kit's own tables: published outbox rows, the inbox, dead-letter records."""

    def older(table: str, column: str, days: int, where: str = "true") -> Purge:
        async def purge(conn: DbConnection, now: datetime) -> int:
            return await delete_older(conn, table, column, now - timedelta(days=days), where=where)

        return purge

    return {
        # Never an unsent row: sent_at IS NULL is not before anything.
        "outbox": older("outbox", "sent_at", settings.retention_outbox_sent_days),
        "inbox": older("inbox", "processed_at", settings.retention_inbox_days),
        "dead_letters": older(
            "dead_letters", "dead_lettered_at", settings.retention_dead_letters_days
        ),
    }


async def run_purges(pool: asyncpg.Pool, purges: dict[str, Purge], now: datetime) -> dict[str, int]:
    """Run each purge on its own connection; the rows each removed (logged when any)."""
    removed: dict[str, int] = {}
    for name, purge in purges.items():
        async with pool.acquire() as conn:
            removed[name] = await purge(conn, now)
    if any(removed.values()):
        log.info("purged what is past its retention", extra={"zicht.purged": removed})
    return removed
