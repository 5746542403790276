"""The database factory: per-test databases, and fast clones of a migrated template."""

from __future__ import annotations

import asyncpg
import pytest

from zicht_devtools.devstack import PostgresDatabases

_setup_runs: list[str] = []


async def _migrate(url: str) -> None:
    """Stands in for a service's migrations: one table and one reference row."""
    _setup_runs.append(url)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("CREATE TABLE signal (id int PRIMARY KEY, summary text)")
        await connection.execute("CREATE TABLE code (name text PRIMARY KEY)")
        await connection.execute("INSERT INTO code VALUES ('seeded by the migration')")
    finally:
        await connection.close()


async def _fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


async def test_template_clones_have_the_migrated_schema_and_do_not_share_rows(
    databases: PostgresDatabases,
) -> None:
    template_url = await databases.template("devstack_signals", _migrate)
    assert await databases.template("devstack_signals", _migrate) == template_url
    assert _setup_runs.count(template_url) == 1  # the migrations ran once, not per clone

    first = await databases.create("devstack_signals")
    second = await databases.create("devstack_signals")
    assert len({template_url, first, second}) == 3

    for clone in (first, second):
        assert [row["name"] for row in await _fetch(clone, "SELECT name FROM code")] == [
            "seeded by the migration"
        ]
    connection = await asyncpg.connect(first)
    try:
        await connection.execute("INSERT INTO signal VALUES (1, 'only in the first clone')")
    finally:
        await connection.close()
    assert len(await _fetch(first, "SELECT * FROM signal")) == 1
    assert await _fetch(second, "SELECT * FROM signal") == []


async def test_an_unknown_template_is_refused(databases: PostgresDatabases) -> None:
    with pytest.raises(ValueError, match="no template named 'never_made'"):
        await databases.create("never_made")


async def test_fresh_database_is_empty_and_its_own(
    fresh_database: str, postgres_url: str, request: pytest.FixtureRequest
) -> None:
    assert request.node.get_closest_marker("connected") is not None  # marked by the plugin
    assert fresh_database != postgres_url
    tables = await _fetch(
        fresh_database,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    )
    assert tables == []


async def test_dropping_a_database_removes_it_from_the_server(
    databases: PostgresDatabases, postgres_url: str
) -> None:
    url = await databases.create()
    name = url.rsplit("/", 1)[1]
    await databases.drop(url)

    rows = await _fetch(postgres_url, "SELECT 1 FROM pg_database WHERE datname = $1", name)
    assert rows == []


async def test_a_template_whose_setup_leaves_a_connection_open_still_clones(
    databases: PostgresDatabases,
) -> None:
    left_open: list[asyncpg.Connection] = []

    async def migrate_and_forget_to_close(url: str) -> None:
        connection = await asyncpg.connect(url)
        await connection.execute("CREATE TABLE outbox (id bigint PRIMARY KEY)")
        left_open.append(connection)

    try:
        await databases.template("devstack_leaky", migrate_and_forget_to_close)
        clone = await databases.create("devstack_leaky")
        assert await _fetch(clone, "SELECT * FROM outbox") == []
    finally:
        for connection in left_open:
            connection.terminate()


async def test_a_failed_template_setup_can_be_retried_under_the_same_name(
    databases: PostgresDatabases,
) -> None:
    async def broken(url: str) -> None:
        raise RuntimeError("migration 0002 failed")

    with pytest.raises(RuntimeError, match="migration 0002 failed"):
        await databases.template("devstack_retried", broken)
    await databases.template("devstack_retried", _migrate)
    clone = await databases.create("devstack_retried")
    assert len(await _fetch(clone, "SELECT * FROM code")) == 1
