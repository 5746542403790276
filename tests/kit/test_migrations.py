"""The migration runner against a real Postgres: once only, forward only, own schema."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from zicht_runtime.migrations import MigrationError, apply_migrations, discover

pytestmark = pytest.mark.connected


def _write(directory: Path, name: str, sql: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(sql, encoding="utf-8")


async def test_migrations_apply_once_in_order_into_the_service_schema(
    fresh_database: str, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_create.sql", "CREATE TABLE signals (id int PRIMARY KEY);")
    _write(tmp_path, "0002_column.sql", "ALTER TABLE signals ADD COLUMN note text;")
    conn = await asyncpg.connect(fresh_database)
    try:
        first = await apply_migrations(conn, "triage", [("triage", tmp_path)])
        again = await apply_migrations(conn, "triage", [("triage", tmp_path)])
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'triage' AND table_name = 'signals' ORDER BY ordinal_position"
        )
        in_public = await conn.fetchval("SELECT to_regclass('public.signals')")
    finally:
        await conn.close()
    assert first == ["triage/0001_create.sql", "triage/0002_column.sql"]
    assert again == []
    assert [row["column_name"] for row in columns] == ["id", "note"]
    assert in_public is None


async def test_an_applied_migration_that_was_edited_is_refused(
    fresh_database: str, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_create.sql", "CREATE TABLE signals (id int PRIMARY KEY);")
    conn = await asyncpg.connect(fresh_database)
    try:
        await apply_migrations(conn, "triage", [("triage", tmp_path)])
        _write(tmp_path, "0001_create.sql", "CREATE TABLE signals (id bigint PRIMARY KEY);")
        with pytest.raises(MigrationError, match="forward-only: add a new numbered file"):
            await apply_migrations(conn, "triage", [("triage", tmp_path)])
    finally:
        await conn.close()


def test_a_badly_named_or_doubly_numbered_migration_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "bad", "create.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match=r"must look like 0001_create_tables\.sql"):
        discover("svc", tmp_path / "bad")
    _write(tmp_path / "twice", "0001_a.sql", "SELECT 1;")
    _write(tmp_path / "twice", "0001_b.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="0001 is used twice"):
        discover("svc", tmp_path / "twice")
