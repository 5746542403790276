"""The relay's listening connection, given back after a fault, never ends the relay."""

from __future__ import annotations

from typing import Any

import asyncpg

from zicht_runtime.outbox import OutboxRelay


class _BrokenConnection:
    """A connection the server left mid-operation: asyncpg refuses the UNLISTEN."""

    def __init__(self) -> None:
        self.terminated = False

    async def remove_listener(self, *_: Any) -> None:
        raise asyncpg.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        )

    def terminate(self) -> None:
        self.terminated = True


class _Pool:
    def __init__(self) -> None:
        self.released: list[Any] = []

    async def release(self, conn: Any, **_: Any) -> None:
        self.released.append(conn)


class _Sender:
    async def send_batch(self, records: Any) -> None:
        """Never called here."""


async def test_a_connection_that_refuses_the_unlisten_is_closed_and_the_relay_goes_on() -> None:
    pool = _Pool()
    relay = OutboxRelay(pool, _Sender(), schema="kit_test")  # type: ignore[arg-type]
    conn = _BrokenConnection()
    await relay._unlisten(conn)  # type: ignore[arg-type]
    assert conn.terminated, "closed, not handed back in that state"
    assert pool.released == [conn]
