"""Other parties' data: every service refuses a valid key reaching beyond its party, tracelessly.

A partner asks for another partner's submission, a region's supervisor for another region's
investigation, a municipality for the risk of a provider it has no tie to, a municipality
subscribes to such a provider or touches another's subscription. Each is refused as the API
says (a 404 that does not tell whether the thing exists, or a 403 naming why), the owner still
sees it, and no table of the service changes.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from security.cases import investigation_in_enschede, provider_known, scored_provider
from security.support import Running, assert_problem, operations, unchanged

pytestmark = pytest.mark.asyncio(loop_scope="session")

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "partners" / "examples"


async def test_a_partner_cannot_read_or_list_another_partners_submission(intake: Running) -> None:
    submitted = await intake.client.post(
        "/v1/signals/igj",
        content=(EXAMPLES / "igj.json").read_bytes(),
        headers={**intake.auth("igj"), "Content-Type": "application/json"},
    )
    csv = await intake.client.post(
        "/v1/signals/access-team",
        content=(EXAMPLES / "access-team.csv").read_bytes(),
        headers={**intake.auth("access-team"), "Content-Type": "text/csv; charset=utf-8"},
    )
    assert submitted.status_code == 202, submitted.text
    assert csv.status_code == 202, csv.text
    finding, upload = submitted.json()["submission_id"], csv.json()["submission_id"]

    async with unchanged(intake):
        for who in ("police", "police-noord", "access-team", "contract-management"):
            assert_problem(await intake.client.get(f"/v1/submissions/{finding}",
                                                   headers=intake.auth(who)), 404)  # fmt: skip
        for who in ("access-team-zuid", "igj", "police"):
            assert_problem(await intake.client.get(f"/v1/submissions/{upload}",
                                                   headers=intake.auth(who)), 404)  # fmt: skip
        listed = {
            who: await intake.client.get("/v1/submissions", headers=intake.auth(who))
            for who in ("police", "access-team-zuid", "igj", "access-team")
        }

    assert finding not in _ids(listed["police"].json())
    assert upload not in _ids(listed["access-team-zuid"].json())
    assert upload not in _ids(listed["igj"].json())
    assert finding not in _ids(listed["access-team"].json())
    # The owners (and the operators) still see theirs.
    assert finding in _ids(listed["igj"].json())
    assert upload in _ids(listed["access-team"].json())
    for who, sid in (("igj", finding), ("access-team", upload), ("operator", finding)):
        mine = await intake.client.get(f"/v1/submissions/{sid}", headers=intake.auth(who))
        assert mine.status_code == 200, (who, mine.text)


def _ids(listing: dict[str, list[dict[str, str]]]) -> set[str]:
    return {s["submission_id"] for s in listing["submissions"]}


async def test_a_supervisor_cannot_read_or_close_another_regions_investigation(
    triage: Running,
) -> None:
    case = await investigation_in_enschede(triage)
    reads = [
        f"/v1/investigations/{case.investigation_id}",
        f"/v1/assessments/{case.assessment_id}",
        f"/v1/signals/{case.signal_id}/assessment",
    ]

    async with unchanged(triage):
        for path in reads:
            assert_problem(await triage.client.get(path, headers=triage.auth("supervisor-nmd")),
                           404)  # fmt: skip
        listed = await triage.client.get(
            "/v1/investigations", params={"provider_id": case.provider_id},
            headers=triage.auth("supervisor-nmd"),
        )  # fmt: skip
        closed = await triage.client.post(
            f"/v1/investigations/{case.investigation_id}/close",
            json={"decision": "no_findings", "note": "Gesloten door een andere regio."},
            headers=triage.auth("supervisor-nmd"),
        )

    assert listed.json()["investigations"] == []
    assert_problem(closed, 404)
    for path in reads:  # Twente's supervisors see it, still open.
        own = await triage.client.get(path, headers=triage.auth("supervisor-twente"))
        assert own.status_code == 200, own.text
    still = await triage.client.get(reads[0], headers=triage.auth("supervisor-twente"))
    assert still.json()["state"] == "open"


async def test_a_municipality_cannot_read_the_risk_of_a_provider_it_has_no_tie_to(
    scoring: Running,
) -> None:
    pid = await scored_provider(scoring)  # a location in Enschede (GM0153) only

    async with unchanged(scoring):
        for who in ("GM0141", "GM0106", "region-nmd"):
            hidden = await scoring.client.get(f"/v1/providers/{pid}/risk",
                                              headers=scoring.auth(who))  # fmt: skip
            assert_problem(hidden, 404)
            listed = await scoring.client.get("/v1/providers", headers=scoring.auth(who))
            assert pid not in {p["provider_id"] for p in listed.json()["providers"]}, who

    own = await scoring.client.get(
        f"/v1/providers/{pid}/risk", headers=scoring.auth("municipality")
    )
    assert own.status_code == 200, own.text
    assert own.json()["level"] == "orange"


async def test_a_municipality_cannot_subscribe_beyond_its_providers_nor_touch_anothers_subscription(
    notify: Running,
) -> None:
    pid = await provider_known(notify)  # a location in Enschede (GM0153) only
    created = await notify.client.post(
        "/v1/subscriptions",
        json={"url": "http://127.0.0.1:9/enschede", "providers": [pid], "description": "Enschede"},
        headers=notify.auth("subscriber"),
    )
    assert created.status_code == 201, created.text
    theirs = created.json()["subscription_id"]
    # Every route that names a subscription, read from the OpenAPI document.
    on_theirs = [o for o in operations(notify.app) if "{subscription_id}" in o.path]
    assert on_theirs

    async with unchanged(notify):
        for who in ("GM0141", "GM0106"):
            posing = await notify.client.post(
                "/v1/subscriptions",
                json={"url": "http://127.0.0.1:9/elsewhere", "providers": [pid],
                      # A body cannot name another subscriber: the key decides who it is.
                      "subscriber": {"kind": "municipality", "id": "GM0153"}},
                headers=notify.auth(who),
            )  # fmt: skip
            problem = assert_problem(posing, 422)
            assert [e["pointer"] for e in problem["errors"]] == ["/subscriber"], who
            beyond = await notify.client.post(
                "/v1/subscriptions",
                json={"url": "http://127.0.0.1:9/elsewhere", "providers": [pid]},
                headers=notify.auth(who),
            )
            problem = assert_problem(beyond, 403)
            assert [e["pointer"] for e in problem["errors"]] == ["/providers"], who
            for operation in on_theirs:
                url = operation.path.replace("{subscription_id}", theirs)
                body = {"providers": [pid], "url": "http://127.0.0.1:9/taken", "paused": True}
                answer = await notify.client.request(
                    operation.method, url, headers=notify.auth(who),
                    json=body if operation.content_type else None,
                )  # fmt: skip
                assert_problem(answer, 404)
            listed = await notify.client.get("/v1/subscriptions", headers=notify.auth(who))
            assert theirs not in {s["subscription_id"] for s in listed.json()["subscriptions"]}

    own = await notify.client.get(f"/v1/subscriptions/{theirs}", headers=notify.auth("subscriber"))
    assert own.status_code == 200, own.text
    assert (own.json()["url"], own.json()["paused"]) == ("http://127.0.0.1:9/enschede", False)


async def test_an_unknown_provider_is_beyond_every_municipalitys_scope(notify: Running) -> None:
    unknown = f"prv-unknown-{uuid.uuid4().hex[:8]}"

    async with unchanged(notify):
        answer = await notify.client.post(
            "/v1/subscriptions",
            json={"url": "http://127.0.0.1:9/x", "providers": [unknown]},
            headers=notify.auth("subscriber"),
        )

    assert_problem(answer, 403)
