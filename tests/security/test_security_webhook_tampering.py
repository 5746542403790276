"""A tampered webhook: an alert notify really delivered, changed in transit, is refused.

Notify runs in-process with a verified subscription of Enschede to a careful receiver; a
calamity at a provider in Enschede becomes an alert that arrives signed. Changing any byte of
the body, any of the three webhook headers, signing with another subscriber's secret, or
replaying it after the tolerance has passed: the ``standardwebhooks`` library a receiver uses
refuses each.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
import standardwebhooks.webhooks
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from kit.helpers import wait_for
from security.cases import provider_known, signal_assessed
from security.support import Running
from support.webhooks import Receiver
from zicht_notify.domain import generate_secret
from zicht_schemas import ALERT_EVENT_TYPE

pytestmark = pytest.mark.asyncio(loop_scope="session")

PRINTABLE = [bytes([b]) for b in range(0x20, 0x7F)]
BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@dataclass(frozen=True)
class Delivered:
    """An alert as the receiver got it, and the secret it was signed with."""

    headers: dict[str, str]
    body: bytes
    secret: str

    def refused(self, body: bytes, headers: dict[str, str], secret: str | None = None) -> bool:
        """Whether verification refuses this variant while it still accepts the original.

        The original is checked first, so a refusal is the variant's doing, never the age of
        the delivery.
        """
        Webhook(self.secret).verify(self.body, self.headers)
        try:
            Webhook(secret or self.secret).verify(body, headers)
        except WebhookVerificationError:
            return True
        except UnicodeDecodeError:
            # A changed byte inside a multi-byte character (alert texts hold Dutch words such
            # as "geïnformeerd") leaves no UTF-8 body: the library refuses it before the MAC.
            return True
        return False


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def delivered(notify: Running, receiver: Receiver) -> AsyncIterator[Delivered]:
    """One alert notify delivered to Enschede's receiver, signed with Enschede's own secret."""
    pid = await provider_known(notify)
    path = f"/security/{pid}/GM0153"
    secret = generate_secret()
    receiver.secrets[path] = secret
    subscribed = await notify.client.post(
        "/v1/subscriptions",
        json={"url": receiver.url(path), "secret": secret, "providers": [pid]},
        headers=notify.auth("subscriber"),
    )
    assert subscribed.status_code == 201, subscribed.text
    assert subscribed.json()["verification"]["state"] == "verified"
    await signal_assessed(notify, pid)

    async def arrived() -> bool:
        return bool(receiver.at(path))

    await wait_for(arrived, within=60, what="the alert at the receiver")
    headers, body = receiver.at(path)[0]
    yield Delivered({k: v for k, v in headers.items() if k.startswith("webhook-")}, body, secret)


def _later(minutes: float) -> type[datetime]:
    """A ``datetime`` whose now() lies ``minutes`` ahead: the moment a replay arrives."""

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz) + timedelta(minutes=minutes)

    return Later


async def test_the_alert_as_delivered_verifies(delivered: Delivered) -> None:
    payload = Webhook(delivered.secret).verify(delivered.body, delivered.headers)

    assert payload["type"] == ALERT_EVENT_TYPE
    assert not delivered.refused(delivered.body, delivered.headers)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
async def test_one_byte_of_the_body_changed_is_refused(
    delivered: Delivered, data: st.DataObject
) -> None:
    at = data.draw(st.integers(0, len(delivered.body) - 1), label="position")
    original = delivered.body[at : at + 1]
    byte = data.draw(st.sampled_from([b for b in PRINTABLE if b != original]), label="byte")
    tampered = delivered.body[:at] + byte + delivered.body[at + 1 :]

    assert delivered.refused(tampered, delivered.headers)


async def test_a_body_cut_short_or_lengthened_is_refused(delivered: Delivered) -> None:
    for body in (delivered.body[:-1], delivered.body + b" ", b" " + delivered.body, b""):
        assert delivered.refused(body, delivered.headers), body[:40]


async def test_a_body_that_is_not_utf8_or_a_signature_without_version_is_refused_otherwise(
    delivered: Delivered,
) -> None:
    # The library raises its own error only for what it checks; a body it cannot decode and a
    # signature header it cannot split raise plain ValueErrors. A receiver catching only
    # WebhookVerificationError answers these with a 500 instead of a 401.
    verify = Webhook(delivered.secret).verify
    bad_byte = delivered.body[:10] + b"\xff" + delivered.body[11:]
    no_version = {**delivered.headers, "webhook-signature": "c2lnbmF0dXJl"}

    with pytest.raises(UnicodeDecodeError):
        verify(bad_byte, delivered.headers)
    with pytest.raises(ValueError, match="unpack"):
        verify(delivered.body, no_version)


def _header_variants(headers: dict[str, str]) -> dict[str, dict[str, str]]:
    webhook_id = headers["webhook-id"]
    stamp = int(headers["webhook-timestamp"])
    version, signature = headers["webhook-signature"].split(",", 1)
    flipped = BASE64[(BASE64.index(signature[5]) + 1) % 64]
    other_id = webhook_id[:-1] + ("0" if webhook_id[-1] != "0" else "1")
    return {
        "another webhook-id": {**headers, "webhook-id": other_id},
        "a timestamp one second on": {**headers, "webhook-timestamp": str(stamp + 1)},
        "a timestamp ten minutes back": {**headers, "webhook-timestamp": str(stamp - 600)},
        "a timestamp ten minutes ahead": {**headers, "webhook-timestamp": str(stamp + 600)},
        "one signature character changed": {
            **headers,
            "webhook-signature": f"{version},{signature[:5]}{flipped}{signature[6:]}",
        },
        "a signature of another version": {**headers, "webhook-signature": f"v2,{signature}"},
        "a signature of zero bytes": {
            **headers,
            "webhook-signature": f"v1,{base64.b64encode(bytes(32)).decode()}",
        },
        "no webhook-id": {k: v for k, v in headers.items() if k != "webhook-id"},
        "no webhook-timestamp": {k: v for k, v in headers.items() if k != "webhook-timestamp"},
        "no webhook-signature": {k: v for k, v in headers.items() if k != "webhook-signature"},
    }


async def test_one_header_changed_or_left_out_is_refused(delivered: Delivered) -> None:
    for what, headers in _header_variants(delivered.headers).items():
        assert delivered.refused(delivered.body, headers), what


async def test_another_subscribers_secret_does_not_verify_it(delivered: Delivered) -> None:
    assert delivered.refused(delivered.body, delivered.headers, secret=generate_secret())


async def test_a_replay_after_the_five_minute_tolerance_is_refused(
    delivered: Delivered, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Within the tolerance the captured alert still verifies: against a replay then, a receiver
    # deduplicates by webhook-id (docs/partners/webhooks.md).
    verify = Webhook(delivered.secret).verify
    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", _later(4))
    verify(delivered.body, delivered.headers)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", _later(6))
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(delivered.body, delivered.headers)
