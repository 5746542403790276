"""The delivery loop: sends due alerts, woken at once when one is committed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
import httpx

from zicht_notify.service import NotifyService

__all__ = ["delivery_loop"]

log = logging.getLogger(__name__)


def delivery_loop(
    service: NotifyService, *, schema: str, concurrency: int, poll_interval_s: float
) -> Callable[[asyncpg.Pool, asyncio.Event], Coroutine[Any, Any, None]]:
    """A background loop for the kit: deliver until the service stops."""

    async def loop(pool: asyncpg.Pool, stop: asyncio.Event) -> None:
        wake = asyncio.Event()
        listener = await pool.acquire()
        channel = f"zicht_alerts_{schema}"

        def woken(*_: object) -> None:
            wake.set()

        await listener.add_listener(channel, woken)
        limits = httpx.Limits(max_connections=concurrency * 2)
        try:
            async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
                while not stop.is_set():
                    wake.clear()
                    try:
                        sent = await service.deliver_due(pool, client, concurrency)
                    except (OSError, asyncpg.PostgresError):
                        log.exception("delivery round failed; trying again shortly")
                        sent = 0
                    if sent >= concurrency:
                        continue  # more may be due right away
                    stopping = asyncio.ensure_future(stop.wait())
                    waking = asyncio.ensure_future(wake.wait())
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait(
                            {stopping, waking},
                            timeout=poll_interval_s,
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                    for task in (stopping, waking):
                        task.cancel()
        finally:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await listener.remove_listener(channel, woken)
            await pool.release(listener)

    return loop
