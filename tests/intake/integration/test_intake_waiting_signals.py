"""A signal about a provider the registry does not know yet goes on once the provider is known.

New, unknown providers are often the risky ones: their signals must not wait for an operator
when contract management registers the provider, by HTTP or by a registry file, nor stay
stuck when they were stored by an earlier version of intake.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from intake.integration.support import EXAMPLES, Intake, find_events
from kit.helpers import wait_for
from zicht_intake.app import MIGRATIONS, create_service
from zicht_schemas import SignalReceivedV1, topics

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Synthetic providers of this module only: KvK 99000061..63, postcodes 7599 A?.
_ENTRY = {
    "legal_form": "bv",
    "founded_on": "2025-11-01",
    "contracting_municipalities": ["GM0153"],
}


def _entry(name: str, kvk: str, postcode: str) -> dict[str, object]:
    return {
        "name": name,
        "kvk": kvk,
        **_ENTRY,
        "locations": [
            {
                "location_id": "hoofdlocatie",
                "name": "Hoofdlocatie",
                "street": "Proefweg",
                "house_number": 9,
                "postcode": postcode,
                "municipality_code": "GM0153",
                "services": ["guidance"],
            }
        ],
    }


def _igj_about(reference: str, name: str, kvk: str, postcode: str) -> dict[str, object]:
    body: dict[str, object] = json.loads((EXAMPLES / "igj.json").read_text())
    body["zaaknummer"] = reference
    body["zorgaanbieder"] = {"naam": name, "kvkNummer": kvk}
    location = body["locatie"]
    assert isinstance(location, dict)
    location["postcode"] = postcode
    return body


async def _item_status(intake: Intake, submission: str) -> str:
    answer = await intake.client.get(f"/v1/submissions/{submission}", headers=intake.auth("igj"))
    return str(answer.json()["items"][0]["status"])


async def _waiting(intake: Intake, submission: str) -> None:
    async def waits() -> bool:
        return await _item_status(intake, submission) == "needs_provider"

    await wait_for(waits, within=30, what="the signal to wait for its provider")


async def _submitted_waiting(intake: Intake, body: dict[str, object]) -> str:
    """Send an IGJ finding over HTTP; its submission id once its signal waits."""
    answer = await intake.client.post(
        "/v1/signals/igj", content=json.dumps(body).encode(),
        headers={**intake.auth("igj"), "Content-Type": "application/json"},
    )  # fmt: skip
    submission = str(answer.json()["submission_id"])
    await _waiting(intake, submission)
    return submission


async def _register(intake: Intake, provider_id: str, entry: dict[str, object]) -> None:
    registered = await intake.client.put(
        f"/v1/providers/{provider_id}", content=json.dumps(entry).encode(),
        headers={**intake.auth("contract-management"), "Content-Type": "application/json"},
    )  # fmt: skip
    assert registered.status_code in {200, 202}, registered.text


async def test_a_waiting_signal_goes_on_when_its_provider_is_registered_over_http(
    intake: Intake,
) -> None:
    body = _igj_about("IGJ-2026-007101", "Nieuwe Zorg Proef B.V.", "99000061", "7599 AA")
    submission = await _submitted_waiting(intake, body)

    await _register(intake, "tst-000061", _entry("Nieuwe Zorg Proef B.V.", "99000061", "7599AA"))

    [event] = await find_events(
        intake, topics.SIGNAL_RECEIVED, SignalReceivedV1,
        lambda e: str(e.data.submission_id) == submission,
    )  # fmt: skip
    assert event.data.provider.provider_id == "tst-000061"
    assert event.data.provider.matched_by == "kvk"
    assert await _item_status(intake, submission) != "needs_provider"


async def test_a_waiting_kafka_signal_goes_on_when_a_registry_file_names_its_provider(
    intake: Intake,
) -> None:
    body = _igj_about("IGJ-2026-007102", "Proefhulp Oost B.V.", "99000062", "7599 AB")
    producer = AIOKafkaProducer(bootstrap_servers=intake.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.PARTNER_IGJ, json.dumps(body).encode(), key=b"IGJ-2026-007102",
            headers=[("content-type", b"application/json")],
        )  # fmt: skip
    finally:
        await producer.stop()

    async def stored() -> bool:
        status = await intake.pool.fetchval(
            "SELECT status FROM signals WHERE partner_reference = 'IGJ-2026-007102'"
        )
        return bool(status == "needs_provider")

    await wait_for(stored, within=60, what="the Kafka signal to wait for its provider")
    header = (EXAMPLES / "registry.csv").read_text(encoding="utf-8").splitlines()[0]
    row = (
        "tst-000062;Proefhulp Oost B.V.;99000062;;bv;2025-11-01;GM0153;hoofd;Hoofdlocatie;"
        "Proefweg;9;;7599AB;GM0153;guidance"
    )
    imported = await intake.client.post(
        "/v1/providers/import", content=f"{header}\n{row}\n".encode(),
        headers={**intake.auth("contract-management"), "Content-Type": "text/csv"},
    )  # fmt: skip

    assert imported.status_code in {200, 202}, imported.text
    [event] = await find_events(
        intake, topics.SIGNAL_RECEIVED, SignalReceivedV1,
        lambda e: e.data.partner_reference == "IGJ-2026-007102",
    )  # fmt: skip
    assert event.data.provider.provider_id == "tst-000062"


async def test_a_signal_stored_as_a_json_string_by_an_earlier_version_is_released_after_upgrade(
    intake: Intake,
) -> None:
    body = _igj_about("IGJ-2026-007103", "Oudzorg Proef B.V.", "99000063", "7599 AC")
    submission = await _submitted_waiting(intake, body)
    # How earlier versions stored it: the draft as one JSON string, invisible to ->>.
    await intake.pool.execute(
        "UPDATE signals SET draft = to_jsonb(draft::text) WHERE partner_reference = $1",
        "IGJ-2026-007103",
    )
    await _register(intake, "tst-000063", _entry("Oudzorg Proef B.V.", "99000063", "7599AC"))
    assert await _item_status(intake, submission) == "needs_provider"  # the old defect

    # The upgrade: the migration unwraps stored strings, the sweep at start releases.
    sql = (Path(MIGRATIONS) / "0004_jsonb_objects.sql").read_text(encoding="utf-8")
    async with intake.pool.acquire() as conn:
        await conn.execute(sql)
        kinds = await conn.fetch("SELECT DISTINCT jsonb_typeof(draft) AS kind FROM signals")
        entries = await conn.fetch("SELECT DISTINCT jsonb_typeof(entry) AS kind FROM providers")
        async with conn.transaction():
            released = await create_service(intake.settings, intake.clock).release_waiting(conn)

    assert {r["kind"] for r in kinds} == {"object"}
    assert {r["kind"] for r in entries} == {"object"}
    assert len(released) == 1
    [event] = await find_events(
        intake, topics.SIGNAL_RECEIVED, SignalReceivedV1,
        lambda e: str(e.data.submission_id) == submission,
    )  # fmt: skip
    assert event.data.provider.provider_id == "tst-000063"
