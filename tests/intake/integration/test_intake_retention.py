"""Intake's retention: the raw body (BSNs in clear) goes after its period, the receipt stays."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from intake.integration.support import EXAMPLES, Intake, registered
from zicht_intake.app import intake_purges
from zicht_runtime.retention import run_purges

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _submit(intake: Intake, body: bytes) -> tuple[int, str]:
    answer = await intake.client.post(
        "/v1/signals/igj", content=body,
        headers={**intake.auth("igj"), "Content-Type": "application/json"},
    )  # fmt: skip
    return answer.status_code, str(answer.json()["submission_id"])


async def test_a_raw_submission_is_purged_after_thirty_days_and_its_receipt_still_answers(
    intake: Intake,
) -> None:
    await registered(intake, "ozjt-000456")
    document = json.loads((EXAMPLES / "igj.json").read_text())
    document["zaaknummer"] = "IGJ-2026-008001"
    body = json.dumps(document).encode()
    first, submission = await _submit(intake, body)
    assert first == 202
    purges = intake_purges(intake.settings)
    received = intake.clock.now()

    early = await run_purges(intake.pool, purges, received + timedelta(days=29))
    kept = await intake.pool.fetchrow(
        "SELECT raw IS NOT NULL AS raw, purged_at FROM submissions WHERE submission_id = $1",
        submission,
    )
    late = await run_purges(intake.pool, purges, received + timedelta(days=31))
    row = await intake.pool.fetchrow(
        "SELECT raw, purged_at, content_digest, status FROM submissions WHERE submission_id = $1",
        submission,
    )
    status = await intake.client.get(f"/v1/submissions/{submission}", headers=intake.auth("igj"))
    again, replayed = await _submit(intake, body)

    assert kept is not None
    assert row is not None
    assert early["raw_submissions"] == 0
    assert (kept["raw"], kept["purged_at"]) == (True, None)
    assert late["raw_submissions"] >= 1
    assert row["raw"] is None, "the body with the BSN in clear is gone"
    assert row["purged_at"] == received + timedelta(days=31)
    assert row["content_digest"], "the digest stays"
    assert row["status"] == "accepted", "the receipt stays"
    assert status.status_code == 200
    assert status.json()["items"][0]["partner_reference"] == "IGJ-2026-008001"
    assert (again, replayed) == (200, submission), "a partner's retry is still a replay"


async def test_the_processing_log_is_kept_for_its_own_longer_period(intake: Intake) -> None:
    moment = intake.clock.now()
    await intake.pool.execute(
        "INSERT INTO processing_log (at, actor, action, purpose) VALUES "
        "($1, 'op', 'old read', 'test'), ($2, 'op', 'recent read', 'test')",
        moment - timedelta(days=366),
        moment - timedelta(days=200),
    )

    removed = await run_purges(intake.pool, intake_purges(intake.settings), moment)

    actions = {r["action"] for r in await intake.pool.fetch("SELECT action FROM processing_log")}
    assert removed["processing_log"] == 1
    assert "old read" not in actions
    assert "recent read" in actions
