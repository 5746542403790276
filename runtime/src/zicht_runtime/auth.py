"""API keys: one per party, stored as a digest, each bound to the scopes it may use.

A key reads ``zk_<key id>_<secret>``: the key id is public (it names the key in lists and
logs), the secret is 256 random bits. Only the SHA-256 digest of the whole key is stored,
so the table cannot let anyone in. A request carries ``Authorization: Bearer <key>``; a
missing, unknown or revoked key is 401, a key without the scope a route needs is 403.
Keys are managed with :func:`keys_main` (``python -m zicht_<service> keys ...``).
"""

# No `from __future__ import annotations` here: FastAPI reads the dependency annotations
# of the routes and dependencies built in closures at runtime, where strings cannot be resolved.

import argparse
import asyncio
import hashlib
import json
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request

from zicht_runtime.db import DbConnection, create_pool
from zicht_runtime.migrations import RUNTIME_MIGRATIONS, apply_migrations
from zicht_runtime.problems import Problem
from zicht_runtime.settings import ServiceSettings

__all__ = [
    "CACHE_TTL_S",
    "UNAUTHENTICATED_HEADERS",
    "ApiKey",
    "IssuedKey",
    "KeyStore",
    "Principal",
    "authenticate",
    "bearer_key",
    "keys_main",
    "require_scope",
]

_PREFIX = "zk_"
_MAX_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the party a key belongs to, with what it may do."""

    key_id: str
    party_id: str
    scopes: frozenset[str]
    attributes: Mapping[str, str] = field(default_factory=dict)

    def may(self, scope: str) -> bool:
        """Whether the key carries this scope."""
        return scope in self.scopes


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, as listed (never the secret)."""

    key_id: str
    party_id: str
    scopes: tuple[str, ...]
    attributes: Mapping[str, str]
    description: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just created: the only moment its secret is known."""

    key_id: str
    secret: str


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _parse_key(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value.startswith(_PREFIX) or len(value) > _MAX_KEY_LENGTH:
        return None
    return value


def bearer_key(header: str | None) -> str | None:
    """The API key in an ``Authorization`` header, or None when there is no well-formed one."""
    return _parse_key(header)


CACHE_TTL_S = 0.5
"""How long a verified key is trusted without asking the table again.

Half a second: a key revoked by another process (the ``revoke`` command, another replica) is
refused within a second, and a partner sending a thousand requests a second costs the table
two look-ups a second instead of a thousand. A revoke in this process clears the cache at once.
"""
_CACHE_MAX = 10_000
"""More distinct keys than this in one period and the cache starts afresh (it only holds
keys that verified, so an unknown key can never fill it)."""


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    until: float


class KeyStore:
    """API keys in the service's own ``api_keys`` table, verified keys cached briefly.

    A service keeps one store for its pool (``ServiceKit.keys``), so its requests share the
    cache.
    """

    def __init__(
        self, pool: asyncpg.Pool, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._pool = pool
        self._monotonic = monotonic
        self._cache: dict[bytes, _Verified] = {}

    @property
    def pool(self) -> asyncpg.Pool:
        """The pool whose ``api_keys`` table this store reads."""
        return self._pool

    async def create(
        self,
        party_id: str,
        scopes: Sequence[str],
        *,
        attributes: Mapping[str, str] | None = None,
        description: str = "",
    ) -> IssuedKey:
        """Create a key for a party; the returned secret is shown once and never stored."""
        if not scopes:
            raise ValueError("a key needs at least one scope")
        key_id = secrets.token_hex(6)
        secret = f"{_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        async with self._pool.acquire() as conn:
            await conn.execute(
                """
                INSERT INTO api_keys (key_id, key_digest, party_id, scopes, attributes,
                                      description)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6)
                """,
                key_id,
                _digest(secret),
                party_id,
                sorted(set(scopes)),
                dict(attributes or {}),
                description,
            )
        return IssuedKey(key_id, secret)

    async def revoke(self, key_id: str) -> bool:
        """Revoke a key; False when there is no such active key.

        This process refuses it at once; others within ``CACHE_TTL_S``.
        """
        async with self._pool.acquire() as conn:
            done = await conn.fetchval(
                "UPDATE api_keys SET revoked_at = now() "
                "WHERE key_id = $1 AND revoked_at IS NULL RETURNING key_id",
                key_id,
            )
        self._cache.clear()
        return done is not None

    async def list(self, party_id: str | None = None) -> list[ApiKey]:
        """Every key (or one party's), newest first."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT * FROM api_keys WHERE $1::text IS NULL OR party_id = $1 "
                "ORDER BY created_at DESC, key_id",
                party_id,
            )
        return [
            ApiKey(
                key_id=r["key_id"],
                party_id=r["party_id"],
                scopes=tuple(r["scopes"]),
                attributes=_attributes(r["attributes"]),
                description=r["description"],
                created_at=r["created_at"],
                revoked_at=r["revoked_at"],
                last_used_at=r["last_used_at"],
            )
            for r in rows
        ]

    async def verify(self, key: str, conn: "DbConnection | None" = None) -> Principal | None:
        """The principal of an active key, or None for an unknown or revoked one.

        A key that verified is trusted for ``CACHE_TTL_S`` without reading the table, so a
        key revoked elsewhere is refused within a second; unknown and revoked keys are never
        cached. ``last_used_at`` is written at most once a minute per key, so a busy partner
        costs no extra commit per request.
        """
        digest = _digest(key)
        now = self._monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached.until > now:
            return cached.principal
        principal = await self._look_up(digest, conn)
        if principal is None:
            self._cache.pop(digest, None)
            return None
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[digest] = _Verified(principal, now + CACHE_TTL_S)
        return principal

    async def _look_up(self, digest: bytes, conn: "DbConnection | None") -> Principal | None:
        query = (
            "SELECT key_id, party_id, scopes, attributes, "
            "(last_used_at IS NULL OR last_used_at < now() - interval '1 minute') AS stale "
            "FROM api_keys WHERE key_digest = $1 AND revoked_at IS NULL"
        )
        touch = "UPDATE api_keys SET last_used_at = now() WHERE key_id = $1"
        if conn is None:
            async with self._pool.acquire() as own:
                row = await own.fetchrow(query, digest)
                if row is not None and row["stale"]:
                    await own.execute(touch, row["key_id"])
        else:
            row = await conn.fetchrow(query, digest)
            if row is not None and row["stale"]:
                await conn.execute(touch, row["key_id"])
        if row is None:
            return None
        return Principal(
            key_id=row["key_id"],
            party_id=row["party_id"],
            scopes=frozenset(row["scopes"]),
            attributes=_attributes(row["attributes"]),
        )


def _attributes(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (raw or {}).items()}


UNAUTHENTICATED_HEADERS = {"WWW-Authenticate": 'Bearer realm="zicht"'}
"""The headers of every 401 answer."""
_UNAUTHENTICATED = UNAUTHENTICATED_HEADERS


def authenticate(
    store: Callable[[], KeyStore],
) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller's principal, or a 401 problem."""

    async def principal(request: Request) -> Principal:
        key = _parse_key(request.headers.get("authorization"))
        found = await store().verify(key) if key is not None else None
        if found is None:
            raise Problem(
                401,
                "unauthenticated",
                "No valid API key",
                detail="Send an active API key as 'Authorization: Bearer <key>'.",
                headers=_UNAUTHENTICATED,
            )
        request.state.principal = found
        return found

    return principal


def require_scope(
    who: Callable[[Request], Awaitable[Principal]],
    *scopes: str,
    code: str = "source_not_permitted",
) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through only keys with one of ``scopes`` (else 403)."""

    async def scoped(principal: Annotated[Principal, Depends(who)]) -> Principal:
        if not any(principal.may(scope) for scope in scopes):
            raise Problem(
                403,
                code.replace("_", "-"),
                "This key may not do this",
                detail="This API key is not permitted to use this endpoint.",
                errors=[{"code": code, "detail": "the key lacks the scope this endpoint needs"}],
            )
        return principal

    return scoped


def keys_main(
    argv: Sequence[str],
    settings: ServiceSettings,
    *,
    roles: Mapping[str, Sequence[str]],
    prog: str,
) -> int:
    """The ``keys`` command: create, list and revoke API keys of one service.

    ``roles`` names the scope sets a service hands out (e.g. ``police`` → the scopes a
    police unit needs), so an operator need not know scope strings.
    """
    parser = argparse.ArgumentParser(prog=f"{prog} keys", description=keys_main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key; prints the secret once")
    create.add_argument("--party", required=True, help="the party's id (partner, municipality)")
    create.add_argument("--role", choices=sorted(roles), help="a named set of scopes")
    create.add_argument("--scope", action="append", default=[], help="an extra scope")
    create.add_argument(
        "--attr", action="append", default=[], metavar="NAME=VALUE", help="an attribute"
    )
    create.add_argument("--description", default="", help="what the key is for")
    listing = commands.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--party", help="only this party's keys")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    revoke = commands.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id", help="the key's id, as listed")
    args = parser.parse_args(list(argv))
    return asyncio.run(_keys(args, settings, roles))


async def _keys(
    args: argparse.Namespace, settings: ServiceSettings, roles: Mapping[str, Sequence[str]]
) -> int:
    pool = await create_pool(settings.database_url, settings.db_schema, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, settings.db_schema, [RUNTIME_MIGRATIONS])
        store = KeyStore(pool)
        if args.command == "create":
            scopes = [*roles.get(args.role or "", ()), *args.scope]
            if not scopes:
                print(
                    "give --role or --scope: a key without scopes can do nothing", file=sys.stderr
                )
                return 2
            attributes = dict(a.split("=", 1) for a in args.attr if "=" in a)
            issued = await store.create(
                args.party, scopes, attributes=attributes, description=args.description
            )
            print(issued.secret)
            print(
                f"key {issued.key_id} for {args.party}: {', '.join(sorted(set(scopes)))}",
                file=sys.stderr,
            )
            return 0
        if args.command == "list":
            for key in await store.list(args.party):
                fields = {
                    "key_id": key.key_id,
                    "party": key.party_id,
                    "scopes": list(key.scopes),
                    "attributes": dict(key.attributes),
                    "description": key.description,
                    "created_at": key.created_at.isoformat(),
                    "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
                    "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
                }
                if args.json:
                    print(json.dumps(fields))
                else:
                    state = "revoked" if key.revoked_at else "active"
                    print(f"{key.key_id}  {key.party_id:<24} {state:<8} {','.join(key.scopes)}")
            return 0
        if await store.revoke(args.key_id):
            print(f"key {args.key_id} revoked")
            return 0
        print(f"no active key {args.key_id}", file=sys.stderr)
        return 1
    finally:
        await pool.close()
