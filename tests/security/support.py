"""Helpers of the security tests: a running service, its routes and guards, traces in its data.

A refusal must leave nothing behind, so :func:`unchanged` compares a fingerprint of every table
of a service (row count and a digest of the rows) before and after the refused requests. The
services consume shared topics in the background, so the fingerprint is taken once the data has
settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute

from zicht_devtools.devstack import find_free_port

__all__ = [
    "PROBLEM",
    "Operation",
    "Running",
    "assert_problem",
    "fingerprint",
    "operations",
    "serve",
    "unchanged",
]

PROBLEM = "application/problem+json"

# Rows that change on every use of a key (last_used_at) or never: counted, not digested.
_COUNTED_ONLY = frozenset({"api_keys", "schema_migrations"})


@dataclass
class Running:
    """A service running in-process on real Postgres and the real broker, with keys."""

    name: str
    app: FastAPI
    client: httpx.AsyncClient
    pool: asyncpg.Pool
    bootstrap: str
    roles: Mapping[str, Sequence[str]]
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        """The Authorization header of a named key."""
        return {"Authorization": f"Bearer {self.keys[who]}"}


# --- traces ------------------------------------------------------------------------------------


async def fingerprint(pool: asyncpg.Pool) -> dict[str, tuple[int, str]]:
    """Every table of the service's schema: its row count and a digest of its rows."""
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
    )
    prints: dict[str, tuple[int, str]] = {}
    for row in tables:
        table = row["table_name"]
        if table in _COUNTED_ONLY:
            count = await pool.fetchval(f'SELECT count(*) FROM "{table}"')  # noqa: S608
            prints[table] = (count, "")
            continue
        found = await pool.fetchrow(
            f"SELECT count(*) AS n, "  # noqa: S608  # a table name read from the catalogue
            f"md5(coalesce(string_agg(t::text, chr(10) ORDER BY t::text), '')) AS digest "
            f'FROM "{table}" t'
        )
        assert found is not None
        prints[table] = (found["n"], found["digest"])
    return prints


async def _settled(
    pool: asyncpg.Pool, *, quiet_for: float = 1.0, within: float = 60.0
) -> dict[str, tuple[int, str]]:
    """The fingerprint once it stayed the same for ``quiet_for`` seconds (background work done)."""
    deadline = time.monotonic() + within
    last = await fingerprint(pool)
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        now = await fingerprint(pool)
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_for:
            return last
    pytest.fail(f"the data did not settle within {within:.0f}s")


@contextlib.asynccontextmanager
async def unchanged(*services: Running) -> AsyncIterator[None]:
    """Assert that what runs in the block leaves every table of these services as it was."""
    before = {s.name: await _settled(s.pool) for s in services}
    yield
    for service in services:
        after = await fingerprint(service.pool)
        changed = sorted(
            table
            for table in before[service.name].keys() | after.keys()
            if before[service.name].get(table) != after.get(table)
        )
        assert not changed, f"{service.name}: a refused request left a trace in {changed}"


# --- answers -----------------------------------------------------------------------------------


def assert_problem(answer: httpx.Response, *statuses: int) -> dict[str, Any]:
    """The answer is an RFC 9457 problem with one of ``statuses``; its body."""
    what = f"{answer.request.method} {answer.request.url.path}"
    assert answer.status_code in statuses, f"{what}: {answer.status_code} {answer.text[:300]}"
    assert answer.headers["content-type"] == PROBLEM, what
    body: dict[str, Any] = answer.json()
    assert body["status"] == answer.status_code, what
    assert body["type"].startswith("urn:zicht:problem:"), what
    return body


# --- routes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One operation of a service's OpenAPI document, ready to call."""

    method: str
    path: str
    url: str
    content_type: str | None
    documented: frozenset[int]
    needs_key: bool
    scopes: frozenset[str]
    """One of these scopes lets a key in; empty: any valid key (when ``needs_key``)."""
    parameters: tuple[Mapping[str, Any], ...] = ()
    body_schema: Mapping[str, Any] | None = None
    """The JSON body's schema, references resolved; None without a JSON body."""

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    async def call(
        self, client: httpx.AsyncClient, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """Call it with a harmless body: an empty JSON object, or a CSV with only a header."""
        sent = dict(headers or {})
        content: bytes | None = None
        if self.content_type is not None:
            sent["Content-Type"] = self.content_type
            content = b"{}" if "json" in self.content_type else b"kenmerk;datum\n"
        return await client.request(self.method, self.url, headers=sent, content=content)


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every API route, also those of included routers (FastAPI may keep those apart)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)


def _guard(route: APIRoute) -> tuple[bool, frozenset[str]]:
    """Whether the route authenticates, and the scopes of its ``require_scope`` dependency."""
    needs_key, scopes = False, frozenset[str]()
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        pending.extend(dependency.dependencies)
        name = getattr(dependency.call, "__qualname__", "")
        if name == "authenticate.<locals>.principal":
            needs_key = True
        elif name == "require_scope.<locals>.scoped" and dependency.call is not None:
            scopes |= frozenset(inspect.getclosurevars(dependency.call).nonlocals["scopes"])
    return needs_key, scopes


def _example(parameter: Mapping[str, Any]) -> str:
    schema = parameter.get("schema", {})
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    return "prv-security-probe"


def _resolved(schema: Any, document: Mapping[str, Any]) -> Any:
    """A schema with its ``#/components/...`` references replaced by what they name."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = document
            for part in ref.removeprefix("#/").split("/"):
                target = target[part]
            return _resolved(target, document)
        return {key: _resolved(value, document) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolved(item, document) for item in schema]
    return schema


def operations(app: FastAPI) -> list[Operation]:
    """Every operation in the app's OpenAPI document, with the guard its route has."""
    routes = {
        (method, route.path): route
        for route in _api_routes(app.routes)
        for method in route.methods or ()
    }
    document = app.openapi()
    found = []
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            route = routes[(method.upper(), path)]
            needs_key, scopes = _guard(route)
            url = path
            for parameter in spec.get("parameters", []):
                if parameter["in"] == "path":
                    url = url.replace("{" + parameter["name"] + "}", _example(parameter))
            content = spec.get("requestBody", {}).get("content", {})
            json_body = content.get("application/json", {}).get("schema")
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    url=url,
                    content_type=next(iter(content), None),
                    documented=frozenset(int(s) for s in spec.get("responses", {})),
                    needs_key=needs_key,
                    scopes=scopes,
                    parameters=tuple(spec.get("parameters", [])),
                    body_schema=_resolved(json_body, document) if json_body else None,
                )
            )
    return found


# --- serving -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Serve an app whose lifespan already runs over real HTTP on loopback; its base URL."""
    port = find_free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  # uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
