from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from zicht_notify.domain import generate_secret, sign, signature

pytestmark = pytest.mark.unit

BODY = (
    b'{"specversion":"1.0","type":"nl.zorgtoezicht.alert.v1",'
    b'"data":{"provider":"zp-1","x":"\xc3\xa9"}}'
)
WEBHOOK_ID = "msg_0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d"


def now() -> int:
    # The library refuses timestamps more than five minutes from its own clock.
    return int(time.time())


def test_a_new_secret_is_whsec_and_base64_of_32_random_bytes() -> None:
    one, other = generate_secret(), generate_secret()

    assert one.startswith("whsec_")
    assert len(base64.b64decode(one.removeprefix("whsec_"), validate=True)) == 32
    assert one != other


def test_the_signature_matches_the_specifications_example() -> None:
    # The example of the Standard Webhooks specification and its reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    found = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')

    assert found == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_three_standard_webhooks_headers_are_set() -> None:
    secret = generate_secret()
    stamp = now()

    headers = sign([secret], WEBHOOK_ID, stamp, BODY)

    assert headers == {
        "webhook-id": WEBHOOK_ID,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature(secret, WEBHOOK_ID, stamp, BODY),
    }


@pytest.mark.parametrize("holder", ["new", "old"])
def test_during_a_rotation_a_receiver_with_either_secret_verifies(holder: str) -> None:
    new, old = generate_secret(), generate_secret()

    headers = sign([new, old], WEBHOOK_ID, now(), BODY)

    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new if holder == "new" else old).verify(BODY, headers)["data"]["x"] == "é"


def test_a_receiver_with_a_secret_that_was_rotated_out_fails_verification() -> None:
    retired = generate_secret()

    headers = sign([generate_secret()], WEBHOOK_ID, now(), BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(retired).verify(BODY, headers)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, b: (h, b.replace(b"zp-1", b"zp-2")), id="body"),
        pytest.param(lambda h, b: ({**h, "webhook-id": "msg_other"}, b), id="id"),
        pytest.param(
            lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) - 1)}, b),
            id="timestamp",
        ),
    ],
)
def test_a_tampered_message_fails_verification(tamper: object) -> None:
    secret = generate_secret()
    headers = sign([secret], WEBHOOK_ID, now(), BODY)
    assert callable(tamper)

    changed_headers, changed_body = tamper(headers, BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(changed_body, changed_headers)


def test_a_repeated_secret_is_signed_once() -> None:
    secret = generate_secret()

    headers = sign([secret, secret], WEBHOOK_ID, now(), BODY)

    assert len(headers["webhook-signature"].split(" ")) == 1


def test_an_unpadded_secret_is_read_as_the_library_reads_it() -> None:
    secret = "whsec_" + base64.b64encode(bytes(range(25))).decode().rstrip("=")

    headers = sign([secret], WEBHOOK_ID, now(), BODY)

    assert Webhook(secret).verify(BODY, headers)


@pytest.mark.parametrize(
    ("secrets", "webhook_id", "timestamp", "problem"),
    [
        ([], WEBHOOK_ID, 1, "at least one"),
        (["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], WEBHOOK_ID, 1, "starts with"),
        (["whsec_not base64!"], WEBHOOK_ID, 1, "base64"),
        (["whsec_" + base64.b64encode(b"short").decode()], WEBHOOK_ID, 1, "24 to 64 bytes"),
        (["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "msg.with.dots", 1, "webhook id"),
        (["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], WEBHOOK_ID, -1, "epoch"),
    ],
)
def test_signing_refuses_what_a_receiver_could_not_verify(
    secrets: list[str], webhook_id: str, timestamp: int, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        sign(secrets, webhook_id, timestamp, BODY)
