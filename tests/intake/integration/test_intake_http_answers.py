"""What intake answers over HTTP: replays, conflicts, refusals, limits (real Postgres, broker)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from intake.integration.support import EXAMPLES, Intake, registered
from zicht_intake.api import ROLES
from zicht_intake.domain import limits
from zicht_runtime.auth import KeyStore

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _igj(reference: str) -> dict[str, object]:
    body: dict[str, object] = json.loads((EXAMPLES / "igj.json").read_text())
    body["zaaknummer"] = reference
    return body


async def test_a_reserialised_igj_finding_under_the_same_zaaknummer_is_answered_as_a_replay(
    intake: Intake,
) -> None:
    await registered(intake, "ozjt-000456")
    body = _igj("IGJ-2026-008001")
    headers = {**intake.auth("igj"), "Content-Type": "application/json"}
    compact = json.dumps(body, separators=(",", ":")).encode()
    # The same document as another tool writes it: members in another order, indented, and
    # non-ASCII text escaped.
    reordered = dict(reversed(list(body.items())))
    rewritten = json.dumps(reordered, indent=4, ensure_ascii=True).encode()
    assert rewritten != compact

    first = await intake.client.post("/v1/signals/igj", content=compact, headers=headers)
    again = await intake.client.post("/v1/signals/igj", content=rewritten, headers=headers)

    assert first.status_code == 202, first.text
    assert again.status_code == 200, again.text
    assert again.json()["submission_id"] == first.json()["submission_id"]
    assert again.json()["replayed"] is True
    assert again.headers["Location"] == first.headers["Location"]


async def test_a_reused_idempotency_key_with_another_body_is_refused_at_the_header(
    intake: Intake,
) -> None:
    await registered(intake, "ozjt-000456")
    headers = {
        **intake.auth("igj"), "Content-Type": "application/json",
        "Idempotency-Key": "igj-batch-0042",
    }  # fmt: skip
    first = await intake.client.post(
        "/v1/signals/igj", content=json.dumps(_igj("IGJ-2026-008002")).encode(), headers=headers
    )
    # Another finding (its own zaaknummer, never sent before) under the same key.
    other = await intake.client.post(
        "/v1/signals/igj", content=json.dumps(_igj("IGJ-2026-008003")).encode(), headers=headers
    )

    assert first.status_code == 202, first.text
    assert other.status_code == 409, other.text
    problem = other.json()
    assert problem["type"] == "urn:zicht:problem:idempotency-key-reused"
    [error] = problem["errors"]
    assert error["code"] == "duplicate_reference"
    assert error["header"] == "Idempotency-Key"
    assert "pointer" not in error
    stored = await intake.pool.fetchval(
        "SELECT count(*) FROM submissions WHERE submission_id = $1", problem["submission_id"]
    )
    assert stored == 1, "the refused submission is kept raw"


async def _streamed(size: int) -> AsyncIterator[bytes]:
    """A JSON-looking body of ``size`` bytes, sent without a declared length."""
    yield b"{"
    for _ in range(size // 65_536):
        yield b" " * 65_536
    yield b"}"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_a_10_mb_igj_body_is_refused_naming_the_routes_own_256_kib_limit(
    intake: Intake, declared: bool
) -> None:
    headers = {**intake.auth("igj"), "Content-Type": "application/json"}
    size = 10 * 1024 * 1024
    body = b"{" + b" " * size + b"}" if declared else _streamed(size)

    answer = await intake.client.post("/v1/signals/igj", content=body, headers=headers)

    assert answer.status_code == 413, answer.text
    problem = answer.json()
    assert problem["type"] == "urn:zicht:problem:too-large"
    assert problem["detail"] == "The limit is 262144 bytes."
    assert problem["limit_bytes"] == limits.MAX_JSON_SIGNAL_BYTES == 262_144


async def _stored(intake: Intake, raw: bytes) -> asyncpg.Record:
    """The submission stored with exactly these bytes (found by their digest)."""
    row = await intake.pool.fetchrow(
        "SELECT submission_id, raw, status, rejections FROM submissions WHERE content_digest = $1",
        hashlib.sha256(raw).digest(),
    )
    assert row is not None, "the refused submission is kept raw"
    return row


async def test_an_igj_finding_with_a_nul_in_its_text_is_refused_and_kept_raw_byte_for_byte(
    intake: Intake,
) -> None:
    body = _igj("IGJ-2026-008004")
    body["omschrijving"] = "Synthetisch voorbeeld.\u0000 Daarna niets meer."
    raw = json.dumps(body).encode()
    assert b"\\u0000" in raw

    answer = await intake.client.post(
        "/v1/signals/igj", content=raw,
        headers={**intake.auth("igj"), "Content-Type": "application/json"},
    )  # fmt: skip

    stored = await _stored(intake, raw)
    assert bytes(stored["raw"]) == raw
    assert stored["status"] == "rejected"
    assert "NUL" in json.dumps(stored["rejections"])
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["submission_id"] == str(stored["submission_id"])
    [error] = problem["errors"]
    assert error["code"] == "malformed_payload"
    assert "NUL" in error["detail"]
    assert error["pointer"] == "/omschrijving"


async def test_an_access_team_csv_with_a_nul_byte_is_refused_and_kept_raw_byte_for_byte(
    intake: Intake,
) -> None:
    raw = (EXAMPLES / "access-team.csv").read_bytes().replace(b"Synthetisch", b"Synth\x00etisch", 1)

    answer = await intake.client.post(
        "/v1/signals/access-team", content=raw,
        headers={**intake.auth("access-team"), "Content-Type": "text/csv; charset=utf-8"},
    )  # fmt: skip

    stored = await _stored(intake, raw)
    assert bytes(stored["raw"]) == raw
    assert stored["status"] == "rejected"
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["submission_id"] == str(stored["submission_id"])
    assert [e["code"] for e in problem["errors"]] == ["malformed_payload"]
    assert "NUL" in problem["errors"][0]["detail"]


@pytest.mark.parametrize(
    ("path", "example", "role"),
    [("/v1/signals/access-team", "access-team-invalid.csv", "access-team"),
     ("/v1/providers/import", "registry-invalid.csv", "contract-management"),
     ("/v1/indicators/import", "indicators-invalid.csv", "contract-management")],
)  # fmt: skip
async def test_a_csv_files_answer_and_status_name_each_part_by_its_row_in_the_file(
    intake: Intake, path: str, example: str, role: str
) -> None:
    for provider in ("ozjt-000123", "ozjt-000456", "ozjt-000789"):
        await registered(intake, provider)
    body = (EXAMPLES / example).read_bytes()
    data_rows = len(body.decode().splitlines()) - 1

    answer = await intake.client.post(
        path, content=body, headers={**intake.auth(role), "Content-Type": "text/csv"}
    )
    status = await intake.client.get(answer.headers["Location"], headers=intake.auth(role))

    assert answer.status_code == 202, answer.text
    answered = answer.json()["items"]
    shown = status.json()["items"]
    assert [item["row"] for item in answered] == [item["row"] for item in shown]
    # Rows as a spreadsheet shows them: the header is row 1, data rows are 2 and up.
    assert all(2 <= item["row"] <= data_rows + 1 for item in shown)
    assert [item["status"] for item in answered] == [item["status"] for item in shown]
    assert {item["status"] for item in shown} <= {"accepted", "needs_provider", "rejected"}
    for item in shown:
        for rejection in item.get("rejections", []):
            # A rejection inside a part names a row of that part (never before its first row).
            assert rejection["row"] >= item["row"]


async def _signal_with_free_text(intake: Intake, reference: str) -> tuple[str, str]:
    """Submit an IGJ finding; its signal id and the omschrijving it was sent with."""
    await registered(intake, "ozjt-000456")
    body = _igj(reference)
    answer = await intake.client.post(
        "/v1/signals/igj", content=json.dumps(body).encode(),
        headers={**intake.auth("igj"), "Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    status = await intake.client.get(answer.headers["Location"], headers=intake.auth("igj"))
    return status.json()["items"][0]["signal_id"], str(body["omschrijving"])


async def _key(intake: Intake, party: str, scopes: list[str]) -> dict[str, str]:
    issued = await KeyStore(intake.pool).create(party, scopes)
    return {"Authorization": f"Bearer {issued.secret}"}


async def test_a_supervisor_reads_a_signals_free_text_and_the_read_is_logged(
    intake: Intake,
) -> None:
    signal_id, omschrijving = await _signal_with_free_text(intake, "IGJ-2026-008005")
    supervisor = await _key(intake, "toezicht-twente", list(ROLES["supervisor"]))

    answer = await intake.client.get(f"/v1/signals/{signal_id}/free-text", headers=supervisor)

    assert answer.status_code == 200, answer.text
    assert answer.json()["free_text"] == omschrijving
    assert answer.json()["source"] == "igj"
    reads = await intake.pool.fetch(
        "SELECT actor, purpose FROM processing_log "
        "WHERE signal_id = $1 AND action = 'read free text of a signal'",
        uuid.UUID(signal_id),
    )
    assert [r["actor"] for r in reads] == ["supervisor:toezicht-twente"]
    assert reads[0]["purpose"]


async def test_a_key_without_the_free_text_scope_may_not_read_a_signals_free_text(
    intake: Intake,
) -> None:
    signal_id, _ = await _signal_with_free_text(intake, "IGJ-2026-008006")

    by_operator = await intake.client.get(
        f"/v1/signals/{signal_id}/free-text", headers=intake.auth("operator")
    )
    by_signaller = await intake.client.get(
        f"/v1/signals/{signal_id}/free-text", headers=intake.auth("igj")
    )

    assert by_operator.status_code == 403, by_operator.text
    assert by_signaller.status_code == 403, by_signaller.text
    assert by_operator.headers["content-type"] == "application/problem+json"
    logged = await intake.pool.fetchval(
        "SELECT count(*) FROM processing_log "
        "WHERE signal_id = $1 AND action = 'read free text of a signal'",
        uuid.UUID(signal_id),
    )
    assert logged == 0


async def test_reading_the_free_text_of_an_unknown_signal_is_not_found(intake: Intake) -> None:
    supervisor = await _key(intake, "toezicht-twente", list(ROLES["supervisor"]))

    answer = await intake.client.get(f"/v1/signals/{uuid.uuid4()}/free-text", headers=supervisor)

    assert answer.status_code == 404, answer.text
    assert answer.json()["title"] == "No such signal"  # the route's answer, not "no such route"


@pytest.mark.parametrize("idempotency_key", [None, "igj-retry-0099"], ids=["zaaknummer", "key"])
async def test_the_same_finding_from_16_clients_at_once_is_one_signal_with_16_consistent_answers(
    intake: Intake, idempotency_key: str | None
) -> None:
    await registered(intake, "ozjt-000456")
    reference = f"IGJ-2026-0081{0 if idempotency_key is None else 1}0"
    headers = {**intake.auth("igj"), "Content-Type": "application/json"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    body = json.dumps(_igj(reference)).encode()

    answers = await asyncio.gather(
        *(intake.client.post("/v1/signals/igj", content=body, headers=headers) for _ in range(16))
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 15 + [202], [a.text for a in answers if a.status_code >= 300]
    assert len({a.json()["submission_id"] for a in answers}) == 1, "one submission for all"
    assert sum(bool(a.json().get("replayed")) for a in answers) == 15
    signals = await intake.pool.fetchval(
        "SELECT count(*) FROM signals WHERE partner_reference = $1", reference
    )
    assert signals == 1
    published = await intake.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE topic = 'intake.signal-received.v1' "
        "AND position($1::bytea in value) > 0",
        reference.encode(),
    )
    assert published == 1, "one signal-received event"
