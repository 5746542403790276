"""Oversized and deeply nested bodies at triage's and notify's JSON endpoints.

A supervisor closes an investigation, a municipality creates or changes a subscription: with a
valid key and a body no client would send (megabytes of text, a list far past its limit,
nesting deeper than any parser should follow), each is refused as a problem (413, 400 or 422)
and the investigation or subscription stays as it was.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from security.cases import investigation_in_enschede, provider_known
from security.support import Running, assert_problem, unchanged

pytestmark = pytest.mark.asyncio(loop_scope="session")

MIB = 1024 * 1024
DEEP = 100_000
"""Nesting far past Python's recursion limit: a parser that follows it blows the stack."""


def _nested_arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _nested_in(field: str, depth: int, base: dict[str, Any]) -> bytes:
    """A body whose ``field`` holds a list nested ``depth`` deep (parseable, but absurd)."""
    head = json.dumps({**base, field: None}).encode()
    return head.replace(b"null", b"[" * depth + b"]" * depth, 1)


def _closing_bodies() -> dict[str, bytes]:
    decided = {"decision": "no_findings"}
    return {
        "note of 2 MiB": json.dumps({**decided, "note": "x" * (2 * MIB)}).encode(),
        "decision of 1 MiB": json.dumps({"decision": "n" * MIB, "note": "ok"}).encode(),
        "array of 500k numbers": b"[" + b"1," * 500_000 + b"1]",
        "an object of 100k fields": json.dumps(
            {"note": "ok", **{f"f{i}": i for i in range(100_000)}}
        ).encode(),
        "arrays nested 100k deep": _nested_arrays(DEEP),
        "objects nested 100k deep": _nested_objects(DEEP),
        "note nested 500 deep": _nested_in("note", 500, decided),
        "8 MiB of whitespace before a half object": b" " * (8 * MIB) + b'{"decision": ',
    }


def _subscription_bodies(pid: str) -> dict[str, bytes]:
    url = {"url": "http://127.0.0.1:9/big"}
    return {
        "description of 2 MiB": json.dumps({**url, "description": "d" * (2 * MIB)}).encode(),
        "url of 1 MiB": json.dumps({"url": "http://127.0.0.1:9/" + "u" * MIB}).encode(),
        "100k providers": json.dumps({**url, "providers": [pid] * 100_000}).encode(),
        "100k event types": json.dumps({**url, "event_types": ["x"] * 100_000}).encode(),
        "secret of 1 MiB": json.dumps({**url, "secret": "whsec_" + "A" * MIB}).encode(),
        "arrays nested 100k deep": _nested_arrays(DEEP),
        "objects nested 100k deep": _nested_objects(DEEP),
        "providers nested 500 deep": _nested_in("providers", 500, url),
        "categories nested 500 deep": _nested_in("categories", 500, url),
    }


async def _refused(service: Running, method: str, path: str, who: str, body: bytes) -> None:
    answer = await service.client.request(
        method, path, content=body,
        headers={**service.auth(who), "Content-Type": "application/json"},
    )  # fmt: skip
    problem = assert_problem(answer, 413, 400, 422)
    # A refusal names where and why, never the refused value.
    assert len(answer.content) < 10_000, (path, problem["title"])


async def test_a_supervisor_sending_an_absurd_body_to_close_an_investigation_changes_nothing(
    triage: Running,
) -> None:
    case = await investigation_in_enschede(triage)
    path = f"/v1/investigations/{case.investigation_id}/close"

    async with unchanged(triage):
        for body in _closing_bodies().values():
            await _refused(triage, "POST", path, "supervisor-twente", body)

    still = await triage.client.get(f"/v1/investigations/{case.investigation_id}",
                                    headers=triage.auth("supervisor-twente"))  # fmt: skip
    assert still.json()["state"] == "open"


async def test_a_municipality_sending_absurd_subscription_bodies_creates_and_changes_nothing(
    notify: Running,
) -> None:
    pid = await provider_known(notify)
    created = await notify.client.post(
        "/v1/subscriptions", json={"url": "http://127.0.0.1:9/kept", "providers": [pid]},
        headers=notify.auth("subscriber"),
    )  # fmt: skip
    assert created.status_code == 201, created.text
    own = f"/v1/subscriptions/{created.json()['subscription_id']}"
    bodies = _subscription_bodies(pid)

    async with unchanged(notify):
        for body in bodies.values():
            await _refused(notify, "POST", "/v1/subscriptions", "subscriber", body)
            await _refused(notify, "PATCH", own, "subscriber", body)

    kept = await notify.client.get(own, headers=notify.auth("subscriber"))
    assert (kept.json()["url"], kept.json()["providers"]) == ("http://127.0.0.1:9/kept", [pid])


@pytest.mark.parametrize(
    ("service", "path"),
    [("triage", "/v1/investigations/{id}/close"), ("notify", "/v1/subscriptions")],
    indirect=["service"],
)
@pytest.mark.connected
async def test_an_oversized_body_is_refused_as_too_large_before_it_is_read(
    service: Running, path: str
) -> None:
    body = b" " * (8 * MIB) + b"{"
    url = path.replace("{id}", "00000000-0000-4000-8000-000000000000")
    keyless = await service.client.post(
        url, content=body, headers={"Content-Type": "application/json"}
    )
    answer = await service.client.post(
        url, content=body, headers={**service.auth("all"), "Content-Type": "application/json"}
    )

    assert_problem(keyless, 401)  # told it has no key, before anything is read
    assert_problem(answer, 413)
