"""Notify against the real broker, Postgres and a real webhook receiver."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from standardwebhooks.webhooks import Webhook

from kit.helpers import wait_for
from support.events import events_on
from support.webhooks import Receiver, serve_receiver
from triage.integration.test_triage_pipeline import provider, publish
from zicht_devtools.devstack import PostgresDatabases, find_free_port
from zicht_notify.app import create_app, create_kit, create_service
from zicht_notify.config import NotifySettings
from zicht_notify.domain import generate_secret
from zicht_notify.service import NotifyService
from zicht_runtime.auth import KeyStore
from zicht_runtime.kit import ServiceKit
from zicht_schemas import (
    AlertDeliveredV1,
    AlertFailedV1,
    InvestigationLink,
    InvestigationRelation,
    Outcome,
    Priority,
    ProviderRiskChangedV1,
    RiskChangeReason,
    RiskLevel,
    RuleFired,
    SignalAssessedV1,
    Strategy,
    new_event,
    source_urn,
    topics,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

UPSTREAM = source_urn("00000001000000000000", "upstream-test")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    """A real HTTP server that records every alert and answers 204 unless told otherwise."""
    async with serve_receiver() as state:
        yield state


@dataclass
class Notify:
    """The running notify service with subscriber keys."""

    client: httpx.AsyncClient
    kit: ServiceKit
    pool: asyncpg.Pool
    bootstrap: str
    keys: dict[str, str]
    service: NotifyService

    def auth(self, who: str) -> dict[str, str]:
        """The Authorization header of a subscriber or the operator."""
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def notify(databases: PostgresDatabases, kafka_bootstrap: str) -> AsyncIterator[Notify]:
    """Notify with consumers, relay and delivery loop; retries after a second, not minutes."""
    url = await databases.create()
    settings = NotifySettings(
        database_url=url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_consumer_group=f"notify-test-{uuid.uuid4().hex[:8]}",
        kafka_session_timeout_ms=6000,
        outbox_poll_interval_s=0.2,
        kafka_fetch_max_wait_ms=20,
        retry_base_s=0.2,
        retry_cap_s=0.5,
        retry_max_attempts=4,
        delivery_poll_interval_s=0.1,
        log_json=False,
    )
    service = create_service(settings)
    kit = create_kit(settings, service)
    app = create_app(settings, service=service, kit=kit)
    async with app.router.lifespan_context(app):
        store = KeyStore(kit.pool)
        keys = {
            code: (
                await store.create(code, ["subscriptions"], attributes={"kind": kind, "id": code})
            ).secret
            for code, kind in [
                ("GM0153", "municipality"), ("GM0141", "municipality"),
                ("GM0164", "municipality"), ("GM0168", "municipality"),
                ("GM0173", "municipality"),
                ("riec-on-zorgfraude", "casus_table"), ("cct-twente", "casus_table"),
            ]
        }  # fmt: skip
        keys["operator"] = (await store.create("ops", ["operator"])).secret
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
            yield Notify(client, kit, kit.pool, kafka_bootstrap, keys, service)
    await databases.drop(url)


def assessed(provider_id: str, outcome: Outcome, **changes: Any) -> SignalAssessedV1:
    """A synthetic assessment of a signal at a location in Enschede."""
    data: dict[str, Any] = {
        "assessment_id": uuid.uuid4(),
        "signal_id": uuid.uuid4(),
        "provider_id": provider_id,
        "source": "igj",
        "law": "wmo",
        "category": "calamity",
        "severity": "high",
        "vulnerable_group": "sheltered_housing",
        "municipality_code": "GM0153",
        "occurred_at": datetime(2026, 3, 10, tzinfo=UTC),
        "assessed_at": datetime(2026, 3, 16, tzinfo=UTC),
        "outcome": outcome,
        "priority": Priority.P1,
        "rules_fired": (
            RuleFired(rule_id="R5", text_nl="Calamiteit.", text_en="Calamity.", inputs={}),
        ),
        "framework_version": "2025.1",
    }
    if outcome is Outcome.INVESTIGATE:
        data["strategy"] = Strategy.FULL_INVESTIGATION
        data["investigation"] = InvestigationLink(
            investigation_id=uuid.uuid4(), relation=InvestigationRelation.OPENED
        )
    data.update(changes)
    return SignalAssessedV1.model_validate(data)


async def known(notify: Notify, pid: str) -> None:
    """Wait until notify has the provider's relations."""

    async def stored() -> bool:
        found = await notify.pool.fetchval("SELECT 1 FROM providers WHERE provider_id = $1", pid)
        return bool(found)

    await wait_for(stored, what="notify to know the provider")


async def subscribe(
    notify: Notify, receiver: Receiver, who: str, path: str, **filters: Any
) -> dict[str, Any]:
    """A verified subscription of ``who`` with its own secret, which the receiver holds."""
    secret = generate_secret()
    receiver.secrets[path] = secret
    answer = await notify.client.post(
        "/v1/subscriptions",
        json={"url": receiver.url(path), "secret": secret, **filters},
        headers=notify.auth(who),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["verification"]["state"] == "verified"
    return {**answer.json(), "secret": secret}


async def test_a_calamity_reaches_its_municipality_signed_so_standard_webhooks_verifies_it(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    path = f"/hooks/{pid}/GM0153"
    event = new_event(assessed(pid, Outcome.INVESTIGATE), source=UPSTREAM)
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await known(notify, pid)
    sub = await subscribe(notify, receiver, "GM0153", path, providers=[pid])
    await publish(notify.bootstrap, event, event)  # the same event twice (a redelivery)

    [delivered] = await events_on(
        notify.bootstrap, topics.ALERT_DELIVERED, AlertDeliveredV1,
        lambda e: e.data.provider_id == pid, within=60,
    )  # fmt: skip
    [(headers, body)] = receiver.at(path)
    verified = Webhook(sub["secret"]).verify(body, headers)
    assert verified["data"]["provider"]["provider_id"] == pid
    assert verified["causationid"] == event.id
    assert headers["webhook-id"] == delivered.data.webhook_id
    assert delivered.data.subscriber_id == "GM0153"
    tampered = body.replace(b"investigate", b"no_investigation")
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(sub["secret"]).verify(tampered, headers)


async def test_a_receiver_answering_500_gets_the_same_webhook_id_until_it_accepts(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    path = f"/hooks/{pid}/GM0153"
    receiver.answers[path] = [500, 503]
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await known(notify, pid)
    await subscribe(notify, receiver, "GM0153", path, providers=[pid])
    await publish(notify.bootstrap, new_event(assessed(pid, Outcome.INVESTIGATE), source=UPSTREAM))

    [delivered] = await events_on(
        notify.bootstrap, topics.ALERT_DELIVERED, AlertDeliveredV1,
        lambda e: e.data.provider_id == pid, within=60,
    )  # fmt: skip
    attempts = receiver.at(path)
    assert len(attempts) == 3
    assert len({h["webhook-id"] for h, _ in attempts}) == 1
    assert delivered.data.attempts == 3


async def test_a_4xx_fails_at_once_and_an_operator_redelivers_it(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    path = f"/hooks/{pid}/GM0153"
    receiver.answers[path] = [400]
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await known(notify, pid)
    sub = await subscribe(notify, receiver, "GM0153", path, providers=[pid])
    await publish(notify.bootstrap, new_event(assessed(pid, Outcome.INVESTIGATE), source=UPSTREAM))

    [failed] = await events_on(
        notify.bootstrap, topics.ALERT_FAILED, AlertFailedV1,
        lambda e: e.data.provider_id == pid, within=60,
    )  # fmt: skip
    assert failed.data.failure_reason == "rejected_by_receiver"
    assert failed.data.attempts == 1
    # The subscriber's own operators see it too, under their subscription.
    own = await notify.client.get(
        f"/v1/subscriptions/{sub['subscription_id']}/deliveries",
        params={"state": "failed"}, headers=notify.auth("GM0153"),
    )  # fmt: skip
    assert [d["alert_id"] for d in own.json()["deliveries"]] == [str(failed.data.alert_id)]
    other = await notify.client.get(
        f"/v1/subscriptions/{sub['subscription_id']}/deliveries", headers=notify.auth("GM0141")
    )
    assert other.status_code == 404
    listed = await notify.client.get(
        "/v1/deliveries", params={"state": "failed"}, headers=notify.auth("operator")
    )
    assert str(failed.data.alert_id) in {d["alert_id"] for d in listed.json()["deliveries"]}
    again = await notify.client.post(
        f"/v1/deliveries/{failed.data.alert_id}/redeliver", headers=notify.auth("operator")
    )
    assert again.status_code == 200

    await events_on(
        notify.bootstrap, topics.ALERT_DELIVERED, AlertDeliveredV1,
        lambda e: e.data.alert_id == failed.data.alert_id, within=60,
    )  # fmt: skip
    assert len(receiver.at(path)) == 2


async def test_a_criminal_referral_without_a_subscription_is_recorded_as_undeliverable(
    notify: Notify,
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    event = assessed(pid, Outcome.CRIMINAL_REFERRAL, category="legitimacy")
    await publish(notify.bootstrap, new_event(event, source=UPSTREAM))

    failures = await events_on(
        notify.bootstrap, topics.ALERT_FAILED, AlertFailedV1,
        lambda e: e.data.provider_id == pid, within=60,
    )  # fmt: skip
    assert {f.data.failure_reason for f in failures} == {"no_subscription"}
    assert "riec-on-zorgfraude" in {f.data.subscriber_id for f in failures}

    async def listed() -> bool:
        answer = await notify.client.get(
            "/v1/deliveries", params={"state": "undeliverable"}, headers=notify.auth("operator")
        )
        return any(d["provider_id"] == pid for d in answer.json()["deliveries"])

    await wait_for(listed, what="the undeliverable alert in the operators' list")


async def test_a_subscription_cannot_reach_beyond_the_subscribers_providers(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    await publish(notify.bootstrap, new_event(provider(pid, "GM0153"), source=UPSTREAM))

    await known(notify, pid)
    own = await notify.client.post(
        "/v1/subscriptions", json={"url": receiver.url("/x"), "providers": [pid]},
        headers=notify.auth("GM0153"),
    )  # fmt: skip
    beyond = await notify.client.post(
        "/v1/subscriptions", json={"url": receiver.url("/x"), "providers": [pid]},
        headers=notify.auth("GM0141"),
    )  # fmt: skip
    nobody = await notify.client.post("/v1/subscriptions", json={"url": receiver.url("/x")})

    assert own.status_code == 201
    assert beyond.status_code == 403
    assert beyond.json()["errors"][0]["pointer"] == "/providers"
    assert nobody.status_code == 401


async def test_a_fall_reaches_exactly_those_told_of_the_rise(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    path = f"/hooks/{pid}/GM0153"
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await known(notify, pid)
    await subscribe(notify, receiver, "GM0153", path, providers=[pid])

    def change(level: RiskLevel, previous: RiskLevel | None, score: float) -> Any:
        return new_event(
            ProviderRiskChangedV1(
                evaluation_id=uuid.uuid4(), provider_id=pid, score=score,
                previous_score=None if previous is None else 10.0, level=level,
                previous_level=previous, model_version="2025.1",
                evaluated_at=datetime(2026, 3, 16, tzinfo=UTC), reason=RiskChangeReason.EVENT,
            ),
            source=UPSTREAM,
        )  # fmt: skip

    # Up to red and down in two steps: who heard the rise hears each fall, to green.
    await publish(notify.bootstrap, change(RiskLevel.ORANGE, RiskLevel.GREEN, 35.0))
    await publish(notify.bootstrap, change(RiskLevel.RED, RiskLevel.ORANGE, 60.0))
    await publish(notify.bootstrap, change(RiskLevel.ORANGE, RiskLevel.RED, 40.0))
    await publish(notify.bootstrap, change(RiskLevel.GREEN, RiskLevel.ORANGE, 20.0))

    delivered = await events_on(
        notify.bootstrap, topics.ALERT_DELIVERED, AlertDeliveredV1,
        lambda e: e.data.provider_id == pid and e.data.subscriber_id == "GM0153",
        expected=4, within=60,
    )  # fmt: skip
    assert len(delivered) == 4
    kinds = [json.loads(b)["data"]["level"] for _, b in receiver.at(path)]
    assert kinds == ["orange", "red", "orange", "green"]
    remembered = await notify.pool.fetchval(
        "SELECT count(*) FROM told_of_rise WHERE provider_id = $1", pid
    )
    assert remembered == 0, "after green nobody waits to hear a fall"


async def test_a_retry_holds_back_later_alerts_about_the_same_provider(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    path = f"/hooks/{pid}/GM0153"
    receiver.answers[path] = [503, 503]
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await known(notify, pid)
    await subscribe(notify, receiver, "GM0153", path, providers=[pid])
    first = new_event(assessed(pid, Outcome.INVESTIGATE), source=UPSTREAM)
    second = new_event(assessed(pid, Outcome.INVESTIGATE, category="violence"), source=UPSTREAM)
    await publish(notify.bootstrap, first, second)

    await events_on(
        notify.bootstrap, topics.ALERT_DELIVERED, AlertDeliveredV1,
        lambda e: e.data.provider_id == pid, expected=2, within=60,
    )  # fmt: skip
    causes = [json.loads(body)["causationid"] for _, body in receiver.at(path)]
    assert causes == [first.id, first.id, first.id, second.id]


async def test_a_criminal_referral_reaches_the_riec_table_and_no_municipality(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await known(notify, pid)
    await subscribe(notify, receiver, "riec-on-zorgfraude", f"/hooks/{pid}/riec",
                    providers=[pid])  # fmt: skip
    await subscribe(notify, receiver, "GM0153", f"/hooks/{pid}/GM0153", providers=[pid])
    event = assessed(pid, Outcome.CRIMINAL_REFERRAL, category="legitimacy")
    await publish(notify.bootstrap, new_event(event, source=UPSTREAM))

    delivered = await events_on(
        notify.bootstrap, topics.ALERT_DELIVERED, AlertDeliveredV1,
        lambda e: e.data.provider_id == pid, within=60,
    )  # fmt: skip
    assert [d.data.subscriber_id for d in delivered] == ["riec-on-zorgfraude"]
    assert receiver.at(f"/hooks/{pid}/GM0153") == []


async def test_an_endpoint_answering_410_gone_pauses_its_subscription(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    path = f"/hooks/{pid}/GM0153"
    receiver.answers[path] = [410]
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await known(notify, pid)
    sub = await subscribe(notify, receiver, "GM0153", path, providers=[pid])
    await publish(notify.bootstrap, new_event(assessed(pid, Outcome.INVESTIGATE), source=UPSTREAM))

    [failed] = await events_on(
        notify.bootstrap, topics.ALERT_FAILED, AlertFailedV1,
        lambda e: e.data.provider_id == pid, within=60,
    )  # fmt: skip
    now = await notify.client.get(
        f"/v1/subscriptions/{sub['subscription_id']}", headers=notify.auth("GM0153")
    )
    assert failed.data.failure_reason == "endpoint_gone"
    assert now.json()["paused"] is True


async def test_a_provider_turning_red_reaches_its_related_municipalities_and_the_coordination_table(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    related = provider(pid, "GM0153").model_copy(
        update={"contracting_municipalities": ("GM0141", "GM0164")}
    )
    await publish(notify.bootstrap, new_event(related, source=UPSTREAM))
    await known(notify, pid)
    for who in ("GM0153", "GM0141", "GM0164", "cct-twente", "riec-on-zorgfraude"):
        await subscribe(notify, receiver, who, f"/hooks/{pid}/{who}", providers=[pid])
    # A municipality without ties to the provider subscribes to all it may hear.
    await subscribe(notify, receiver, "GM0168", f"/hooks/{pid}/GM0168")
    red = ProviderRiskChangedV1(
        evaluation_id=uuid.uuid4(), provider_id=pid, score=72.0, previous_score=12.0,
        level=RiskLevel.RED, previous_level=RiskLevel.GREEN, model_version="2025.1",
        evaluated_at=datetime(2026, 3, 16, tzinfo=UTC), reason=RiskChangeReason.EVENT,
    )  # fmt: skip
    await publish(notify.bootstrap, new_event(red, source=UPSTREAM))

    delivered = await events_on(
        notify.bootstrap, topics.ALERT_DELIVERED, AlertDeliveredV1,
        lambda e: e.data.provider_id == pid, expected=4, within=60,
    )  # fmt: skip
    told = {"GM0153", "GM0141", "GM0164", "cct-twente"}
    assert {d.data.subscriber_id for d in delivered} == told
    await asyncio.sleep(1.0)  # room for an alert that should not come
    arrived = {p.rsplit("/", 1)[1] for p, _, _ in receiver.received if f"/{pid}/" in p}
    assert arrived == told
    for who in told:
        [(_, body)] = receiver.at(f"/hooks/{pid}/{who}")
        data = json.loads(body)["data"]
        assert (data["level"], data["previous_level"]) == ("red", "green")
        assert data["routing_reason"]["ref"] == "risk-rise-red"


async def test_a_new_subscription_is_verified_by_a_signed_and_a_wrongly_signed_test_delivery(
    notify: Notify, receiver: Receiver
) -> None:
    path = f"/hooks/{uuid.uuid4().hex[:8]}/GM0173"

    sub = await subscribe(notify, receiver, "GM0173", path)

    checks = [(webhook_id, status) for p, webhook_id, status in receiver.checks if p == path]
    assert [status for _, status in checks] == [204, 401]
    assert len({webhook_id for webhook_id, _ in checks}) == 1  # the same delivery, twice
    assert [s["step"] for s in sub["verification"]["steps"]] == [
        "signed_delivery", "wrong_signature",
    ]  # fmt: skip
    assert receiver.at(path) == []  # a test delivery is not an alert


async def test_a_receiver_that_accepts_a_wrong_signature_is_refused_and_nothing_is_stored(
    notify: Notify, receiver: Receiver
) -> None:
    path = f"/hooks/{uuid.uuid4().hex[:8]}/careless"
    receiver.careless.add(path)

    answer = await notify.client.post(
        "/v1/subscriptions",
        json={"url": receiver.url(path), "secret": generate_secret()},
        headers=notify.auth("GM0164"),
    )

    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"] == "urn:zicht:problem:callback-not-verified"
    assert [e["code"] for e in problem["errors"]] == ["wrong_signature"]
    assert "accepted" in problem["errors"][0]["detail"]
    assert "webhook-signature" in problem["errors"][0]["detail"]
    listed = await notify.client.get("/v1/subscriptions", headers=notify.auth("GM0164"))
    assert receiver.url(path) not in {s["url"] for s in listed.json()["subscriptions"]}


async def test_a_callback_that_fails_or_does_not_listen_is_refused_naming_the_step(
    notify: Notify, receiver: Receiver
) -> None:
    path = f"/hooks/{uuid.uuid4().hex[:8]}/broken"
    receiver.secrets[path] = secret = generate_secret()
    receiver.check_answers[path] = [500]
    nowhere = f"http://127.0.0.1:{find_free_port()}/hooks"

    failing = await notify.client.post(
        "/v1/subscriptions", json={"url": receiver.url(path), "secret": secret},
        headers=notify.auth("GM0164"),
    )  # fmt: skip
    silent = await notify.client.post(
        "/v1/subscriptions", json={"url": nowhere, "secret": secret},
        headers=notify.auth("GM0164"),
    )  # fmt: skip

    assert failing.status_code == 422
    assert failing.json()["errors"][0]["code"] == "signed_delivery"
    assert "answered 500" in failing.json()["errors"][0]["detail"]
    assert silent.status_code == 422
    assert "no connection could be made" in silent.json()["errors"][0]["detail"]
    # The second step is never tried when the first failed.
    assert [status for p, _, status in receiver.checks if p == path] == [500]


async def test_alerts_wait_for_a_subscription_with_notifys_secret_until_it_is_verified(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    path = f"/hooks/{pid}/GM0153"
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await known(notify, pid)
    created = await notify.client.post(
        "/v1/subscriptions", json={"url": receiver.url(path), "providers": [pid]},
        headers=notify.auth("GM0153"),
    )  # fmt: skip
    assert created.status_code == 201
    sub = created.json()
    assert sub["verification"]["state"] == "unverified"
    assert sub["secret"].startswith("whsec_")
    await publish(notify.bootstrap, new_event(assessed(pid, Outcome.INVESTIGATE), source=UPSTREAM))

    async def waiting() -> bool:
        answer = await notify.client.get(
            "/v1/deliveries", params={"state": "pending", "provider_id": pid},
            headers=notify.auth("operator"),
        )  # fmt: skip
        return len(answer.json()["deliveries"]) == 1

    await wait_for(waiting, what="the alert to wait for verification")
    await asyncio.sleep(0.5)  # several delivery rounds pass
    assert receiver.at(path) == []
    not_yet = await notify.client.post(
        f"/v1/subscriptions/{sub['subscription_id']}/verify", headers=notify.auth("GM0153")
    )
    assert not_yet.status_code == 422  # the receiver does not hold the secret yet
    receiver.secrets[path] = sub["secret"]
    verified = await notify.client.post(
        f"/v1/subscriptions/{sub['subscription_id']}/verify", headers=notify.auth("GM0153")
    )
    assert verified.status_code == 200
    assert verified.json()["verification"]["state"] == "verified"

    await events_on(
        notify.bootstrap, topics.ALERT_DELIVERED, AlertDeliveredV1,
        lambda e: e.data.provider_id == pid, within=60,
    )  # fmt: skip
    [(headers, body)] = receiver.at(path)
    Webhook(sub["secret"]).verify(body, headers)


async def test_moving_a_subscription_to_a_callback_that_fails_verification_keeps_the_old_one(
    notify: Notify, receiver: Receiver
) -> None:
    path = f"/hooks/{uuid.uuid4().hex[:8]}/GM0173"
    sub = await subscribe(notify, receiver, "GM0173", path)
    careless = f"{path}/careless"
    receiver.careless.add(careless)

    moved = await notify.client.patch(
        f"/v1/subscriptions/{sub['subscription_id']}", json={"url": receiver.url(careless)},
        headers=notify.auth("GM0173"),
    )  # fmt: skip
    now = await notify.client.get(
        f"/v1/subscriptions/{sub['subscription_id']}", headers=notify.auth("GM0173")
    )

    assert moved.status_code == 422
    assert moved.json()["errors"][0]["code"] == "wrong_signature"
    assert now.json()["url"] == receiver.url(path)
    assert now.json()["verification"]["state"] == "verified"


async def test_every_verified_subscription_of_one_subscriber_gets_the_alert_its_filters_match(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    await publish(notify.bootstrap, new_event(provider(pid, "GM0164"), source=UPSTREAM))
    await known(notify, pid)
    older = await subscribe(notify, receiver, "GM0164", f"/hooks/{pid}/older", providers=[pid])
    newer = await subscribe(notify, receiver, "GM0164", f"/hooks/{pid}/newer", providers=[pid])
    risk_only = await subscribe(
        notify, receiver, "GM0164", f"/hooks/{pid}/risk-only", providers=[pid],
        event_types=[ProviderRiskChangedV1.EVENT_TYPE],
    )  # fmt: skip
    event = new_event(
        assessed(pid, Outcome.INVESTIGATE, municipality_code="GM0164"), source=UPSTREAM
    )
    await publish(notify.bootstrap, event, event)  # the same event twice (a redelivery)

    delivered = await events_on(
        notify.bootstrap, topics.ALERT_DELIVERED, AlertDeliveredV1,
        lambda e: e.data.provider_id == pid, expected=2, within=60,
    )  # fmt: skip
    assert sorted(str(d.data.subscription_id) for d in delivered) == sorted(
        [older["subscription_id"], newer["subscription_id"]]
    )
    assert {d.data.subscriber_id for d in delivered} == {"GM0164"}
    webhook_ids = set()
    for sub, name in ((older, "older"), (newer, "newer")):
        [(headers, body)] = receiver.at(f"/hooks/{pid}/{name}")  # told once, not twice
        data = Webhook(sub["secret"]).verify(body, headers)["data"]
        assert data["recipient"] == {"kind": "municipality", "id": "GM0164"}
        assert data["source_event_id"] == event.id
        webhook_ids.add(headers["webhook-id"])
    assert len(webhook_ids) == 2  # each subscription its own alert, its own webhook-id
    # Routing an event is one transaction: with both alerts made, the third is known absent.
    made_for_risk_only = await notify.pool.fetchval(
        "SELECT count(*) FROM alerts WHERE subscription_id = $1",
        uuid.UUID(risk_only["subscription_id"]),
    )
    assert made_for_risk_only == 0
    assert receiver.at(f"/hooks/{pid}/risk-only") == []


async def test_an_older_unverified_subscription_does_not_hold_back_a_newer_verified_one(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    await publish(notify.bootstrap, new_event(provider(pid, "GM0164"), source=UPSTREAM))
    await known(notify, pid)
    unverified = await notify.client.post(
        "/v1/subscriptions", json={"url": receiver.url(f"/hooks/{pid}/old"), "providers": [pid]},
        headers=notify.auth("GM0164"),
    )  # fmt: skip
    assert unverified.json()["verification"]["state"] == "unverified"
    verified = await subscribe(notify, receiver, "GM0164", f"/hooks/{pid}/new", providers=[pid])
    event = assessed(pid, Outcome.INVESTIGATE, municipality_code="GM0164")
    await publish(notify.bootstrap, new_event(event, source=UPSTREAM))

    [delivered] = await events_on(
        notify.bootstrap, topics.ALERT_DELIVERED, AlertDeliveredV1,
        lambda e: e.data.provider_id == pid, within=60,
    )  # fmt: skip
    assert str(delivered.data.subscription_id) == verified["subscription_id"]
    assert len(receiver.at(f"/hooks/{pid}/new")) == 1
    waiting = await notify.pool.fetch(
        "SELECT state FROM alerts WHERE subscription_id = $1",
        uuid.UUID(unverified.json()["subscription_id"]),
    )
    assert [row["state"] for row in waiting] == ["pending"]  # kept until it is verified


@pytest.mark.parametrize("field", ["subscriber", "min_levle"])
async def test_a_subscription_body_with_a_field_notify_does_not_know_is_refused_with_422(
    notify: Notify, receiver: Receiver, field: str
) -> None:
    url = receiver.url(f"/hooks/{uuid.uuid4().hex[:8]}/unknown-field")

    created = await notify.client.post(
        "/v1/subscriptions", json={"url": url, field: {"kind": "municipality", "id": "GM0153"}},
        headers=notify.auth("GM0164"),
    )  # fmt: skip

    assert created.status_code == 422
    assert created.headers["content-type"] == "application/problem+json"
    problem = created.json()
    assert problem["type"] == "urn:zicht:problem:invalid-submission"
    assert problem["errors"] == [
        {"code": "invalid_value", "pointer": f"/{field}",
         "detail": "this field is not part of the format"}
    ]  # fmt: skip
    listed = await notify.client.get("/v1/subscriptions", headers=notify.auth("GM0164"))
    assert url not in {s["url"] for s in listed.json()["subscriptions"]}


async def test_a_subscription_change_with_a_field_notify_does_not_know_is_refused_with_422(
    notify: Notify, receiver: Receiver
) -> None:
    sub = await subscribe(notify, receiver, "GM0173", f"/hooks/{uuid.uuid4().hex[:8]}/GM0173")

    changed = await notify.client.patch(
        f"/v1/subscriptions/{sub['subscription_id']}", json={"paused": True, "subscriber": "x"},
        headers=notify.auth("GM0173"),
    )  # fmt: skip
    now = await notify.client.get(
        f"/v1/subscriptions/{sub['subscription_id']}", headers=notify.auth("GM0173")
    )

    assert changed.status_code == 422
    assert changed.json()["errors"][0]["pointer"] == "/subscriber"
    assert now.json()["paused"] is False


async def test_a_filter_of_a_thousand_providers_is_checked_against_the_registry_in_one_query(
    notify: Notify, receiver: Receiver
) -> None:
    ours = [f"prv-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    theirs = f"prv-{uuid.uuid4().hex[:8]}"
    for pid, municipality in [(ours[0], "GM0153"), (ours[1], "GM0153"), (theirs, "GM0141")]:
        await publish(notify.bootstrap, new_event(provider(pid, municipality), source=UPSTREAM))
        await known(notify, pid)
    unknown = [f"prv-unknown-{n:04d}" for n in range(997)]
    wanted = [*ours, theirs, *unknown]

    statements: list[str] = []

    def note(query: asyncpg.connection.LoggedQuery) -> None:
        statements.append(query.query)

    async with notify.pool.acquire() as conn:
        conn.add_query_logger(note)
        try:
            known_relations = await notify.service.relations_of(conn, wanted)
            await asyncio.sleep(0)  # asyncpg reports a statement one loop turn later
        finally:
            conn.remove_query_logger(note)
    assert len(statements) == 1, statements
    assert set(known_relations) == {*ours, theirs}

    # The API's scope check over the same thousand: only ours and theirs are known, and
    # theirs is another municipality's, so it is refused, naming the filter.
    answer = await notify.client.post(
        "/v1/subscriptions", json={"url": receiver.url("/many"), "providers": wanted},
        headers=notify.auth("GM0153"),
    )  # fmt: skip
    assert answer.status_code == 403, answer.text
    assert answer.json()["errors"][0]["pointer"] == "/providers"


async def _alert_states(notify: Notify, pid: str) -> list[str]:
    rows = await notify.pool.fetch(
        "SELECT state FROM alerts WHERE provider_id = $1 ORDER BY seq", pid
    )
    return [row["state"] for row in rows]


async def test_a_paused_subscription_holds_its_alerts_and_gets_them_in_order_when_resumed(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    path = f"/hooks/{pid}/GM0153"
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await known(notify, pid)
    sub = await subscribe(notify, receiver, "GM0153", path, providers=[pid])
    paused = await notify.client.post(
        f"/v1/subscriptions/{sub['subscription_id']}/pause", headers=notify.auth("GM0153")
    )
    assert paused.status_code == 200, paused.text
    sent = [
        new_event(assessed(pid, Outcome.INVESTIGATE, category=category), source=UPSTREAM)
        for category in ("calamity", "violence", "quality")
    ]
    await publish(notify.bootstrap, *sent)

    async def held() -> bool:
        return await _alert_states(notify, pid) == ["pending"] * 3

    await wait_for(held, what="three alerts held for the paused subscription")
    await asyncio.sleep(1.0)  # ten delivery rounds: none of them may send a held alert
    assert receiver.at(path) == []
    assert await _alert_states(notify, pid) == ["pending"] * 3

    resumed = await notify.client.post(
        f"/v1/subscriptions/{sub['subscription_id']}/resume", headers=notify.auth("GM0153")
    )
    assert resumed.status_code == 200, resumed.text
    await events_on(
        notify.bootstrap, topics.ALERT_DELIVERED, AlertDeliveredV1,
        lambda e: e.data.provider_id == pid, expected=3, within=60,
    )  # fmt: skip
    causes = [json.loads(body)["causationid"] for _, body in receiver.at(path)]
    assert causes == [event.id for event in sent], "delivered once each, in order"


async def test_an_alert_held_longer_than_the_hold_is_given_up_and_reported(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    path = f"/hooks/{pid}/GM0153"
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await known(notify, pid)
    sub = await subscribe(notify, receiver, "GM0153", path, providers=[pid])
    await notify.client.post(
        f"/v1/subscriptions/{sub['subscription_id']}/pause", headers=notify.auth("GM0153")
    )
    await publish(notify.bootstrap, new_event(assessed(pid, Outcome.INVESTIGATE), source=UPSTREAM))

    async def held() -> bool:
        return await _alert_states(notify, pid) == ["pending"]

    await wait_for(held, what="the alert held for the paused subscription")
    # Eight days on: older than the hold (seven days by default).
    await notify.pool.execute(
        "UPDATE alerts SET created_at = created_at - interval '8 days' WHERE provider_id = $1",
        pid,
    )
    [failed] = await events_on(
        notify.bootstrap, topics.ALERT_FAILED, AlertFailedV1,
        lambda e: e.data.provider_id == pid, within=60,
    )  # fmt: skip
    assert failed.data.failure_reason == "subscription_disabled"
    assert await _alert_states(notify, pid) == ["failed"]
    assert receiver.at(path) == []
