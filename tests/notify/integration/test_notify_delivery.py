"""Notify against the real broker, Postgres and a real webhook receiver."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kit.helpers import wait_for
from support.events import events_on
from triage.integration.test_triage_pipeline import provider, publish
from zicht_notify.app import create_app, create_kit, create_service
from zicht_notify.config import NotifySettings
from zicht_runtime.auth import KeyStore
from zicht_runtime.devstack import PostgresDatabases, find_free_port
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


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 whose answers the test chooses per path."""

    port: int
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """The URL of a path on this receiver."""
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        """What arrived at a path."""
        return [(h, b) for p, h, b in self.received if p == path]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    """A real HTTP server that records every POST and answers 204 unless told otherwise."""
    state = Receiver(find_free_port())

    async def hook(request: Request) -> Response:
        body = await request.body()
        state.received.append((request.url.path, dict(request.headers), body))
        planned = state.answers.get(request.url.path)
        status = planned.pop(0) if planned else 204
        headers = {"Retry-After": "0"} if status in {429, 503} else {}
        return Response(status_code=status, headers=headers)

    app = Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=state.port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  # uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    yield state
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await task


@dataclass
class Notify:
    """The running notify service with subscriber keys."""

    client: httpx.AsyncClient
    kit: ServiceKit
    pool: asyncpg.Pool
    bootstrap: str
    keys: dict[str, str]

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
                ("GM0164", "municipality"), ("riec-on-zorgfraude", "casus_table"),
            ]
        }  # fmt: skip
        keys["operator"] = (await store.create("ops", ["operator"])).secret
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
            yield Notify(client, kit, kit.pool, kafka_bootstrap, keys)
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


async def subscribe(notify: Notify, who: str, url: str, **filters: Any) -> dict[str, Any]:
    """A subscription of ``who``; narrowed to one provider so tests do not share alerts."""
    answer = await notify.client.post(
        "/v1/subscriptions", json={"url": url, **filters}, headers=notify.auth(who)
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def test_a_calamity_reaches_its_municipality_signed_so_standard_webhooks_verifies_it(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    path = f"/hooks/{pid}/GM0153"
    event = new_event(assessed(pid, Outcome.INVESTIGATE), source=UPSTREAM)
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await known(notify, pid)
    sub = await subscribe(notify, "GM0153", receiver.url(path), providers=[pid])
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
    await subscribe(notify, "GM0153", receiver.url(path), providers=[pid])
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
    await subscribe(notify, "GM0153", receiver.url(path), providers=[pid])
    await publish(notify.bootstrap, new_event(assessed(pid, Outcome.INVESTIGATE), source=UPSTREAM))

    [failed] = await events_on(
        notify.bootstrap, topics.ALERT_FAILED, AlertFailedV1,
        lambda e: e.data.provider_id == pid, within=60,
    )  # fmt: skip
    assert failed.data.failure_reason == "rejected_by_receiver"
    assert failed.data.attempts == 1
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
    await subscribe(notify, "GM0153", receiver.url(path), providers=[pid])

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

    await publish(notify.bootstrap, change(RiskLevel.ORANGE, RiskLevel.GREEN, 35.0))
    await publish(notify.bootstrap, change(RiskLevel.GREEN, RiskLevel.ORANGE, 20.0))

    delivered = await events_on(
        notify.bootstrap, topics.ALERT_DELIVERED, AlertDeliveredV1,
        lambda e: e.data.provider_id == pid, expected=2, within=60,
    )  # fmt: skip
    assert {d.data.subscriber_id for d in delivered} == {"GM0153"}
    kinds = [json.loads(b)["data"]["level"] for _, b in receiver.at(path)]
    assert kinds == ["orange", "green"]


async def test_a_retry_holds_back_later_alerts_about_the_same_provider(
    notify: Notify, receiver: Receiver
) -> None:
    pid = f"prv-{uuid.uuid4().hex[:8]}"
    path = f"/hooks/{pid}/GM0153"
    receiver.answers[path] = [503, 503]
    await publish(notify.bootstrap, new_event(provider(pid), source=UPSTREAM))
    await known(notify, pid)
    await subscribe(notify, "GM0153", receiver.url(path), providers=[pid])
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
    await subscribe(notify, "riec-on-zorgfraude", receiver.url(f"/hooks/{pid}/riec"),
                    providers=[pid])  # fmt: skip
    await subscribe(notify, "GM0153", receiver.url(f"/hooks/{pid}/GM0153"), providers=[pid])
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
    sub = await subscribe(notify, "GM0153", receiver.url(path), providers=[pid])
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
