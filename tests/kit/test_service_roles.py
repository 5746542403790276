"""Each service's own Postgres role reaches its own schema and nothing else (real Postgres).

The roles are made by ``provision_service_role``, the code ``make run`` runs before it starts
the services; each service then migrates its schema as its own role, as the kit does.
"""

from __future__ import annotations

import secrets

import asyncpg
import pytest

from zicht_devtools.devstack import PostgresDatabases
from zicht_intake.app import MIGRATIONS as INTAKE_MIGRATIONS
from zicht_runtime.db import create_pool
from zicht_runtime.migrations import RUNTIME_MIGRATIONS, apply_migrations
from zicht_runtime.roles import provision_service_role, role_name
from zicht_triage.app import MIGRATIONS as TRIAGE_MIGRATIONS

pytestmark = pytest.mark.connected

MIGRATIONS = {"intake": INTAKE_MIGRATIONS, "triage": TRIAGE_MIGRATIONS}


async def _migrate(url: str, service: str) -> None:
    pool = await create_pool(url, service, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(
                conn, service, [RUNTIME_MIGRATIONS, (service, MIGRATIONS[service])]
            )
    finally:
        await pool.close()


async def _provision(admin_url: str, service: str) -> str:
    return await provision_service_role(
        admin_url, service=service, schema=service, password=secrets.token_urlsafe(16)
    )


async def test_triage_role_is_refused_intake_tables_and_works_in_its_own_schema(
    databases: PostgresDatabases,
) -> None:
    admin = await databases.create()
    urls = {service: await _provision(admin, service) for service in ("intake", "triage")}
    for service, url in urls.items():
        await _migrate(url, service)  # as the service's own role: it owns its schema
    triage = await asyncpg.connect(urls["triage"], server_settings={"search_path": "triage"})
    try:
        assert await triage.fetchval("SELECT current_user") == role_name(
            admin.rsplit("/", 1)[1], "triage"
        )
        for table in ("intake.api_keys", "intake.submissions", "intake.outbox"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await triage.fetch(f"SELECT * FROM {table}")  # noqa: S608  # fixed names
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await triage.execute("CREATE SCHEMA elsewhere")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await triage.execute("CREATE TABLE public.stray (x int)")
        await triage.execute(
            "INSERT INTO outbox (event_id, topic, value) VALUES ('e-1', 't', '\\x00')"
        )
        assert await triage.fetchval("SELECT count(*) FROM outbox") == 1
        assert await triage.fetchval("SELECT count(*) FROM api_keys") == 0
    finally:
        await triage.close()


async def test_a_schema_the_superuser_migrated_before_roles_existed_is_handed_to_its_role(
    databases: PostgresDatabases,
) -> None:
    admin = await databases.create()
    await _migrate(admin, "intake")  # a cluster from before per-service roles
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(
            "INSERT INTO intake.outbox (event_id, topic, value) VALUES ('old', 't', '\\x00')"
        )
    finally:
        await conn.close()

    url = await _provision(admin, "intake")
    again = await provision_service_role(  # idempotent: the next start does it again
        admin, service="intake", schema="intake", password="another-password-now"
    )
    await _migrate(again, "intake")  # its ledger and tables are its own now
    intake = await asyncpg.connect(url, server_settings={"search_path": "intake"})
    try:
        await intake.execute(
            "INSERT INTO outbox (event_id, topic, value) VALUES ('new', 't', '\\x00')"
        )
        assert await intake.fetchval("SELECT count(*) FROM outbox") == 2
        await intake.execute("UPDATE outbox SET sent_at = now()")  # the relay's statement
    finally:
        await intake.close()
