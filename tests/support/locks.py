"""Waiting, in a concurrency test, until a second writer is held back by a lock (or is not)."""

from __future__ import annotations

import asyncio

import asyncpg

__all__ = ["blocked_or_done"]


async def blocked_or_done(
    pool: asyncpg.Pool, pid: int, task: asyncio.Task[None], *, within: float = 5.0
) -> bool:
    """Wait until ``task`` is done or the server process ``pid`` waits on a lock.

    Returns True when it waits on a lock: the writer is held back, as it must be. False when
    the task finished (nothing held it back) or neither happened within ``within`` seconds.
    """
    for _ in range(int(within / 0.05)):
        if task.done():
            return False
        waiting = await pool.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        )
        if waiting:
            return True
        await asyncio.sleep(0.05)
    return False
