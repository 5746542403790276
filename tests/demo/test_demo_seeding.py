"""Seeding is safe to repeat, and the view counts what the services answer.

Zicht's APIs are stood in for by an in-memory fake behind ``httpx.MockTransport`` that answers
as docs/partners/ and notify's subscription API say (202 new, 200 replay; a subscriber's own
secret, with which the callback is verified as notify does: a signed test delivery must get a
2xx and a wrongly signed one a 4xx, or the subscription is refused). The receiver runs on a
free loopback port and is stopped at the end.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from zicht_demo.client import Endpoints, Keys, ZichtClient
from zicht_demo.receiver import WebhookReceiver
from zicht_demo.region import Region, build_region
from zicht_demo.seed import SUBSCRIPTION_DESCRIPTION, hook_path, seed_region, subscriber_ids
from zicht_demo.signals import SignalGenerator, Submission, SubmissionKind
from zicht_demo.view import SendTally, Watcher, summary_line

pytestmark = pytest.mark.unit

TODAY = date(2026, 3, 16)


@dataclass
class FakeZicht:
    """Intake's registry and indicator routes, notify's subscriptions and a risk register."""

    providers: dict[str, Any] = field(default_factory=dict)
    reports: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)
    submissions: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)
    """Notify's alerts by state, as its flow counts them."""
    signals: dict[str, int] = field(default_factory=dict)
    """Intake's signals by source, as its flow counts them."""
    flow_since: list[str] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["authorization"].removeprefix("Bearer ")
        parts = request.url.path.strip("/").split("/")
        service = request.url.port
        body = json.loads(request.content) if request.content else None
        if parts == ["v1", "ops", "flow"]:
            self.flow_since.append(request.url.params["since"])
            counts = {"signals": self.signals} if service == 8001 else {"alerts": self.deliveries}
            return httpx.Response(200, json={"service": str(service), "counts": counts})
        if service == 8001:
            return self.intake(request.method, parts, body)
        if service == 8003:
            level = request.url.params.get("level")
            listed = [
                {"provider_id": p, "name": p, "score": 70.0, "level": lvl}
                for p, lvl in self.levels.items()
                if lvl == level
            ]
            return httpx.Response(200, json={"providers": listed})
        return self.notify(request.method, parts, body, key)

    def intake(self, method: str, parts: list[str], body: Any) -> httpx.Response:
        if method == "PUT" and parts[:2] == ["v1", "providers"]:
            replay = self.providers.get(parts[2]) == body
            self.providers[parts[2]] = body
            return httpx.Response(200 if replay else 202, json={"status": "accepted"})
        if method == "POST" and parts[-1] == "indicators":
            if parts[2] not in self.providers:
                return httpx.Response(422, json={"title": "provider_not_identified"})
            ident = (parts[2], body["source"], body["period_end"])
            replay = self.reports.get(ident) == body
            self.reports[ident] = body
            return httpx.Response(200 if replay else 202, json={"status": "accepted"})
        if method == "GET" and len(parts) == 2:
            listed = [{"submission_id": s, **v} for s, v in self.submissions.items()]
            return httpx.Response(200, json={"submissions": listed})
        if method == "GET" and len(parts) == 3:
            return httpx.Response(200, json=self.submissions[parts[2]])
        return httpx.Response(404, json={"title": "not found"})

    def notify(  # one answer per route of the fake
        self, method: str, parts: list[str], body: Any, key: str
    ) -> httpx.Response:
        subscriber = key.removeprefix("key-")
        if parts == ["v1", "subscriptions"] and method == "GET":
            own = [s for s in self.subscriptions.values() if s["subscriber"] == subscriber]
            return httpx.Response(200, json={"subscriptions": own})
        if method in {"POST", "PATCH"} and "secret" in body and not verified(body):
            return httpx.Response(422, json={"title": "The callback did not pass verification"})
        if parts == ["v1", "subscriptions"] and method == "POST":
            sid = str(uuid.uuid4())
            secret = body["secret"]
            self.subscriptions[sid] = {
                "subscription_id": sid,
                "subscriber": subscriber,
                "url": body["url"],
                "description": body["description"],
                "paused": False,
                "secret": secret,
            }
            return httpx.Response(201, json=self._shown(sid))
        sid = parts[2]
        if method == "PATCH":
            self.subscriptions[sid]["url"] = body["url"]
            self.subscriptions[sid]["secret"] = body["secret"]
            return httpx.Response(200, json=self._shown(sid))
        if method == "DELETE":
            del self.subscriptions[sid]
            return httpx.Response(204)
        secret = _secret()
        self.subscriptions[sid]["secret"] = secret
        return httpx.Response(200, json={"subscription_id": sid, "secret": secret})

    def _shown(self, sid: str) -> dict[str, Any]:
        # notify never shows a secret when listing.
        return {k: v for k, v in self.subscriptions[sid].items() if k != "secret"}


def verified(body: dict[str, Any]) -> bool:
    """Notify's check of a callback: signed with the secret 2xx, wrongly signed 4xx."""
    check = json.dumps(
        {"specversion": "1.0", "type": "nl.zorgtoezicht.webhook.verification.v1", "data": {}}
    )
    webhook_id = f"verify_{uuid.uuid4().hex}"
    answers = []
    for secret in (body["secret"], _secret()):
        signature = Webhook(secret).sign(webhook_id, datetime.now(tz=UTC), check)
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(datetime.now(tz=UTC).timestamp())),
            "webhook-signature": signature,
            "content-type": "application/cloudevents+json",
        }
        answers.append(
            httpx.post(body["url"], content=check.encode(), headers=headers, timeout=5).status_code
        )
    return 200 <= answers[0] < 300 and 400 <= answers[1] < 500


def _secret() -> str:
    return "whsec_" + base64.b64encode(uuid.uuid4().bytes * 2).decode()


def keys(*, without: str | None = None) -> Keys:
    return Keys(
        contract_management="key-cm",
        intake_operator="key-operator",
        scoring_reader="key-reader",
        notify_operator="key-operator",
        subscribers={s: f"key-{s}" for s in subscriber_ids() if s != without},
    )


def client_for(fake: FakeZicht, found: Keys) -> ZichtClient:
    return ZichtClient(Endpoints(), found, transport=httpx.MockTransport(fake.handle))


@pytest.fixture
def region() -> Region:
    return build_region(1, 20, today=TODAY)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(0) as running:
        yield running


def deliver(receiver: WebhookReceiver, subscriber: str, secret: str) -> int:
    body = b'{"type": "nl.zorgtoezicht.test.v1", "subject": "demo-0001", "data": {}}'
    webhook_id = f"msg_{uuid.uuid4().hex}"
    signature = Webhook(secret).sign(webhook_id, datetime.now(tz=UTC), body.decode())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": signature,
    }
    url = receiver.url_for(hook_path(subscriber))
    return httpx.post(url, content=body, headers=headers, timeout=5).status_code


async def test_seeding_registers_every_provider_report_and_subscriber(
    region: Region, receiver: WebhookReceiver
) -> None:
    fake = FakeZicht()
    async with client_for(fake, keys()) as client:
        report = await seed_region(client, region, receiver)
    assert set(fake.providers) == {p.provider_id for p in region.providers}
    assert len(fake.reports) == sum(len(p.indicator_reports) for p in region.providers)
    assert report.providers == {"accepted": 20}
    assert report.subscriptions == {"created": len(subscriber_ids())}
    assert len(fake.subscriptions) == 23  # 18 municipalities, 4 casus tables, IGJ
    stats = receiver.stats()
    assert (stats.verifications, stats.bad_signatures, stats.total) == (23, 0, 0)
    for subscription in fake.subscriptions.values():
        assert subscription["url"] == receiver.url_for(hook_path(subscription["subscriber"]))
        assert deliver(receiver, subscription["subscriber"], subscription["secret"]) == 204


async def test_a_second_seeding_replays_and_reuses_instead_of_failing(
    region: Region, receiver: WebhookReceiver
) -> None:
    fake = FakeZicht()
    async with client_for(fake, keys()) as client:
        await seed_region(client, region, receiver)
    with WebhookReceiver(0) as second_receiver:
        async with client_for(fake, keys()) as client:
            report = await seed_region(client, region, second_receiver)
        assert report.providers == {"replayed": 20}
        assert report.reports == {"replayed": len(fake.reports)}
        assert report.subscriptions == {"reused": len(subscriber_ids())}
        assert report.problems == []
        assert len(fake.subscriptions) == 23
        for subscription in fake.subscriptions.values():
            # Moved to the new receiver, which knows the new secret.
            path = hook_path(subscription["subscriber"])
            assert subscription["url"] == second_receiver.url_for(path)
            assert (
                deliver(second_receiver, subscription["subscriber"], subscription["secret"]) == 204
            )


async def test_leftover_demo_subscriptions_of_earlier_runs_are_removed(
    region: Region, receiver: WebhookReceiver
) -> None:
    fake = FakeZicht()
    for _ in range(2):
        sid = str(uuid.uuid4())
        fake.subscriptions[sid] = {
            "subscription_id": sid,
            "subscriber": "GM0153",
            "url": "http://127.0.0.1:9/hooks/GM0153",
            "description": SUBSCRIPTION_DESCRIPTION,
            "paused": False,
            "secret": _secret(),
        }
    async with client_for(fake, keys()) as client:
        await seed_region(client, region, receiver)
    enschede = [s for s in fake.subscriptions.values() if s["subscriber"] == "GM0153"]
    assert len(enschede) == 1
    assert enschede[0]["url"] == receiver.url_for("/hooks/GM0153")


async def test_every_subscriber_with_a_key_is_subscribed_also_beyond_the_reference_list(
    region: Region, receiver: WebhookReceiver
) -> None:
    fake = FakeZicht()
    found = keys()
    with_supervisors = Keys(
        contract_management=found.contract_management,
        subscribers={**found.subscribers, "supervisors-twente": "key-supervisors-twente"},
    )
    async with client_for(fake, with_supervisors) as client:
        await seed_region(client, region, receiver)
    subscribed = {s["subscriber"] for s in fake.subscriptions.values()}
    assert "supervisors-twente" in subscribed
    assert len(subscribed) == 24


async def test_a_subscriber_without_a_key_is_skipped_and_reported(
    region: Region, receiver: WebhookReceiver
) -> None:
    fake = FakeZicht()
    async with client_for(fake, keys(without="igj")) as client:
        report = await seed_region(client, region, receiver)
    assert report.subscriptions["skipped (no key)"] == 1
    assert any("igj" in problem for problem in report.problems)


def submission(
    kind: SubmissionKind, rows: int = 1, invalid_rows: tuple[int, ...] = ()
) -> Submission:
    return Submission(
        kind=kind,
        body=b"",
        content_type="application/json",
        partner_key_name=kind.value,
        reference="ref",
        provider_ids=("demo-0001",) * rows,
        deliberately_invalid=bool(invalid_rows),
        invalid_rows=invalid_rows,
    )


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        # expected: (accepted, refused, conflicts, failed) signals of a file of three rows
        (202, {"submission_id": "s1", "status": "accepted"}, (3, 0, 0, 0)),
        (
            202,
            {
                "submission_id": "s1",
                "status": "partially_accepted",
                "items": [{"status": "accepted"}, {"status": "rejected"}, {"status": "accepted"}],
            },
            (2, 1, 0, 0),
        ),
        (422, {"title": "invalid"}, (0, 3, 0, 0)),
        (409, {"title": "duplicate"}, (0, 0, 3, 0)),
        (503, {"title": "unavailable"}, (0, 0, 0, 3)),
        (None, None, (0, 0, 0, 3)),
    ],
)
def test_the_tally_counts_signals_by_intakes_answer(
    status: int | None, body: Any, expected: tuple[int, int, int, int]
) -> None:
    tally = SendTally()
    tally.record(submission(SubmissionKind.ACCESS_TEAM, rows=3, invalid_rows=(3,)), status, body)
    counted = tally.partners["access_team"]
    assert counted.sent == 3
    assert counted.meant_invalid == 1
    assert (counted.accepted, counted.refused, counted.conflicts, counted.failed) == expected


async def test_the_view_counts_outcomes_once_and_colour_changes(receiver: WebhookReceiver) -> None:
    fake = FakeZicht(levels={"demo-0001": "orange", "demo-0002": "green"})
    fake.deliveries = {"delivered": 4, "undeliverable": 1}
    fake.signals = {"igj": 1}
    fake.submissions["s1"] = {
        "source": "igj",
        "status": "accepted",
        "items": [{"status": "accepted", "signal_id": "sig-1"}],
    }
    tally = SendTally()
    tally.record(submission(SubmissionKind.IGJ), 202, {"submission_id": "s1", "status": "accepted"})
    moments = iter(float(n) for n in range(0, 100, 3))
    async with client_for(fake, keys()) as client:
        watcher = Watcher(client, receiver, tally, providers=3, rate=2, clock=lambda: next(moments))
        first = await watcher.poll()
        assert first.outcomes == {}
        assert first.awaiting_triage == 1
        fake.submissions["s1"]["items"][0]["assessment"] = {"outcome": "investigate"}
        fake.levels["demo-0001"] = "red"
        second = await watcher.poll()
        third = await watcher.poll()
    assert second.outcomes == {"investigate": 1}
    assert third.outcomes == {"investigate": 1}
    assert second.awaiting_triage == 0
    assert second.levels == {"green": 1, "orange": 0, "red": 1}
    assert second.unscored == 1
    assert second.changed_colour == 1
    assert second.deliveries["delivered"] == 4
    assert second.received == {"igj": 1}
    # Counted since the run started, as the reconciliation counts them.
    assert all(since.endswith("+00:00") for since in fake.flow_since)
    line = summary_line(second)
    assert "delivered 4" in line
    assert "undeliverable 1" in line
    assert "investigate 1" in line
    assert "red 1" in line
    assert "changed colour 1" in line


async def test_a_provider_first_scored_after_the_first_look_counts_as_a_change_unless_green(
    receiver: WebhookReceiver,
) -> None:
    fake = FakeZicht(levels={"demo-0001": "orange"})
    walls = iter([1000.0, 1041.5, 1050.0])
    async with client_for(fake, keys()) as client:
        watcher = Watcher(
            client, receiver, SendTally(), providers=3, rate=2, started_at=990.0,
            wall=lambda: next(walls),
        )  # fmt: skip
        first = await watcher.poll()  # the baseline: demo-0001 was orange already
        fake.levels["demo-0002"] = "red"  # unscored at the first look: it started green
        fake.levels["demo-0003"] = "green"
        second = await watcher.poll()
    assert first.changed_colour == 0
    assert first.first_change_s is None
    assert second.changed_colour == 1
    assert second.first_change_s == 1000.0 - 990.0
    assert "first colour change 10s after start" in summary_line(second)


async def test_a_service_that_does_not_answer_is_one_line_in_the_view(
    receiver: WebhookReceiver,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = ZichtClient(Endpoints(), keys(), transport=httpx.MockTransport(refuse))
    async with client:
        watcher = Watcher(client, receiver, SendTally(), providers=3, rate=2)
        snapshot = await watcher.poll()
    assert any("scoring at http://127.0.0.1:8003 does not answer" in p for p in snapshot.problems)
    assert "does not answer" in summary_line(snapshot)


def test_generated_submissions_carry_keys_the_stack_hands_out(region: Region) -> None:
    teams = {f"wijkteam-{code.lower()}": f"key-{code}" for code in subscriber_ids()[:18]}
    found = Keys(igj="key-igj", police="key-police", access_teams=teams)
    for generated in SignalGenerator(region, 1, run_token=1).take(100):
        assert found.for_submission(generated) is not None
