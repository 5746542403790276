"""Judging a callback's answers to the two verification deliveries."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from zicht_notify.domain import (
    VERIFICATION_EVENT_TYPE,
    Heard,
    Recipient,
    VerificationStep,
    judge,
    verification_data,
    verification_webhook_id,
)
from zicht_schemas import SubscriberKind, new_event, source_urn, to_structured

pytestmark = pytest.mark.unit

SIGNED = VerificationStep.SIGNED
WRONG = VerificationStep.WRONG_SIGNATURE


@pytest.mark.parametrize("status", [200, 202, 204])
def test_a_signed_delivery_passes_with_any_2xx(status: int) -> None:
    assert judge(SIGNED, Heard(status=status), 5).passed


@pytest.mark.parametrize("status", [401, 403, 400, 422])
def test_a_wrongly_signed_delivery_passes_only_when_refused_with_a_4xx(status: int) -> None:
    assert judge(WRONG, Heard(status=status), 5).passed


def test_a_receiver_accepting_a_wrong_signature_is_told_to_check_the_signature() -> None:
    result = judge(WRONG, Heard(status=204), 5)

    assert not result.passed
    assert "accepted" in result.detail
    assert "webhook-signature" in result.detail


def test_a_5xx_to_a_wrong_signature_fails_because_it_would_look_like_an_outage() -> None:
    result = judge(WRONG, Heard(status=500), 5)

    assert not result.passed
    assert "4xx" in result.detail


def test_a_4xx_to_a_correct_signature_hints_at_the_secret() -> None:
    result = judge(SIGNED, Heard(status=401), 5)

    assert not result.passed
    assert "secret" in result.detail
    assert "401" in result.detail


def test_no_answer_is_named_plainly() -> None:
    late = judge(SIGNED, Heard(timed_out=True), 5)
    refused = judge(SIGNED, Heard(error="connection refused or host unreachable"), 5)

    assert "did not answer within 5 seconds" in late.detail
    assert "connection refused" in refused.detail
    assert not late.passed
    assert not refused.passed


def test_the_test_delivery_is_a_cloudevent_that_says_what_is_asked() -> None:
    data = verification_data(
        uuid.uuid4(), Recipient(SubscriberKind.MUNICIPALITY, "GM0153"), datetime.now(UTC)
    )
    body = json.loads(
        to_structured(new_event(data, source=source_urn("00000001000000000000", "notify")))
    )

    assert body["type"] == VERIFICATION_EVENT_TYPE
    assert "wrong signature" in body["data"]["purpose_en"]
    assert "handtekening" in body["data"]["purpose_nl"]
    assert verification_webhook_id(uuid.uuid4()).startswith("verify_")
