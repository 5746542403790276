"""``poison``: what bad records cost a batch, the kit halving a spoiled batch to find them.

A set-based batch handler (one ``executemany`` for the batch, as the services' handlers will
be) takes batches of 500 raw partner records through the kit's ``BatchProcessor`` against a
durable Postgres, in process (no broker: the processor is handed the polled records, as
FastStream hands them). Clean batches are timed against batches with 1 and 5 poison records
among the 500: such a batch fails once whole, then runs again with the failing handler's
records halved on savepoints until each bad record is alone, so the good records commit in
order and the bad ones are dead-lettered. The figures are milliseconds and SQL statements
per batch, counted by a query logger on every pool connection. A per-record handler (the
services' handlers wrapped in ``each()``) is measured beside the set-based one. Replaying record
by record, as the kit did before, took 1,510 statements and about 9x a clean batch's time for
a set-based handler with one bad record (2026-12-08, same machine).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from typing import Final

import asyncpg
from aiokafka import ConsumerRecord

from bench.common import Result, say, scratch_dir
from bench.infra import Infra
from zicht_runtime.consumer import (
    BatchProcessor,
    PoisonMessageError,
    RawRecord,
    Subscription,
    each,
)
from zicht_runtime.db import DbConnection, create_pool, init_connection
from zicht_runtime.migrations import RUNTIME_MIGRATIONS, apply_migrations
from zicht_runtime.telemetry import setup_telemetry

__all__ = ["run"]

_SCHEMA: Final = "bench_poison"
_TOPIC: Final = "partner.bench.v1"
_BATCH: Final = 500
_SOURCE: Final = "urn:nl:zorgtoezicht:bench"


def _record(offset: int, *, poison: bool) -> ConsumerRecord[bytes, bytes]:
    value = b"boom" if poison else f"signal {offset}".encode()
    return ConsumerRecord(
        topic=_TOPIC, partition=0, offset=offset, timestamp=1_700_000_000_000,
        timestamp_type=0, key=f"ref-{offset}".encode(), value=value, checksum=None,
        serialized_key_size=8, serialized_value_size=len(value),
        headers=[("content-type", b"application/json")],
    )  # fmt: skip


async def _store(conn: DbConnection, records: Sequence[RawRecord]) -> None:
    """Set-based: the batch in one statement; a poison record spoils the whole call."""
    if any(r.value == b"boom" for r in records):
        raise PoisonMessageError("the bench cannot read this record")
    await conn.executemany(
        "INSERT INTO effects (record_id, body) VALUES ($1, $2)",
        [(r.record_id, r.value) for r in records],
    )


class _Counter:
    """Counts every statement of the pool's connections (a query logger on each)."""

    def __init__(self) -> None:
        self.statements = 0

    def __call__(self, _query: object) -> None:
        self.statements += 1


async def _store_one(conn: DbConnection, record: RawRecord) -> None:
    """Per record, as the services' handlers are until they are set-based (``each``)."""
    if record.value == b"boom":
        raise PoisonMessageError("the bench cannot read this record")
    await conn.execute(
        "INSERT INTO effects (record_id, body) VALUES ($1, $2)", record.record_id, record.value
    )


async def _batches(
    processor: BatchProcessor,
    counter: _Counter,
    first_offset: int,
    count: int,
    poison_per_batch: int,
) -> tuple[list[float], list[int]]:
    """Run ``count`` batches; return ms and statements per batch."""
    spread = _BATCH // (poison_per_batch + 1) if poison_per_batch else 0
    bad = {spread * (n + 1) for n in range(poison_per_batch)}
    timings: list[float] = []
    statements: list[int] = []
    offset = first_offset
    for _ in range(count):
        records = [_record(offset + n, poison=n in bad) for n in range(_BATCH)]
        offset += _BATCH
        before = counter.statements
        began = time.perf_counter()
        await processor.process(records)
        timings.append((time.perf_counter() - began) * 1000)
        await asyncio.sleep(0)  # asyncpg reports the last statement one loop turn later
        statements.append(counter.statements - before)
    return timings, statements


async def _measure(url: str, batches: int) -> dict[str, dict[int, tuple[float, float]]]:
    await (await create_pool(url, _SCHEMA, min_size=1, max_size=1)).close()  # the schema
    counter = _Counter()

    async def init(conn: DbConnection) -> None:
        await init_connection(conn)  # the kit's codecs and statement count, as in a service
        conn.add_query_logger(counter)  # every connection the pool opens, also after a fault

    pool: asyncpg.Pool = await asyncpg.create_pool(
        url, min_size=1, max_size=2, init=init, server_settings={"search_path": _SCHEMA}
    )
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, _SCHEMA, [RUNTIME_MIGRATIONS])
            await conn.execute("CREATE TABLE effects (record_id text PRIMARY KEY, body bytea)")
        found: dict[str, dict[int, tuple[float, float]]] = {}
        offset = 0
        for name, handler in (("set-based", _store), ("per record", each(_store_one))):
            processor = BatchProcessor(
                group=f"bench-poison-{name.replace(' ', '-')}",
                subscriptions=[Subscription(_TOPIC, handler, None, f"bench-poison-{name[:3]}")],
                pool=pool,
                telemetry=setup_telemetry("bench-poison", set_global=False),
                source=_SOURCE,
                service="bench",
            )
            await _batches(processor, counter, offset, 3, 0)  # warm the statement cache
            offset += 3 * _BATCH
            found[name] = {}
            for poison in (0, 1, 5):
                timings, statements = await _batches(processor, counter, offset, batches, poison)
                offset += batches * _BATCH
                found[name][poison] = (statistics.median(timings), statistics.median(statements))
        async with pool.acquire() as conn:
            dead = await conn.fetchval("SELECT count(*) FROM dead_letters")
            stored = await conn.fetchval("SELECT count(*) FROM effects")
        expected_dead = 2 * batches * (1 + 5)
        if dead != expected_dead or stored != offset - expected_dead:
            raise RuntimeError(f"lost or doubled: {dead} dead letters, {stored} stored")
        return found
    finally:
        await pool.close()


async def run(*, quick: bool) -> Result:
    """Measure clean and spoiled batches; see the module docstring."""
    batches = 5 if quick else 20
    with scratch_dir("poison") as workdir, Infra(workdir, broker=False) as infra:
        say(f"poison: {batches} batches of {_BATCH} records each, clean and with 1 and 5 bad")
        found = await _measure(await infra.database(), batches)
        versions = infra.versions()
    result = Result("poison", "Poison: a spoiled batch halved to find its bad records")
    for handler, cases in found.items():
        clean_ms, _ = cases[0]
        for poison, (ms, statements) in cases.items():
            label = f"{handler}: " + ("clean batch" if not poison else f"{poison} poison")
            result.add(f"{label}: time", ms, "ms", higher_is_better=False,
                       note=f"{_BATCH} records; {ms / clean_ms:.1f}x a clean batch")  # fmt: skip
            per_record = f"{statements / _BATCH:.2f} per record"
            result.add(f"{label}: SQL statements", statements, "statements",
                       higher_is_better=False, note=per_record)  # fmt: skip
    result.notes.append(
        "a spoiled batch is halved: about 2 k log2(500) handler calls for k bad records, "
        "each on a savepoint; a per-record handler runs the records of a failing half again"
    )
    result.settings = {
        "batch": _BATCH,
        "batches per case": batches,
        "handlers": "set-based: one executemany per call; per record: each() over one INSERT "
        "per record; a poison record fails the call",
        "postgres": versions[0],
        "broker": "none (in process)",
    }
    return result
