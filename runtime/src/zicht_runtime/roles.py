"""One Postgres login role per service, owning its own schema and nothing else.

Each service keeps every table it uses in its own schema: its own tables and the kit's
(inbox, outbox, dead letters, API keys, the migration ledger). So a service's role needs no
grant on anything outside that schema: it owns the schema, runs its own migrations there,
and gets ``permission denied`` on any other service's tables. The role may connect to the
database and nothing more: no CREATE on the database (no new schemas), no TEMP, not a
superuser, no CREATEDB or CREATEROLE.

``provision_service_role`` is what ``make run`` runs as the local superuser before it
starts the services; ``deploy/postgres-init.sh`` makes the same roles for compose, and
``docs/operations.md`` gives the SQL for a managed database.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg

__all__ = ["ROLE_OPTIONS", "provision_service_role", "role_name", "url_as"]

ROLE_OPTIONS = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"
"""What a service's role may do on the server: log in, nothing else."""

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_MAX_IDENT = 63  # NAMEDATALEN - 1: Postgres would cut a longer name silently

# Objects in a schema that a cluster made before per-service roles holds, owned by the
# superuser that ran the migrations then: (relkind, the ALTER that hands one over).
_RELATION_ALTER = {
    "r": "TABLE",
    "p": "TABLE",
    "f": "FOREIGN TABLE",
    "v": "VIEW",
    "m": "MATERIALIZED VIEW",
    "S": "SEQUENCE",
}


def role_name(database: str, service: str) -> str:
    """The login role of ``service`` in ``database``: ``zicht_intake`` in ``zicht``.

    Roles belong to the whole server, databases do not: naming the role after its database
    keeps two Zicht databases on one server (two checkouts, the tests) from sharing roles.
    """
    name = f"{database}_{service}".lower().replace("-", "_")
    if not _IDENT.match(name) or len(name) > _MAX_IDENT:
        raise ValueError(f"{name!r} is no usable role name (database {database!r})")
    return name


def url_as(url: str, user: str, password: str) -> str:
    """``url`` with ``user`` and ``password`` in place of the login it had."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    login = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    return urlunsplit(parts._replace(netloc=f"{login}{host}{port}"))


def _database_of(url: str) -> str:
    database = unquote(urlsplit(url).path.lstrip("/"))
    if not database:
        raise ValueError("the database URL names no database")
    return database


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def provision_service_role(
    admin_url: str, *, service: str, schema: str, password: str
) -> str:
    """Make (or bring up to date) ``service``'s role and schema; return the role's URL.

    ``admin_url`` is a superuser (or a CREATEROLE role owning the database) on the database
    the services share. Idempotent: a second run sets the same password and changes nothing
    else. A schema made before roles existed (owned by the superuser that migrated it) is
    handed to the role with everything in it, so the role's migrations and queries find
    their own tables.
    """
    database = _database_of(admin_url)
    role = role_name(database, service)
    if not _IDENT.match(schema):
        raise ValueError(f"schema {schema!r} is no plain lower-case identifier")
    conn = await asyncpg.connect(admin_url)
    try:
        async with conn.transaction():
            # Two launchers on one server must not both try to create the same role.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"role:{role}")
            exists = await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            # DDL takes no parameters: quote_literal/format make the statement, not Python.
            statement = await conn.fetchval(
                f"SELECT format('{verb} ROLE %I {ROLE_OPTIONS} PASSWORD %L', $1::text, $2::text)",
                role,
                password,
            )
            await conn.execute(statement)
            # Only the roles granted below may connect; none may create schemas or temp tables.
            await conn.execute(f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC")
            await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {_ident(role)}")
            # Before Postgres 15 everyone could create tables in public; nobody needs to.
            await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            has_schema = await conn.fetchval(
                "SELECT true FROM pg_namespace WHERE nspname = $1", schema
            )
            if not has_schema:
                await conn.execute(f"CREATE SCHEMA {_ident(schema)} AUTHORIZATION {_ident(role)}")
            else:
                await conn.execute(f"ALTER SCHEMA {_ident(schema)} OWNER TO {_ident(role)}")
                await _hand_over_contents(conn, schema, role)
            await conn.execute(f"REVOKE ALL ON SCHEMA {_ident(schema)} FROM PUBLIC")
    finally:
        await conn.close()
    return url_as(admin_url, role, password)


async def _hand_over_contents(conn: asyncpg.Connection, schema: str, role: str) -> None:
    """Make ``role`` the owner of every relation and function in ``schema``."""
    relations = await conn.fetch(
        """
        SELECT c.oid::regclass::text AS name, c.relkind::text AS kind
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind::text = ANY($2::text[])
          AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = $3)
          -- A serial or identity column's sequence moves with its table.
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
        ORDER BY c.oid
        """,
        schema,
        list(_RELATION_ALTER),
        role,
    )
    for relation in relations:
        alter = _RELATION_ALTER[relation["kind"]]
        await conn.execute(f"ALTER {alter} {relation['name']} OWNER TO {_ident(role)}")
    routines = await conn.fetch(
        """
        SELECT p.oid::regprocedure::text AS name
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)
        """,
        schema,
        role,
    )
    for routine in routines:
        await conn.execute(f"ALTER ROUTINE {routine['name']} OWNER TO {_ident(role)}")
