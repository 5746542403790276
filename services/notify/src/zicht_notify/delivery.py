"""The delivery loop: sends due alerts, woken at once when one is committed.

The loop outlives its database: when Postgres goes away (a restart, a failover, the network)
a round fails with whatever asyncpg raises at that moment (a connection error, or an
``InterfaceError`` from a transaction on a closed connection), the loop waits a little longer
each time, and it listens again on a fresh connection once the server is back. An alert that
was sent but could not be recorded is sent again under the same ``webhook-id``: delivery is
at least once, and receivers deduplicate by that id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
import httpx

from zicht_notify.service import NotifyService
from zicht_runtime.db import TRANSIENT_DB_ERRORS, is_transient_db_error

__all__ = ["delivery_loop"]

log = logging.getLogger(__name__)

BACKOFF_MAX_S = 5.0


class _Listener:
    """A ``LISTEN`` on the alerts channel that is taken up again after the connection died."""

    def __init__(self, pool: asyncpg.Pool, channel: str, wake: asyncio.Event) -> None:
        self._pool = pool
        self._channel = channel
        self._wake = wake
        self._conn: Any = None

    def _woken(self, *_: object) -> None:
        self._wake.set()

    async def ensure(self) -> None:
        """Listen, on a new connection when the old one is closed; quietly try later if not."""
        if self._conn is not None and not self._conn.is_closed():
            return
        await self.close()
        try:
            conn = await self._pool.acquire(timeout=5)
        except TRANSIENT_DB_ERRORS as exc:  # the database may be away; the poll still runs
            log.debug("cannot listen for new alerts yet: %s", exc)
            return
        try:
            await conn.add_listener(self._channel, self._woken)
        except TRANSIENT_DB_ERRORS as exc:
            log.debug("cannot listen for new alerts yet: %s", exc)
            await self._release(conn)
            return
        self._conn = conn
        # Alerts committed while nobody listened: look at once.
        self._wake.set()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.remove_listener(self._channel, self._woken)
        await self._release(conn)

    async def _release(self, conn: Any) -> None:
        # A dead connection goes back too, so the pool replaces it instead of running short.
        with contextlib.suppress(Exception):
            await self._pool.release(conn, timeout=5)


def delivery_loop(
    service: NotifyService, *, schema: str, concurrency: int, poll_interval_s: float
) -> Callable[[asyncpg.Pool, asyncio.Event], Coroutine[Any, Any, None]]:
    """A background loop for the kit: deliver until the service stops."""

    async def loop(pool: asyncpg.Pool, stop: asyncio.Event) -> None:
        wake = asyncio.Event()
        listener = _Listener(pool, f"zicht_alerts_{schema}", wake)
        limits = httpx.Limits(max_connections=concurrency * 2)
        backoff = poll_interval_s
        try:
            async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
                while not stop.is_set():
                    await listener.ensure()
                    wake.clear()
                    wait_s = poll_interval_s
                    try:
                        sent = await service.deliver_due(pool, client, concurrency)
                    except Exception as exc:  # the loop must outlive any round
                        if is_transient_db_error(exc):
                            log.warning(
                                "delivery round failed, the database is away; trying again "
                                "in %.1fs: %s",
                                backoff,
                                exc,
                            )
                        else:
                            log.exception("delivery round failed; trying again in %.1fs", backoff)
                        sent = 0
                        wait_s, backoff = backoff, min(backoff * 2, BACKOFF_MAX_S)
                        wake.clear()  # a failed round waits its backoff, not the next NOTIFY
                    else:
                        backoff = poll_interval_s
                    if sent >= concurrency:
                        continue  # more may be due right away
                    await _wait(stop, wake, wait_s)
        finally:
            await listener.close()

    return loop


async def _wait(stop: asyncio.Event, wake: asyncio.Event, timeout_s: float) -> None:
    """Until the service stops, an alert is committed, or ``timeout_s`` has passed."""
    stopping = asyncio.ensure_future(stop.wait())
    waking = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait(
            {stopping, waking}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in (stopping, waking):
            task.cancel()
