"""Intake against the real broker and Postgres: each partner format becomes a signal."""

from __future__ import annotations

import json
import re

import pytest
from aiokafka import AIOKafkaProducer

from intake.integration.support import EXAMPLES, Intake, find_events, publish_assessment, registered
from kit.helpers import wait_for
from zicht_schemas import SignalReceivedV1, SignalRejectedV1, topics

pytestmark = pytest.mark.asyncio(loop_scope="session")

BSN = re.compile(rb"\b9999\d{5}\b")


async def test_an_igj_finding_becomes_a_signal_with_igj_codes_mapped_to_zicht(
    intake: Intake,
) -> None:
    await registered(intake, "ozjt-000456")
    body = (EXAMPLES / "igj.json").read_bytes()

    answer = await intake.client.post(
        "/v1/signals/igj", content=body,
        headers={**intake.auth("igj"), "Content-Type": "application/json"},
    )  # fmt: skip

    assert answer.status_code == 202, answer.text
    submission = answer.json()["submission_id"]
    assert answer.headers["Location"] == f"/v1/submissions/{submission}"
    [event] = await find_events(
        intake, topics.SIGNAL_RECEIVED, SignalReceivedV1,
        lambda e: str(e.data.submission_id) == submission,
    )  # fmt: skip
    signal = event.data
    assert signal.partner_reference == "IGJ-2026-004711"
    assert (signal.law, signal.category, signal.severity) == ("jeugdwet", "calamity", "high")
    assert signal.vulnerable_group == "youth"
    assert {s.code for s in signal.shortcomings} == {"reporting", "staff_numbers"}
    assert signal.provider.provider_id == "ozjt-000456"
    assert signal.provider.matched_by == "kvk"
    assert signal.location.municipality_code == "GM0153"
    assert signal.occurred_at.tzinfo is not None
    assert event.subject == "ozjt-000456"


async def test_a_resubmitted_igj_finding_returns_the_first_submission_and_no_second_event(
    intake: Intake,
) -> None:
    await registered(intake, "ozjt-000456")
    body = json.loads((EXAMPLES / "igj.json").read_text())
    body["zaaknummer"] = "IGJ-2026-004712"
    raw = json.dumps(body).encode()
    headers = {**intake.auth("igj"), "Content-Type": "application/json"}

    first = await intake.client.post("/v1/signals/igj", content=raw, headers=headers)
    again = await intake.client.post("/v1/signals/igj", content=raw, headers=headers)
    body["ernst"] = 1
    changed = await intake.client.post(
        "/v1/signals/igj", content=json.dumps(body).encode(), headers=headers
    )

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["submission_id"] == first.json()["submission_id"]
    assert again.json()["replayed"] is True
    assert changed.status_code == 409
    assert changed.headers["content-type"] == "application/problem+json"
    assert changed.json()["errors"][0]["code"] == "duplicate_reference"
    events = await find_events(
        intake, topics.SIGNAL_RECEIVED, SignalReceivedV1,
        lambda e: e.data.partner_reference == "IGJ-2026-004712",
    )  # fmt: skip
    assert len(events) == 1


async def test_an_idempotency_key_makes_a_retry_return_the_first_submission(
    intake: Intake,
) -> None:
    await registered(intake, "ozjt-000123")
    body = (
        (EXAMPLES / "police.json").read_bytes().replace(b"PL0600-2026004217", b"PL0600-2026009999")
    )
    headers = {
        **intake.auth("police"), "Content-Type": "application/json",
        "Idempotency-Key": "retry-7f3a",
    }  # fmt: skip

    first = await intake.client.post("/v1/signals/police", content=body, headers=headers)
    second = await intake.client.post("/v1/signals/police", content=body, headers=headers)

    assert first.status_code == 202
    assert second.json()["submission_id"] == first.json()["submission_id"]


async def test_a_police_raid_is_matched_by_postcode_and_house_number_without_a_kvk(
    intake: Intake,
) -> None:
    await registered(intake, "ozjt-000123")
    body = (EXAMPLES / "police.json").read_bytes()

    answer = await intake.client.post(
        "/v1/signals/police", content=body,
        headers={**intake.auth("police"), "Content-Type": "application/json"},
    )  # fmt: skip

    assert answer.status_code == 202, answer.text
    submission = answer.json()["submission_id"]
    [event] = await find_events(
        intake, topics.SIGNAL_RECEIVED, SignalReceivedV1,
        lambda e: str(e.data.submission_id) == submission,
    )  # fmt: skip
    signal = event.data
    assert signal.provider.provider_id == "ozjt-000123"
    assert signal.provider.matched_by == "name_and_postcode"
    assert "raid" in signal.crime_indicators
    assert "ammunition" in signal.crime_indicators
    assert signal.location.municipality_code == "GM0164"
    assert signal.law == "wmo"  # the location offers sheltered housing only
    # The suspect's BSN is no client's: it is not pseudonymised into the signal at all.
    assert signal.client_pseudonyms == ()
    assert signal.clients_involved == 1
    assert b"999958379" not in event.data.model_dump_json().encode()


async def test_an_access_team_file_with_good_and_bad_rows_accepts_the_good_ones(
    intake: Intake,
) -> None:
    for provider in ("ozjt-000123", "ozjt-000456", "ozjt-000789"):
        await registered(intake, provider)
    body = (EXAMPLES / "access-team-invalid.csv").read_bytes()

    answer = await intake.client.post(
        "/v1/signals/access-team", content=body,
        headers={**intake.auth("access-team"), "Content-Type": "text/csv; charset=utf-8"},
    )  # fmt: skip

    assert answer.status_code == 202, answer.text
    submission = answer.json()["submission_id"]
    status = (
        await intake.client.get(f"/v1/submissions/{submission}", headers=intake.auth("access-team"))
    ).json()
    assert status["status"] == "partially_accepted"
    by_row = {item["row"]: item for item in status["items"]}
    assert by_row[2]["status"] == "accepted"
    assert by_row[3]["status"] == "rejected"
    assert by_row[3]["rejections"][0]["column"] == "BSN"
    assert "999910451" not in json.dumps(status)
    accepted = [i["signal_id"] for i in status["items"] if "signal_id" in i]
    events = await find_events(
        intake, topics.SIGNAL_RECEIVED, SignalReceivedV1,
        lambda e: str(e.data.submission_id) == submission, expected=len(accepted),
    )  # fmt: skip
    assert sorted(str(e.data.signal_id) for e in events) == sorted(accepted)
    rejected = await find_events(
        intake, topics.SIGNAL_REJECTED, SignalRejectedV1,
        lambda e: str(e.data.submission_id) == submission,
        expected=sum(i["status"] == "rejected" for i in status["items"]),
    )  # fmt: skip
    assert all(e.data.partner_id == "wijkteam-enschede-noord" for e in rejected)


async def test_a_signal_about_an_unknown_provider_waits_until_an_operator_names_it(
    intake: Intake,
) -> None:
    body = json.loads((EXAMPLES / "igj.json").read_text())
    body["zaaknummer"] = "IGJ-2026-004799"
    body["zorgaanbieder"] = {"naam": "Onbekende Zorg B.V.", "kvkNummer": "99000099"}
    body["locatie"]["postcode"] = "7599 ZZ"
    answer = await intake.client.post(
        "/v1/signals/igj", content=json.dumps(body).encode(),
        headers={**intake.auth("igj"), "Content-Type": "application/json"},
    )  # fmt: skip
    submission = answer.json()["submission_id"]
    status = (
        await intake.client.get(f"/v1/submissions/{submission}", headers=intake.auth("igj"))
    ).json()
    assert status["items"][0]["status"] == "needs_provider"

    await registered(intake, "ozjt-000789")
    refused = await intake.client.post(
        f"/v1/submissions/{submission}/provider", json={"provider_id": "ozjt-000789"},
        headers=intake.auth("igj"),
    )  # fmt: skip
    resolved = await intake.client.post(
        f"/v1/submissions/{submission}/provider", json={"provider_id": "ozjt-000789"},
        headers=intake.auth("operator"),
    )  # fmt: skip

    assert refused.status_code == 403
    assert resolved.status_code == 200, resolved.text
    [event] = await find_events(
        intake, topics.SIGNAL_RECEIVED, SignalReceivedV1,
        lambda e: str(e.data.submission_id) == submission,
    )  # fmt: skip
    assert event.data.provider.provider_id == "ozjt-000789"
    assert event.data.provider.matched_by == "registry_id"


async def test_a_partner_sees_only_its_own_submissions(intake: Intake) -> None:
    body = (EXAMPLES / "igj.json").read_bytes()
    answer = await intake.client.post(
        "/v1/signals/igj", content=body,
        headers={**intake.auth("igj"), "Content-Type": "application/json"},
    )  # fmt: skip
    submission = answer.json()["submission_id"]

    own = await intake.client.get(f"/v1/submissions/{submission}", headers=intake.auth("igj"))
    other = await intake.client.get(f"/v1/submissions/{submission}", headers=intake.auth("police"))
    listing = await intake.client.get("/v1/submissions", headers=intake.auth("police"))

    assert own.status_code == 200
    assert other.status_code == 404
    assert all(s["submission_id"] != submission for s in listing.json()["submissions"])


async def test_partner_kafka_topics_go_through_the_same_normalisers(intake: Intake) -> None:
    await registered(intake, "ozjt-000456")
    body = json.loads((EXAMPLES / "igj.json").read_text())
    body["zaaknummer"] = "IGJ-2026-005001"
    producer = AIOKafkaProducer(bootstrap_servers=intake.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.PARTNER_IGJ, json.dumps(body).encode(), key=b"IGJ-2026-005001",
            headers=[("content-type", b"application/json")],
        )  # fmt: skip
        await producer.send_and_wait(
            topics.PARTNER_IGJ, b"{not json", key=b"IGJ-2026-005002",
            headers=[("content-type", b"application/json")],
        )  # fmt: skip
    finally:
        await producer.stop()

    [event] = await find_events(
        intake, topics.SIGNAL_RECEIVED, SignalReceivedV1,
        lambda e: e.data.partner_reference == "IGJ-2026-005001", within=60,
    )  # fmt: skip
    assert event.data.source == "igj"
    [rejected] = await find_events(
        intake, topics.SIGNAL_REJECTED, SignalRejectedV1,
        lambda e: e.data.partner_reference == "IGJ-2026-005002", within=60,
    )  # fmt: skip
    assert rejected.data.reasons[0].code == "malformed_payload"
    listed = await intake.client.get(
        "/v1/submissions", params={"partner_reference": "IGJ-2026-005002"},
        headers=intake.auth("igj"),
    )  # fmt: skip
    assert [s["status"] for s in listed.json()["submissions"]] == ["rejected"]


async def test_the_signaller_sees_the_triage_outcome_of_its_signal(intake: Intake) -> None:
    await registered(intake, "ozjt-000456")
    body = json.loads((EXAMPLES / "igj.json").read_text())
    body["zaaknummer"] = "IGJ-2026-006001"
    answer = await intake.client.post(
        "/v1/signals/igj", content=json.dumps(body).encode(),
        headers={**intake.auth("igj"), "Content-Type": "application/json"},
    )  # fmt: skip
    submission = answer.json()["submission_id"]
    [event] = await find_events(
        intake, topics.SIGNAL_RECEIVED, SignalReceivedV1,
        lambda e: str(e.data.submission_id) == submission,
    )  # fmt: skip

    await publish_assessment(intake, event.data)

    async def assessed() -> bool:
        status = await intake.client.get(
            f"/v1/submissions/{submission}", headers=intake.auth("igj")
        )
        return "assessment" in status.json()["items"][0]

    await wait_for(assessed, within=60, what="the assessment to reach intake")
    item = (
        await intake.client.get(f"/v1/submissions/{submission}", headers=intake.auth("igj"))
    ).json()["items"][0]
    assert item["status"] == "accepted"
    assert item["assessment"]["outcome"] == "investigate"
    assert item["assessment"]["reasons"][0]["text_en"]
    assert item["investigation"]["state"] == "open"


async def test_no_bsn_reaches_any_event_topic_or_dead_letter_topic(intake: Intake) -> None:
    from kit.helpers import read_topic  # noqa: PLC0415

    # One finding with a BSN in it of its own (a replay if an earlier test sent it already),
    # so the scan below never looks at an empty store when the test runs first or alone.
    await registered(intake, "ozjt-000123")
    body = (EXAMPLES / "police.json").read_bytes()
    assert BSN.search(body), "the example must carry a BSN"
    answer = await intake.client.post(
        "/v1/signals/police", content=body,
        headers={**intake.auth("police"), "Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status_code in {200, 202}, answer.text
    # Everything this and the module's other tests produced.
    for topic in (
        topics.SIGNAL_RECEIVED, topics.SIGNAL_REJECTED,
        f"{topics.PARTNER_IGJ}.dlq", f"{topics.SIGNAL_ASSESSED}.dlq",
    ):  # fmt: skip
        records = await read_topic(intake.bootstrap, topic, expected=0, within=2)
        for record in records:
            assert not BSN.search(record.value or b""), topic
            assert not any(BSN.search(v) for _, v in record.headers), topic
    assert intake.log_lines, "the service logged nothing: the scan would prove nothing"
    assert not [line for line in intake.log_lines if BSN.search(line.encode())]
    async with intake.pool.acquire() as conn:
        kept = await conn.fetch("SELECT draft::text AS d, free_text FROM signals")
    assert kept
    assert not [r for r in kept if BSN.search((r["d"] + (r["free_text"] or "")).encode())]


@pytest.mark.parametrize(
    ("path", "example", "invalid"),
    [("/v1/providers/import", "registry.csv", "registry-invalid.csv"),
     ("/v1/indicators/import", "indicators.csv", "indicators-invalid.csv")],
)  # fmt: skip
async def test_contract_managements_csv_imports_accept_and_refuse_each_provider_on_its_own(
    intake: Intake, path: str, example: str, invalid: str
) -> None:
    headers = {**intake.auth("contract-management"), "Content-Type": "text/csv; charset=utf-8"}

    good = await intake.client.post(path, content=(EXAMPLES / example).read_bytes(),
                                    headers=headers)  # fmt: skip
    mixed = await intake.client.post(path, content=(EXAMPLES / invalid).read_bytes(),
                                     headers=headers)  # fmt: skip

    assert good.status_code == 202, good.text
    assert good.json()["status"] == "accepted"
    status = (
        await intake.client.get(
            good.headers["Location"], headers=intake.auth("contract-management")
        )
    ).json()
    assert status["items"]
    assert {item["status"] for item in status["items"]} == {"accepted"}
    # The documented invalid examples accept some providers and refuse the others.
    assert mixed.status_code == 202, mixed.text
    assert mixed.json()["status"] == "partially_accepted"
    items = (
        await intake.client.get(mixed.headers["Location"],
                                headers=intake.auth("contract-management"))
    ).json()["items"]  # fmt: skip
    assert any(item["status"] == "rejected" and item["rejections"] for item in items)
    assert any(item["status"] == "accepted" for item in items)
