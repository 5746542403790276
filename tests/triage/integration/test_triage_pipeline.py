"""Triage against the real broker and Postgres: signals assessed, investigations kept."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from support.clock import SteppingClock
from support.events import events_on
from zicht_devtools.devstack import PostgresDatabases
from zicht_runtime.auth import KeyStore
from zicht_runtime.kit import ServiceKit
from zicht_schemas import (
    CloudEvent,
    InvestigationChangedV1,
    ProviderLocation,
    ProviderMatch,
    ProviderRegisteredV1,
    SignalAssessedV1,
    SignalLocation,
    SignalProvider,
    SignalReceivedV1,
    new_event,
    source_urn,
    to_kafka_record,
    topics,
)
from zicht_triage.app import create_app, create_kit, create_service
from zicht_triage.config import TriageSettings
from zicht_triage.domain import load_framework
from zicht_triage.service import TriageService

pytestmark = pytest.mark.asyncio(loop_scope="session")

INTAKE = source_urn("00000001000000000000", "intake-test")


@dataclass
class Triage:
    """The running triage service."""

    client: httpx.AsyncClient
    kit: ServiceKit
    pool: asyncpg.Pool
    bootstrap: str
    settings: TriageSettings
    clock: SteppingClock
    key: str
    service: TriageService

    @property
    def auth(self) -> dict[str, str]:
        """A supervisor's Authorization header."""
        return {"Authorization": f"Bearer {self.key}"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def triage(databases: PostgresDatabases, kafka_bootstrap: str) -> AsyncIterator[Triage]:
    """Triage with its consumers and relay running, and a supervisor's key."""
    url = await databases.create()
    settings = TriageSettings(
        database_url=url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_consumer_group=f"triage-test-{uuid.uuid4().hex[:8]}",
        kafka_session_timeout_ms=6000,
        outbox_poll_interval_s=0.2,
        kafka_fetch_max_wait_ms=20,
        log_json=False,
    )
    clock = SteppingClock()
    service = create_service(settings, clock)
    kit = create_kit(settings, service)
    app = create_app(settings, service=service, kit=kit)
    async with app.router.lifespan_context(app):
        key = (await KeyStore(kit.pool).create("supervisor-twente", ["supervisor"])).secret
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://triage") as client:
            yield Triage(client, kit, kit.pool, kafka_bootstrap, settings, clock, key, service)
    await databases.drop(url)


def provider(provider_id: str, municipality: str = "GM0153") -> ProviderRegisteredV1:
    """A synthetic provider with one location."""
    return ProviderRegisteredV1(
        provider_id=provider_id,
        name=f"Stichting Proefzorg {provider_id}",
        kvk="99001234",
        active=True,
        locations=(
            ProviderLocation(
                location_id="hoofd", name="Hoofdlocatie", postcode="7511AB",
                municipality_code=municipality,
            ),
        ),
        registry_version=1,
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def signal(provider_id: str, **changes: object) -> SignalReceivedV1:
    """A synthetic signal about a provider; ``changes`` override the defaults."""
    data: dict[str, object] = {
        "signal_id": uuid.uuid4(),
        "submission_id": uuid.uuid4(),
        "source": "igj",
        "partner_id": "igj",
        "partner_reference": f"IGJ-2026-{uuid.uuid4().int % 1_000_000:06d}",
        "received_at": datetime(2026, 3, 16, 9, tzinfo=UTC),
        "occurred_at": datetime(2026, 3, 10, 9, tzinfo=UTC),
        "provider": SignalProvider(
            provider_id=provider_id, name="Proefzorg", matched_by=ProviderMatch.KVK
        ),
        "location": SignalLocation(municipality_code="GM0153", postcode="7511AB"),
        "law": "wmo",
        "category": "quality",
        "severity": "low",
        "vulnerable_group": "none",
    }
    data.update(changes)
    return SignalReceivedV1.model_validate(data)


async def publish(bootstrap: str, *events: CloudEvent[Any]) -> None:
    """Publish events as intake would (binary mode, keyed by provider)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for event in events:
            record = to_kafka_record(event)
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await producer.stop()


async def assessed(triage: Triage, *signals: SignalReceivedV1) -> list[SignalAssessedV1]:
    """The assessments of these signals, in the order given."""
    wanted = {s.signal_id for s in signals}
    found = await events_on(
        triage.bootstrap, topics.SIGNAL_ASSESSED, SignalAssessedV1,
        lambda e: e.data.signal_id in wanted, expected=len(wanted), within=60,
    )  # fmt: skip
    by_signal = {e.data.signal_id: e.data for e in found}
    assert len(found) == len(wanted), "a signal was assessed twice"
    return [by_signal[s.signal_id] for s in signals]


async def test_a_calamity_opens_an_investigation_and_later_signals_bundle_into_it(
    triage: Triage,
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    calamity = signal(pid, category="calamity", severity="high", vulnerable_group="youth",
                      law="jeugdwet")  # fmt: skip
    later = signal(pid, category="quality", severity="medium")
    await publish(triage.bootstrap, new_event(provider(pid), source=INTAKE))
    await publish(triage.bootstrap, new_event(calamity, source=INTAKE))
    [first] = await assessed(triage, calamity)
    await publish(triage.bootstrap, new_event(later, source=INTAKE))
    [second] = await assessed(triage, later)

    assert (first.outcome, first.strategy, first.priority) == (
        "investigate",
        "full_investigation",
        "P1",
    )
    assert first.investigation is not None
    assert first.investigation.relation == "opened"
    assert second.outcome == "bundle"
    assert second.investigation is not None
    assert second.investigation.investigation_id == first.investigation.investigation_id
    changes = await events_on(
        triage.bootstrap, topics.INVESTIGATION_CHANGED, InvestigationChangedV1,
        lambda e: e.data.provider_id == pid, expected=2,
    )  # fmt: skip
    assert [c.data.change for c in changes] == ["opened", "signal_bundled"]


async def test_a_supervisor_reads_the_full_explanation_and_closes_the_investigation(
    triage: Triage,
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    violence = signal(pid, category="violence", severity="medium")
    await publish(triage.bootstrap, new_event(provider(pid), source=INTAKE))
    await publish(triage.bootstrap, new_event(violence, source=INTAKE))
    [decision] = await assessed(triage, violence)
    assert decision.investigation is not None

    explained = await triage.client.get(
        f"/v1/assessments/{decision.assessment_id}", headers=triage.auth
    )
    listed = await triage.client.get(
        "/v1/investigations", params={"provider_id": pid}, headers=triage.auth
    )
    closed = await triage.client.post(
        f"/v1/investigations/{decision.investigation.investigation_id}/close",
        json={"decision": "improvement_plan", "note": "Verbeterplan afgesproken."},
        headers=triage.auth,
    )
    again = await triage.client.post(
        f"/v1/investigations/{decision.investigation.investigation_id}/close",
        json={"decision": "no_findings", "note": "Nogmaals."},
        headers=triage.auth,
    )
    anonymous = await triage.client.get("/v1/investigations")

    body = explained.json()
    assert body["outcome"] == "investigate"
    assert body["framework_version"] == "2025.1"
    assert body["rules_fired"][0]["text_nl"]
    assert body["rules_fired"][0]["inputs"]["category"] == "violence"
    assert body["context"]["related_to_region"] is True
    assert [i["state"] for i in listed.json()["investigations"]] == ["open"]
    assert closed.status_code == 200
    assert closed.json()["decision"] == "improvement_plan"
    assert again.status_code == 409
    assert anonymous.status_code == 401
    [close_event] = await events_on(
        triage.bootstrap, topics.INVESTIGATION_CHANGED, InvestigationChangedV1,
        lambda e: e.data.provider_id == pid and e.data.change == "closed",
    )  # fmt: skip
    assert close_event.data.decision == "improvement_plan"
    assert close_event.data.signal_ids == (violence.signal_id,)


async def test_a_signal_triage_cannot_assess_goes_to_the_dead_letter_topic_and_the_rest_flows(
    triage: Triage,
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    good = signal(pid, category="financial")
    poison = new_event(provider(pid), source=INTAKE)
    record = to_kafka_record(poison)
    producer = AIOKafkaProducer(bootstrap_servers=triage.bootstrap)
    await producer.start()
    try:
        # Not a signal at all on the signal topic: its schema does not fit.
        await producer.send_and_wait(
            topics.SIGNAL_RECEIVED, b'{"signal_id": "nope"}', key=pid.encode(),
            headers=[(k, v) for k, v in record.headers if k != "ce_type"]
            + [("ce_type", SignalReceivedV1.EVENT_TYPE.encode())],
        )  # fmt: skip
    finally:
        await producer.stop()
    await publish(triage.bootstrap, new_event(good, source=INTAKE))

    [decision] = await assessed(triage, good)
    assert decision.outcome == "for_information"
    dead = await triage.pool.fetch("SELECT reason FROM dead_letters WHERE topic = $1",
                                   topics.SIGNAL_RECEIVED)  # fmt: skip
    assert dead


async def test_signals_outside_the_region_and_wlz_are_not_investigated(triage: Triage) -> None:
    outside = f"prv-{uuid.uuid4().hex[:8]}"
    raid = signal(
        outside, source="police", partner_id="police", category="legitimacy",
        crime_indicators=("raid",), location=SignalLocation(municipality_code="GM0363"),
    )  # fmt: skip
    wlz = signal(f"prv-{uuid.uuid4().hex[:8]}", law="wlz", crime_indicators=("drugs",))
    await publish(triage.bootstrap, new_event(provider(outside, "GM0363"), source=INTAKE))
    await publish(triage.bootstrap, new_event(raid, source=INTAKE), new_event(wlz, source=INTAKE))

    raid_decision, wlz_decision = await assessed(triage, raid, wlz)

    assert raid_decision.outcome == "out_of_region"
    assert wlz_decision.outcome == "out_of_scope"


async def test_reassessment_publishes_only_the_decisions_a_new_version_changes(
    triage: Triage,
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    financial = signal(pid, category="financial")
    calamity = signal(pid, category="calamity", severity="high")
    await publish(triage.bootstrap, new_event(provider(pid), source=INTAKE))
    await publish(
        triage.bootstrap, new_event(financial, source=INTAKE), new_event(calamity, source=INTAKE)
    )
    before_financial, before_calamity = await assessed(triage, financial, calamity)
    text = files("zicht_triage").joinpath("frameworks/2025.1.yaml").read_text("utf-8")
    text = text.replace('version: "2025.1"', 'version: "2026.1"')
    # 2026.1: a financial signal is no longer for information but not investigated.
    text = text.replace(
        "when: {input: category, is: financial}\n    outcome: for_information",
        "when: {input: category, is: financial}\n    outcome: no_investigation",
    )
    framework = load_framework(text, origin="2026.1.yaml")

    first = await triage.service.reassess(triage.pool, framework)
    second = await triage.service.reassess(triage.pool, framework)
    await triage.kit.relay.relay_once()

    assert first.to_version == "2026.1"
    assert first.changed >= 1
    assert second.changed == 0
    reassessed = await events_on(
        triage.bootstrap, topics.SIGNAL_ASSESSED, SignalAssessedV1,
        lambda e: e.data.provider_id == pid and e.data.reassessment is not None, within=60,
    )  # fmt: skip
    [again] = [e.data for e in reassessed]
    assert again.signal_id == financial.signal_id
    assert again.outcome == "no_investigation"
    assert again.framework_version == "2026.1"
    assert again.reassessment is not None
    assert again.reassessment.previous_outcome == before_financial.outcome == "for_information"
    assert again.reassessment.previous_framework_version == "2025.1"
    assert before_calamity.outcome == "investigate"
    explained = await triage.client.get(
        f"/v1/signals/{financial.signal_id}/assessment", headers=triage.auth
    )
    assert explained.json()["framework_version"] == "2026.1"
