"""The demo's webhook receiver checks Standard Webhooks signatures and counts what arrives.

Each test runs the receiver on a free loopback port and stops it at the end. Signatures are
made with the ``standardwebhooks`` reference library, so the receiver is checked against the
specification, not against its own signing code.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from zicht_demo.receiver import WebhookReceiver

pytestmark = pytest.mark.unit

SECRET = "whsec_" + base64.b64encode(b"synthetic-demo-secret-0123456789").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-synthetic-secret-98765432").decode()
PATH = "/hooks/GM0153"
EVENT = {
    "specversion": "1.0",
    "id": "5f0e8c1a-4d6b-4a8e-b0c2-9d3f7a1e6b24",
    "type": "nl.zorgtoezicht.provider.risk-changed.v1",
    "source": "urn:nld:oin:00000000000000000000:zicht:notify",
    "subject": "demo-0042",
    "data": {"provider_id": "demo-0042", "level": "red", "previous_level": "orange"},
}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(0) as running:
        running.add_secret(PATH, SECRET)
        yield running


def signed(
    body: bytes, webhook_id: str, *, secret: str = SECRET, stamp: int | None = None
) -> dict[str, str]:
    moment = int(time.time()) if stamp is None else stamp
    signature = Webhook(secret).sign(
        webhook_id, datetime.fromtimestamp(moment, tz=UTC), body.decode()
    )
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(moment),
        "webhook-signature": signature,
        "content-type": "application/cloudevents+json",
    }


def post(receiver: WebhookReceiver, body: bytes, headers: dict[str, str], path: str = PATH) -> int:
    return httpx.post(receiver.url_for(path), content=body, headers=headers, timeout=5).status_code


def stats(receiver: WebhookReceiver) -> dict[str, object]:
    answer = httpx.get(receiver.url_for("/stats"), timeout=5)
    assert answer.status_code == 200
    found: dict[str, object] = answer.json()
    return found


def test_a_correctly_signed_alert_is_accepted_and_counted(receiver: WebhookReceiver) -> None:
    body = json.dumps(EVENT).encode()
    assert post(receiver, body, signed(body, "msg_1")) == 204
    seen = stats(receiver)
    assert seen["total"] == 1
    assert seen["per_recipient"] == {PATH: 1}
    assert seen["bad_signatures"] == 0
    last = seen["last_alerts"]
    assert isinstance(last, list)
    assert last[0]["subject"] == "demo-0042"
    assert "level red" in last[0]["summary"]


def test_a_tampered_body_is_refused_with_401(receiver: WebhookReceiver) -> None:
    body = json.dumps(EVENT).encode()
    headers = signed(body, "msg_2")
    tampered = body.replace(b'"red"', b'"green"')
    assert post(receiver, tampered, headers) == 401
    seen = stats(receiver)
    assert seen["total"] == 0
    assert seen["bad_signatures"] == 1


def test_a_signature_under_another_secret_is_refused(receiver: WebhookReceiver) -> None:
    body = json.dumps(EVENT).encode()
    assert post(receiver, body, signed(body, "msg_3", secret=OTHER_SECRET)) == 401


def test_an_old_timestamp_is_refused(receiver: WebhookReceiver) -> None:
    body = json.dumps(EVENT).encode()
    an_hour_ago = int(time.time()) - 3600
    assert post(receiver, body, signed(body, "msg_4", stamp=an_hour_ago)) == 401


def test_a_repeated_webhook_id_counts_as_a_duplicate_not_a_second_alert(
    receiver: WebhookReceiver,
) -> None:
    body = json.dumps(EVENT).encode()
    assert post(receiver, body, signed(body, "msg_5")) == 204
    # A retry: same id, signed again with a new timestamp.
    assert post(receiver, body, signed(body, "msg_5", stamp=int(time.time()) + 1)) == 204
    seen = stats(receiver)
    assert seen["total"] == 1
    assert seen["duplicates"] == 1


def test_one_good_signature_among_several_suffices(receiver: WebhookReceiver) -> None:
    # After a rotation notify signs with the new and the old secret, space-separated.
    body = json.dumps(EVENT).encode()
    unknown = signed(body, "msg_6", secret=OTHER_SECRET)
    known = signed(body, "msg_6")
    headers = {
        **known,
        "webhook-signature": f"{unknown['webhook-signature']} {known['webhook-signature']}",
    }
    assert post(receiver, body, headers) == 204


def test_each_subscriber_has_its_own_path_and_secret(receiver: WebhookReceiver) -> None:
    receiver.add_secret("/hooks/cct-twente", OTHER_SECRET)
    body = json.dumps(EVENT).encode()
    assert post(receiver, body, signed(body, "msg_7"), path="/hooks/cct-twente") == 401
    assert (
        post(receiver, body, signed(body, "msg_8", secret=OTHER_SECRET), "/hooks/cct-twente") == 204
    )
    assert stats(receiver)["per_recipient"] == {"/hooks/cct-twente": 1}


def test_a_path_without_a_subscriber_is_not_found(receiver: WebhookReceiver) -> None:
    body = json.dumps(EVENT).encode()
    assert post(receiver, body, signed(body, "msg_9"), path="/hooks/GM9999") == 404
    assert stats(receiver)["total"] == 0


def test_a_rotated_secret_is_accepted_beside_the_old_one(receiver: WebhookReceiver) -> None:
    receiver.add_secret(PATH, OTHER_SECRET)
    body = json.dumps(EVENT).encode()
    assert post(receiver, body, signed(body, "msg_10", secret=OTHER_SECRET)) == 204
    assert post(receiver, body, signed(body, "msg_11")) == 204
