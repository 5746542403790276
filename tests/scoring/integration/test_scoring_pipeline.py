"""Scoring against the real broker and Postgres: risk from indicators and assessed signals."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import pytest_asyncio

from support.clock import SteppingClock
from support.events import events_on
from support.locks import blocked_or_done
from triage.integration.test_triage_pipeline import provider, publish
from zicht_devtools.devstack import PostgresDatabases
from zicht_runtime.auth import KeyStore
from zicht_runtime.kit import ServiceKit
from zicht_schemas import (
    Category,
    IndicatorCode,
    IndicatorSource,
    IndicatorsReportedV1,
    IndicatorValue,
    Law,
    Outcome,
    Priority,
    ProviderRiskChangedV1,
    RuleFired,
    Severity,
    SignalAssessedV1,
    Source,
    VulnerableGroup,
    new_event,
    source_urn,
    topics,
)
from zicht_scoring.app import create_app, create_kit, create_service
from zicht_scoring.config import ScoringSettings
from zicht_scoring.domain import evaluate
from zicht_scoring.service import ScoringService

pytestmark = pytest.mark.asyncio(loop_scope="session")

UPSTREAM = source_urn("00000001000000000000", "upstream-test")
NOW = datetime(2026, 3, 16, 9, tzinfo=UTC)


@dataclass
class Scoring:
    """The running scoring service."""

    client: httpx.AsyncClient
    kit: ServiceKit
    service: ScoringService
    pool: asyncpg.Pool
    bootstrap: str
    clock: SteppingClock
    keys: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        """The Authorization header of a key."""
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scoring(databases: PostgresDatabases, kafka_bootstrap: str) -> AsyncIterator[Scoring]:
    """Scoring with its consumers and relay; keys for Enschede and Almelo and a supervisor."""
    url = await databases.create()
    settings = ScoringSettings(
        database_url=url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_consumer_group=f"scoring-test-{uuid.uuid4().hex[:8]}",
        kafka_session_timeout_ms=6000,
        outbox_poll_interval_s=0.2,
        kafka_fetch_max_wait_ms=20,
        log_json=False,
    )
    clock = SteppingClock(NOW)
    service = create_service(settings, clock)
    kit = create_kit(settings, service)
    app = create_app(settings, service=service, kit=kit)
    async with app.router.lifespan_context(app):
        store = KeyStore(kit.pool)
        keys = {
            "GM0153": (await store.create("GM0153", ["risk:read"],
                                          attributes={"municipality": "GM0153"})).secret,
            "GM0141": (await store.create("GM0141", ["risk:read"],
                                          attributes={"municipality": "GM0141"})).secret,
            "supervisor": (await store.create("sup", ["risk:read"])).secret,
        }  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as client:
            yield Scoring(client, kit, service, kit.pool, kafka_bootstrap, clock, keys)
    await databases.drop(url)


def indicators(pid: str, **values: bool | float) -> IndicatorsReportedV1:
    """An annual-accounts report of a provider."""
    return IndicatorsReportedV1(
        report_id=uuid.uuid4(), provider_id=pid, source=IndicatorSource.ANNUAL_ACCOUNTS,
        period_year=2025, reported_at=NOW - timedelta(days=30),
        indicators=tuple(IndicatorValue(code=IndicatorCode(k), value=v) for k, v in values.items()),
    )  # fmt: skip


def criminal_referral(pid: str, occurred: datetime) -> SignalAssessedV1:
    """A high-severity criminal referral about a provider in Enschede."""
    return SignalAssessedV1(
        assessment_id=uuid.uuid4(), signal_id=uuid.uuid4(), provider_id=pid, source=Source.POLICE,
        law=Law.WMO, category=Category.LEGITIMACY, severity=Severity.HIGH,
        vulnerable_group=VulnerableGroup.NONE,
        municipality_code="GM0153", occurred_at=occurred, assessed_at=occurred,
        outcome=Outcome.CRIMINAL_REFERRAL, priority=Priority.P1,
        rules_fired=(RuleFired(rule_id="R4", text_nl="Strafbaar.", text_en="Crime.", inputs={}),),
        framework_version="2025.1",
    )  # fmt: skip


async def changes(scoring: Scoring, pid: str, expected: int) -> list[ProviderRiskChangedV1]:
    found = await events_on(
        scoring.bootstrap, topics.PROVIDER_RISK_CHANGED, ProviderRiskChangedV1,
        lambda e: e.data.provider_id == pid, expected=expected, within=60,
    )  # fmt: skip
    return [e.data for e in found]


async def test_indicators_and_a_criminal_referral_turn_a_provider_red_with_reasons(
    scoring: Scoring,
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    await publish(scoring.bootstrap, new_event(provider(pid), source=UPSTREAM))
    report = indicators(
        pid, personnel_cost_ratio=0.45, equity_ratio=0.12, real_estate_related_party=True
    )  # red 25 + orange 10 + orange 10 = 45: orange
    await publish(scoring.bootstrap, new_event(report, source=UPSTREAM))
    [orange] = await changes(scoring, pid, 1)
    await publish(
        scoring.bootstrap,
        new_event(criminal_referral(pid, NOW - timedelta(days=1)), source=UPSTREAM),
    )
    _, red = await changes(scoring, pid, 2)

    assert (orange.level, orange.score, orange.previous_level) == ("orange", 45.0, None)
    assert orange.contributions[0].ref == "personnel_cost_ratio"
    assert red.level == "red"
    assert red.previous_level == "orange"
    assert red.score > 60
    assert {c.kind for c in red.contributions} == {"indicator", "signal"}


async def test_decay_lowers_the_score_without_news_and_publishes_the_fall(
    scoring: Scoring,
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    await publish(scoring.bootstrap, new_event(provider(pid), source=UPSTREAM))
    for _ in range(2):
        event = criminal_referral(pid, NOW - timedelta(days=1))
        await publish(scoring.bootstrap, new_event(event, source=UPSTREAM))
    rising = await changes(scoring, pid, 2)
    assert rising[-1].level == "red"

    scoring.clock.advance(timedelta(days=365))
    try:
        changed = await scoring.service.decay_all(scoring.pool)
    finally:
        scoring.clock.advance(timedelta(days=-365))

    assert changed >= 1
    fallen = (await changes(scoring, pid, 3))[-1]
    assert fallen.reason == "decay"
    assert fallen.level == "green"
    assert fallen.cause_event_id is None


async def test_a_municipality_sees_only_its_own_providers_in_the_register(
    scoring: Scoring,
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    await publish(scoring.bootstrap, new_event(provider(pid, "GM0153"), source=UPSTREAM))
    await publish(
        scoring.bootstrap,
        new_event(indicators(pid, diploma_fraud=True, personnel_cost_ratio=0.4), source=UPSTREAM),
    )
    await changes(scoring, pid, 1)

    enschede = await scoring.client.get("/v1/providers", headers=scoring.auth("GM0153"))
    almelo = await scoring.client.get("/v1/providers", headers=scoring.auth("GM0141"))
    story = await scoring.client.get(f"/v1/providers/{pid}/risk", headers=scoring.auth("GM0153"))
    hidden = await scoring.client.get(f"/v1/providers/{pid}/risk", headers=scoring.auth("GM0141"))

    assert pid in {p["provider_id"] for p in enschede.json()["providers"]}
    assert pid not in {p["provider_id"] for p in almelo.json()["providers"]}
    assert story.status_code == 200
    assert story.json()["level"] == "orange"
    assert {c["ref"] for c in story.json()["contributions"]} == {
        "diploma_fraud", "personnel_cost_ratio"
    }  # fmt: skip
    assert story.json()["history"][0]["level"] == "orange"
    assert hidden.status_code == 404


async def test_a_replay_under_the_same_model_publishes_nothing_twice(scoring: Scoring) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    await publish(scoring.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await publish(
        scoring.bootstrap, new_event(indicators(pid, profit_margin=0.25), source=UPSTREAM)
    )
    await changes(scoring, pid, 1)

    first = await scoring.service.replay(scoring.pool, scoring.service.model, at=NOW)
    scores = await scoring.pool.fetch("SELECT provider_id, score, level FROM risk ORDER BY 1")
    second = await scoring.service.replay(scoring.pool, scoring.service.model, at=NOW)
    again = await scoring.pool.fetch("SELECT provider_id, score, level FROM risk ORDER BY 1")

    assert second.published == 0
    assert [tuple(r) for r in again] == [tuple(r) for r in scores]
    assert first.providers >= 1
    assert len(await changes(scoring, pid, 1)) == 1


async def test_metrics_are_scraped_in_the_prometheus_text_format(scoring: Scoring) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    await publish(scoring.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await publish(scoring.bootstrap, new_event(indicators(pid, profit_margin=0.3), source=UPSTREAM))
    await changes(scoring, pid, 1)

    answer = await scoring.client.get("/metrics")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    processed = [
        line for line in answer.text.splitlines()
        if line.startswith("zicht_events_processed") and "indicators-reported" in line
    ]  # fmt: skip
    assert processed, answer.text[:2000]
    assert float(processed[0].rsplit(" ", 1)[1]) >= 1


async def test_two_scorers_of_a_new_provider_at_once_end_with_the_score_of_all_its_facts(
    scoring: Scoring,
) -> None:
    """A provider without a risk row yet: FOR UPDATE alone locked nothing, so the second
    scorer weighed only its own fact and its row replaced the first's."""
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    first = await scoring.pool.acquire()
    second = await scoring.pool.acquire()
    try:
        first_tx = first.transaction()
        await first_tx.start()
        await scoring.service.record_indicators(
            first, indicators(pid, diploma_fraud=True, personnel_cost_ratio=0.4), str(uuid.uuid4())
        )

        async def second_scorer() -> None:
            async with second.transaction():
                await scoring.service.record_assessment(
                    second, criminal_referral(pid, NOW - timedelta(days=3)), str(uuid.uuid4())
                )

        scoring_too = asyncio.create_task(second_scorer())
        await blocked_or_done(scoring.pool, second.get_server_pid(), scoring_too)
        await first_tx.commit()
        await asyncio.wait_for(scoring_too, timeout=10)
    finally:
        await scoring.pool.release(first)
        await scoring.pool.release(second)

    async with scoring.pool.acquire() as conn:
        stored = await conn.fetchrow("SELECT score, level FROM risk WHERE provider_id = $1", pid)
        facts = await scoring.service.facts(conn, pid, scoring.clock.now())
    full = evaluate(facts, scoring.service.model, scoring.clock.now(), None)
    assert stored is not None
    assert float(stored["score"]) == pytest.approx(full.score), (
        "the stored risk weighs the indicators and the referral together"
    )
    assert stored["level"] == full.level.value
