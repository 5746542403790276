"""Forward-only numbered SQL migrations, applied per service into its own schema."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from zicht_runtime.db import DbConnection, ensure_schema

__all__ = [
    "RUNTIME_MIGRATIONS",
    "Migration",
    "MigrationError",
    "apply_migrations",
    "discover",
]

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """A migration set that cannot be applied safely."""


@dataclass(frozen=True)
class Migration:
    """One SQL file: ``namespace/NNNN_name.sql``."""

    namespace: str
    number: int
    name: str
    sql: str

    @property
    def key(self) -> str:
        """Identity of the migration in the schema's ledger."""
        return f"{self.namespace}/{self.name}"

    @property
    def checksum(self) -> str:
        """Digest of the SQL, so an edited applied migration is noticed."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(namespace: str, directory: Path) -> list[Migration]:
    """Read ``NNNN_name.sql`` files of a directory in number order."""
    found: list[Migration] = []
    numbers: set[int] = set()
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: name must look like 0001_create_tables.sql")
        number = int(match.group(1))
        if number in numbers:
            raise MigrationError(f"{path}: number {number:04d} is used twice in {directory}")
        numbers.add(number)
        found.append(Migration(namespace, number, path.name, path.read_text(encoding="utf-8")))
    return found


def _runtime_migrations_dir() -> Path:
    return Path(str(resources.files("zicht_runtime") / "migrations"))


RUNTIME_MIGRATIONS = ("runtime", _runtime_migrations_dir())

_LEDGER = """
CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations (
    key text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def apply_migrations(
    conn: DbConnection, schema: str, sets: list[tuple[str, Path]]
) -> list[str]:
    """Apply every migration not yet applied to ``schema``; return the keys applied.

    ``sets`` is a list of ``(namespace, directory)``: the runtime's own tables first, then
    the service's. Runs under an advisory lock so two instances starting together do not
    race, and refuses to continue when an applied migration's file has changed.
    """
    migrations = [m for namespace, directory in sets for m in discover(namespace, directory)]
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await ensure_schema(conn, schema)
        await conn.execute(_LEDGER.format(schema=schema))
        await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
        rows = await conn.fetch("SELECT key, checksum FROM schema_migrations")
        done = {row["key"]: row["checksum"] for row in rows}
        for migration in migrations:
            previous = done.get(migration.key)
            if previous is not None:
                if previous != migration.checksum:
                    raise MigrationError(
                        f"{migration.key} was applied to schema {schema} and has changed "
                        "since; migrations are forward-only: add a new numbered file instead"
                    )
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (key, checksum) VALUES ($1, $2)",
                migration.key,
                migration.checksum,
            )
            applied.append(migration.key)
    return applied
