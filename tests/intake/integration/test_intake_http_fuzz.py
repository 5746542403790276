"""Malformed input of every kind at every endpoint: a 4xx problem, never a 500, nothing lost."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.integration.support import Intake

pytestmark = pytest.mark.asyncio(loop_scope="session")

JSON_ENDPOINTS = [
    ("POST", "/v1/signals/igj", "igj"),
    ("POST", "/v1/signals/police", "police"),
    ("PUT", "/v1/providers/ozjt-000999", "contract-management"),
    ("POST", "/v1/providers/ozjt-000999/indicators", "contract-management"),
]
CSV_ENDPOINTS = [
    ("POST", "/v1/signals/access-team", "access-team"),
    ("POST", "/v1/providers/import", "contract-management"),
    ("POST", "/v1/indicators/import", "contract-management"),
]

HEADER = ";".join(
    ["kenmerk", "datum", "BSN", "aanbieder", "AGB-code", "postcode", "gemeente", "voorziening",
     "signaal", "ernst", "toelichting", "team"]
)  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["zaaknummer", "wet", "ernst", "registrationNumber", "name", "kvk",
                         "locations", "incidentCodes", "values", "bsn", "naam"]),
        json_values, max_size=6,
    ).map(lambda v: json.dumps(v).encode()),
)  # fmt: skip
# Any character a UTF-8 file can hold, NUL included (surrogates cannot be encoded at all).
CELL = st.characters(blacklist_categories=["Cs"])
csv_bodies = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.lists(st.text(alphabet=CELL, max_size=12),
                 min_size=1, max_size=13).map(";".join),
        max_size=5,
    ).map(lambda rows: "\n".join(
        [HEADER, *rows]).encode()),
)  # fmt: skip

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


async def _check(  # noqa: PLR0917  # one request, described in the order it is sent
    intake: Intake, method: str, path: str, role: str, body: bytes, ctype: str
) -> None:
    before = await intake.pool.fetchval("SELECT count(*) FROM submissions")
    answer = await intake.client.request(
        method, path, content=body, headers={**intake.auth(role), "Content-Type": ctype}
    )
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["status"] == answer.status_code
        if "submission_id" in problem:  # refused, but stored: nothing a partner sent is lost
            after = await intake.pool.fetchval("SELECT count(*) FROM submissions")
            assert after == before + 1


@pytest.mark.parametrize(("method", "path", "role"), JSON_ENDPOINTS)
@FUZZ
@given(body=bodies)
async def test_any_json_body_gets_an_answer_below_500(
    intake: Intake, method: str, path: str, role: str, body: bytes
) -> None:
    await _check(intake, method, path, role, body, "application/json")


@pytest.mark.parametrize(("method", "path", "role"), CSV_ENDPOINTS)
@FUZZ
@given(body=csv_bodies)
async def test_any_csv_body_gets_an_answer_below_500(
    intake: Intake, method: str, path: str, role: str, body: bytes
) -> None:
    await _check(intake, method, path, role, body, "text/csv; charset=utf-8")


async def test_oversized_deeply_nested_and_mistyped_bodies_are_refused_clearly(
    intake: Intake,
) -> None:
    igj = {**intake.auth("igj"), "Content-Type": "application/json"}
    huge = await intake.client.post("/v1/signals/igj", content=b"{" + b" " * 300_000 + b"}",
                                    headers=igj)  # fmt: skip
    nested = await intake.client.post("/v1/signals/igj", content=b"[" * 5000 + b"]" * 5000,
                                      headers=igj)  # fmt: skip
    wrong_type = await intake.client.post(
        "/v1/signals/igj", content=b"<xml/>",
        headers={**intake.auth("igj"), "Content-Type": "application/xml"},
    )  # fmt: skip
    no_key = await intake.client.post("/v1/signals/igj", content=b"{}")
    other_partner = await intake.client.post(
        "/v1/signals/igj", content=b"{}",
        headers={**intake.auth("police"), "Content-Type": "application/json"},
    )  # fmt: skip
    registry_by_team = await intake.client.put(
        "/v1/providers/ozjt-000123", content=b"{}",
        headers={**intake.auth("access-team"), "Content-Type": "application/json"},
    )  # fmt: skip

    assert huge.status_code == 413
    assert nested.status_code == 400
    assert wrong_type.status_code == 415
    assert no_key.status_code == 401
    assert other_partner.status_code == 403
    assert registry_by_team.status_code == 403
    for answer in (huge, nested, wrong_type, no_key, other_partner, registry_by_team):
        assert answer.headers["content-type"] == "application/problem+json"


async def test_schemathesis_finds_no_server_error_in_the_openapi(
    intake: Intake, tmp_path: Path
) -> None:
    from zicht_devtools.devstack import find_free_port  # noqa: PLC0415

    port = find_free_port()
    transport = intake.client._transport  # the app the fixture started
    app = transport.app  # type: ignore[attr-defined]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))  # fmt: skip
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  # uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "schemathesis.cli", "run",
            f"http://127.0.0.1:{port}/openapi.json",
            "--checks", "not_a_server_error",
            "--max-examples", "25", "--phases", "examples,fuzzing,stateful", "--workers", "2",
            "--header", f"Authorization: Bearer {intake.keys['contract-management']}",
            "--seed", "1",
            "--no-color",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    finally:
        server.should_exit = True
        await task
    text = output.decode()
    assert process.returncode == 0, text[-4000:]
