"""A NUL character in any string a caller sends gets an answer below 500.

Postgres text cannot hold U+0000: a value carrying one that reaches a query makes asyncpg raise
``CharacterNotInRepertoireError``; the kit's problem handlers answer it with a 400 problem (the
transaction is rolled back). The sweep below sends a NUL in every string path and query
parameter and every top-level string field of every JSON body, read from each service's
OpenAPI document; any 500 fails it. ``KNOWN`` lists the inputs that answered 500 before the
handler existed, each kept as a test of its own. (Schemathesis runs with NUL generation off:
these are its findings, pinned down one by one.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from security.support import Operation, Running, operations

# The services come through getfixturevalue, which the automatic connected marking cannot see.
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.connected]

NUL = "zicht\x00probe"

KNOWN = [
    ("intake", "GET /v1/submissions", "query partner_reference"),
    ("intake", "GET /v1/submissions", "query provider_id"),
    ("triage", "GET /v1/investigations", "query provider_id"),
    ("scoring", "GET /v1/providers/{provider_id}/risk", "path provider_id"),
    ("notify", "GET /v1/deliveries", "query provider_id"),
    ("notify", "POST /v1/subscriptions", "body /providers"),
    ("notify", "POST /v1/subscriptions", "body /description"),
    ("notify", "PATCH /v1/subscriptions/{subscription_id}", "body /providers"),
    ("notify", "PATCH /v1/subscriptions/{subscription_id}", "body /description"),
]
"""(service, operation, input) where a NUL gets a 500 today: asyncpg's
CharacterNotInRepertoireError ('invalid byte sequence for encoding "UTF8": 0x00')."""


@dataclass(frozen=True)
class Probe:
    """One request with a NUL in one input."""

    where: str
    method: str
    url: str
    params: Mapping[str, str]
    body: Any


def _options(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"]


_PLAIN = {"integer": 1, "number": 1, "boolean": False, "null": None}


def _sample(schema: Mapping[str, Any]) -> Any:
    """A plain value of a schema, to fill the fields a probe does not aim at."""
    option = _options(schema)[0]
    kind = option.get("type")
    if "enum" in option:
        return option["enum"][0]
    if kind == "string":
        return "http://127.0.0.1:9/nul-probe" if option.get("format") == "uri" else "x"
    if kind == "array":
        return []
    if kind == "object":
        return {name: _sample(option["properties"][name]) for name in option.get("required", [])}
    return _PLAIN.get(kind or "null")


def _nul_value(schema: Mapping[str, Any]) -> Any:
    """The NUL-carrying value a field of this schema takes; None when it takes no strings."""
    for option in _options(schema):
        if option.get("type") == "string" and "enum" not in option:
            return NUL
        items = option.get("items", {})
        if option.get("type") == "array" and items.get("type") == "string":
            return [NUL]
    return None


def probes(operation: Operation, ids: Mapping[str, str]) -> Iterator[Probe]:
    """A probe per string parameter and per top-level string field of the JSON body."""
    path_values: dict[str, str] = {}
    for parameter in operation.parameters:
        if parameter["in"] == "path":
            schema = parameter.get("schema", {})
            default = str(uuid.uuid4()) if schema.get("format") == "uuid" else "prv-nul-probe"
            path_values[parameter["name"]] = ids.get(parameter["name"], default)

    def url(**nul: str) -> str:
        filled = operation.path
        for name, value in {**path_values, **nul}.items():
            filled = filled.replace("{" + name + "}", quote(value, safe=""))
        return filled

    base: dict[str, Any] = _sample(operation.body_schema) if operation.body_schema else {}
    body = base if operation.body_schema else None
    for parameter in operation.parameters:
        name, place = parameter["name"], parameter["in"]
        if place not in {"path", "query"} or _nul_value(parameter.get("schema", {})) != NUL:
            continue
        if place == "path":
            yield Probe(f"path {name}", operation.method, url(**{name: NUL}), {}, body)
        else:
            yield Probe(f"query {name}", operation.method, url(), {name: NUL}, body)
    properties = (operation.body_schema or {}).get("properties", {})
    for field, schema in properties.items():
        value = _nul_value(schema)
        if value is not None:
            yield Probe(f"body /{field}", operation.method, url(), {}, {**base, field: value})


async def _ids(service: Running) -> dict[str, str]:
    """Identifiers that get a probe past a 404: notify's probes act on a real subscription."""
    if service.name != "notify":
        return {}
    created = await service.client.post(
        "/v1/subscriptions",
        json={"url": "http://127.0.0.1:9/nul-probe", "description": "NUL probe"},
        headers=service.auth("all"),
    )
    assert created.status_code == 201, created.text
    return {"subscription_id": created.json()["subscription_id"]}


async def _send(service: Running, probe: Probe) -> httpx.Response:
    # An unhandled error is answered as the 500 a client would see, not raised into the test.
    transport = httpx.ASGITransport(app=service.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        return await client.request(
            probe.method,
            probe.url,
            params=dict(probe.params),
            json=probe.body,
            headers=service.auth("all"),
        )


@pytest.mark.parametrize("service", ["intake", "triage", "scoring", "notify"], indirect=True)
async def test_a_nul_in_any_string_input_gets_no_server_error_beyond_the_known_ones(
    service: Running,
) -> None:
    ids = await _ids(service)
    sent = 0
    server_errors = set()
    for operation in operations(service.app):
        for probe in probes(operation, ids):
            answer = await _send(service, probe)
            sent += 1
            if answer.status_code >= 500:
                server_errors.add((service.name, str(operation), probe.where))
    assert sent > 0
    assert server_errors == set(), "500s on a NUL character"


@pytest.mark.parametrize(
    ("service", "operation", "where"),
    [pytest.param(*known, id=f"{known[0]}-{known[1]}-{known[2]}") for known in KNOWN],
    indirect=["service"],
)
async def test_a_nul_in_a_string_input_is_refused_as_a_problem(
    service: Running, operation: str, where: str
) -> None:
    [target] = [o for o in operations(service.app) if str(o) == operation]
    [probe] = [p for p in probes(target, await _ids(service)) if p.where == where]

    answer = await _send(service, probe)

    assert answer.status_code < 500, answer.text[:300]
    assert answer.headers["content-type"] == "application/problem+json"
