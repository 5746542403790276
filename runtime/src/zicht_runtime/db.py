"""Postgres access: a pool per service, confined to the service's own schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = [
    "TRANSIENT_DB_ERRORS",
    "DbConnection",
    "DbWork",
    "create_pool",
    "encode_json",
    "ensure_schema",
    "init_connection",
    "is_transient_db_error",
    "measured",
]

# A connection of its own or one lent by the pool: the same API to everything that uses it.
DbConnection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


def encode_json(value: object) -> str:
    """The JSON text of a ``json``/``jsonb`` parameter, which is given as a Python value.

    Text is refused: JSON text handed to this codec would be stored as one JSON *string*
    (``jsonb_typeof`` = ``string``), which ``->`` and ``->>`` cannot look into. A caller that
    already holds JSON text (a pydantic ``model_dump_json``, a digested entry) casts it in SQL
    instead: ``$1::text::jsonb``.
    """
    if isinstance(value, str | bytes | bytearray):
        raise TypeError(
            "a json/jsonb parameter takes the Python value, not its JSON text; "
            "pass the object, or cast the text in SQL ($n::text::jsonb)"
        )
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class DbWork:
    """What one unit of work asked of Postgres: how many statements, and their time."""

    statements: int = 0
    seconds: float = 0.0


_WORK: ContextVar[DbWork | None] = ContextVar("zicht_db_work", default=None)


@contextmanager
def measured() -> Iterator[DbWork]:
    """Count the statements (and their time) every pool connection runs inside the block.

    The count comes from asyncpg's query loggers, which asyncpg calls soon after each
    statement (``loop.call_soon``, in the context it ran in): read it after the block and one
    turn of the event loop (``await asyncio.sleep(0)``) to have the last statement in it.
    Statements the pool runs on release (its reset) count too: they are the unit's cost.
    """
    work = DbWork()
    token = _WORK.set(work)
    try:
        yield work
    finally:
        _WORK.reset(token)


def _count_statement(query: asyncpg.connection.LoggedQuery) -> None:
    work = _WORK.get()
    if work is not None:
        work.statements += 1
        work.seconds += query.elapsed


async def init_connection(conn: DbConnection) -> None:
    """Map ``json`` and ``jsonb`` to Python values (objects, lists) both ways; count statements.

    Every connection reports its statements to :func:`measured` (no per-statement span:
    a unit of work puts its statement count and database time on its own span).
    """
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=encode_json, decoder=json.loads, schema="pg_catalog"
        )
    conn.add_query_logger(_count_statement)


async def ensure_schema(conn: DbConnection, schema: str) -> None:
    """Create ``schema`` unless it exists.

    A service's own role owns its schema but may not create schemas (no CREATE on the
    database), and ``CREATE SCHEMA IF NOT EXISTS`` checks that right before it looks: so look
    first, and create only what is missing (as the superuser does in tests and fresh clusters).
    """
    if not await conn.fetchval("SELECT true FROM pg_namespace WHERE nspname = $1", schema):
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


async def create_pool(
    url: str, schema: str, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """Open a pool whose connections see only ``schema`` (then ``public``) by default.

    The schema is created when it does not exist yet, so a fresh database is usable at once.
    """
    conn = await asyncpg.connect(url)
    try:
        await ensure_schema(conn, schema)
    finally:
        await conn.close()
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        server_settings={"search_path": f'"{schema}",public', "application_name": schema},
    )
    return pool


# Faults that pass: the database restarting, the network, contention. Anything else is a
# property of the message or of the code and is not cured by waiting.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.QueryCanceledError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    ConnectionError,
    OSError,
    TimeoutError,
)


def is_transient_db_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a database fault worth retrying rather than a poison message."""
    if isinstance(exc, TRANSIENT_DB_ERRORS):
        return True
    cause: Any = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and isinstance(cause, TRANSIENT_DB_ERRORS)
