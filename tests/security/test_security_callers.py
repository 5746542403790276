"""Every route of every service, called by every kind of caller: who is let in, who is refused.

The routes come from each app's OpenAPI document, never from a list kept here, so a route added
tomorrow is checked tomorrow. What a route demands is read from its dependencies (the
``require_scope`` it uses); the answers must match it and what the document promises.
"""

from __future__ import annotations

import base64
import secrets

import pytest
from starlette.routing import Route

from security.support import Operation, Running, assert_problem, operations, unchanged

# The services come through getfixturevalue, which the automatic connected marking cannot see.
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.connected,
    pytest.mark.parametrize("service", ["intake", "triage", "scoring", "notify"], indirect=True),
]

OPEN = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
}
"""What anyone may call: liveness, readiness, metrics and the API's description."""

DOCUMENTATION_PAGES = ("/docs", "/docs/oauth2-redirect", "/redoc")
"""FastAPI's pages that render ``/openapi.json``: off by default (they load from a CDN)."""

UNAUTHENTICATED = 'Bearer realm="zicht"'


def _bad_credentials(service: Running) -> dict[str, dict[str, str]]:
    """Every way to present no valid key: absent, malformed, unknown, tampered, revoked."""
    valid = next(iter(service.keys.values()))
    basic = base64.b64encode(b"igj:wachtwoord").decode()
    unknown = f"zk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    tampered = valid[:-1] + ("A" if valid[-1] != "A" else "B")
    return {
        "no key": {},
        "empty bearer": {"Authorization": "Bearer "},
        "basic auth": {"Authorization": f"Basic {basic}"},
        "not a zicht key": {"Authorization": "Bearer not-a-zicht-key"},
        "key without scheme": {"Authorization": valid},
        "over-long key": {"Authorization": "Bearer zk_" + "a" * 400},
        "never issued": {"Authorization": f"Bearer {unknown}"},
        "one character changed": {"Authorization": f"Bearer {tampered}"},
        "revoked": service.auth("revoked"),
    }


async def test_only_health_metrics_and_the_api_description_are_open_without_a_key(
    service: Running,
) -> None:
    answered: dict[tuple[str, str], int] = {}
    for operation in operations(service.app):
        answer = await operation.call(service.client)
        answered[operation.method, operation.path] = answer.status_code
        # What the route's dependencies say must be what it does.
        assert operation.needs_key == (answer.status_code == 401), str(operation)
    for route in service.app.routes:
        if isinstance(route, Route) and route.include_in_schema is False:
            for method in sorted((route.methods or set()) - {"HEAD"}):
                answer = await service.client.request(method, route.path)
                answered[method, route.path] = answer.status_code

    open_routes = {route for route, status in answered.items() if status != 401}

    assert open_routes == OPEN
    for page in DOCUMENTATION_PAGES:
        assert (await service.client.get(page)).status_code == 404, page
    # Readiness may say 503 (a dependency is slow); nothing else open may fail.
    assert all(answered[r] < 500 for r in open_routes - {("GET", "/readyz")}), answered


async def test_every_keyed_route_refuses_a_missing_malformed_unknown_or_revoked_key(
    service: Running,
) -> None:
    keyed = [o for o in operations(service.app) if o.needs_key]
    credentials = _bad_credentials(service)
    assert keyed

    async with unchanged(service):
        for operation in keyed:
            assert 401 in operation.documented, f"{operation}: 401 not in its OpenAPI"
            for what, headers in credentials.items():
                answer = await operation.call(service.client, headers)
                body = assert_problem(answer, 401)
                assert answer.headers["www-authenticate"] == UNAUTHENTICATED, (operation, what)
                assert body["type"] == "urn:zicht:problem:unauthenticated", (operation, what)


async def test_a_key_without_the_routes_scope_is_forbidden_and_one_with_it_gets_past_the_gate(
    service: Running,
) -> None:
    keyed = [o for o in operations(service.app) if o.needs_key]
    refused: list[tuple[Operation, str]] = []
    admitted: list[tuple[Operation, str]] = []
    for operation in keyed:
        for role, scopes in service.roles.items():
            if operation.scopes and not operation.scopes & set(scopes):
                refused.append((operation, role))
            else:
                admitted.append((operation, role))
        # A scoped route says so in its document, and some role can use it.
        assert (403 in operation.documented) == bool(operation.scopes), str(operation)
        assert any(o is operation for o, _ in admitted), f"{operation}: no role may call it"
    assert refused, "every role may call every route: the scopes decide nothing"

    async with unchanged(service):
        for operation, role in refused:
            answer = await operation.call(service.client, service.auth(role))
            assert_problem(answer, 403)
    for operation, role in admitted:
        answer = await operation.call(service.client, service.auth(role))
        assert answer.status_code not in {401, 403}, (str(operation), role, answer.text[:300])
        assert answer.status_code < 500, (str(operation), role, answer.text[:300])
