"""Webhook payloads as contracts: read as a subscriber does, never on Kafka, never personal."""

import json
from typing import Any

import pytest
from pydantic import ValidationError

from zicht_schemas import (
    ALERT_EVENT_TYPE,
    VERIFICATION_EVENT_TYPE,
    AlertReason,
    AlertV1,
    CloudEvent,
    EventData,
    InvalidEventError,
    InvalidEventKind,
    ReasonSource,
    SignalAssessedV1,
    VerificationV1,
    WebhookData,
    carries_personal_data,
    from_kafka_record,
    from_structured,
    from_webhook,
    new_event,
    source_urn,
    to_kafka_record,
    to_structured,
)

pytestmark = pytest.mark.unit

SOURCE = source_urn("00000001234567890000", "notify")
BSN = "111222333"  # passes the eleven-test; synthetic
PSEUDONYM = "c0ffee" * 10 + "beef"  # 64 hex characters, the shape of a client pseudonym


@pytest.fixture
def alert(webhook_by_type: dict[str, CloudEvent[WebhookData]]) -> AlertV1:
    data = webhook_by_type[ALERT_EVENT_TYPE].data
    assert isinstance(data, AlertV1)
    return data


def _alert_with(alert: AlertV1, **changes: Any) -> AlertV1:
    """A copy of the golden alert with ``changes`` (JSON values), validated again."""
    return AlertV1.model_validate_json(json.dumps(alert.model_dump(mode="json") | changes))


# --- the screen ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"client {BSN}",
        "client 111.222.333",
        "client 111 222 333",
        "nr 11122201",  # eight digits: a BSN whose leading zero was dropped
        f"client {PSEUDONYM}",
        f"client {PSEUDONYM[:24]}",  # a truncated pseudonym links a client just as well
    ],
)
def test_the_screen_finds_a_bsn_or_a_pseudonym_in_a_text(text: str) -> None:
    assert carries_personal_data(text)


@pytest.mark.parametrize(
    "text",
    [
        "A crime indicator was reported: criminal referral.",
        "Zorggroep De Voorbeeldhoeve B.V.",
        "provider 9c1d3e5f-7a8b-4c2d-9e0f-1a2b3c4d5e6f",  # a UUID: hex runs of at most 12
        "personnel costs below 50% of revenue, 123456789 euro",  # fails the eleven-test
        "KvK 12345678",
    ],
)
def test_the_screen_lets_fixed_texts_ids_and_other_numbers_pass(text: str) -> None:
    assert not carries_personal_data(text)


# --- the alert model ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider_name", [f"Zorg {BSN} B.V.", f"Zorg {PSEUDONYM}", "Zorg\nTwee regels"]
)
def test_the_alert_refuses_a_provider_name_carrying_personal_data(
    alert: AlertV1, provider_name: str
) -> None:
    provider = alert.provider.model_dump(mode="json") | {"name": provider_name}

    with pytest.raises(ValidationError, match=r"provider\.name"):
        _alert_with(alert, provider=provider)


@pytest.mark.parametrize(
    "reason",
    [
        {"source": "rule", "ref": "R4", "text_en": f"client {BSN} reported"},
        {"source": "rule", "ref": "R4", "text_en": "ok", "text_nl": f"cliënt {PSEUDONYM}"},
        {"source": "contribution", "ref": PSEUDONYM[:32], "text_en": "a signal", "points": 9.0},
    ],
)
def test_the_alert_refuses_a_reason_carrying_personal_data(
    alert: AlertV1, reason: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError, match="pseudonym or a BSN"):
        _alert_with(alert, reasons=[reason])


def test_the_refusal_does_not_repeat_the_refused_text() -> None:
    with pytest.raises(ValidationError) as caught:
        AlertReason(source=ReasonSource.RULE, text_en=f"client {BSN}")

    assert BSN not in "; ".join(str(error["msg"]) for error in caught.value.errors())


def test_fields_an_alert_does_not_define_are_dropped_not_kept(alert: AlertV1) -> None:
    reread = _alert_with(alert, client_pseudonyms=[PSEUDONYM], description="free text")

    assert reread == alert
    assert PSEUDONYM not in reread.model_dump_json()


# --- reading and writing ------------------------------------------------------------------------


def test_a_subscriber_reads_either_webhook_with_from_webhook(
    webhook_by_type: dict[str, CloudEvent[WebhookData]],
) -> None:
    alert = webhook_by_type[ALERT_EVENT_TYPE]
    check = webhook_by_type[VERIFICATION_EVENT_TYPE]

    assert isinstance(alert.data, AlertV1)
    assert isinstance(check.data, VerificationV1)
    assert alert.subject == alert.data.provider.provider_id
    assert check.subject is None
    assert str(alert.data.alert_id) == alert.id


def test_from_structured_with_the_model_reads_an_alert(
    webhook_by_type: dict[str, CloudEvent[WebhookData]],
) -> None:
    golden = webhook_by_type[ALERT_EVENT_TYPE]

    read: CloudEvent[AlertV1] = from_structured(to_structured(golden), AlertV1)

    assert read == golden


def test_from_structured_without_a_model_points_a_webhook_to_from_webhook(
    webhook_by_type: dict[str, CloudEvent[WebhookData]],
) -> None:
    with pytest.raises(InvalidEventError, match="read it with from_webhook") as caught:
        from_structured(to_structured(webhook_by_type[ALERT_EVENT_TYPE]))

    assert caught.value.kind is InvalidEventKind.UNKNOWN_TYPE


def test_from_webhook_refuses_a_kafka_event_and_an_unknown_type(
    golden_by_type: dict[str, CloudEvent[EventData]],
) -> None:
    body = to_structured(golden_by_type[SignalAssessedV1.EVENT_TYPE])
    with pytest.raises(InvalidEventError, match="not a webhook: read it with from_structured"):
        from_webhook(body)

    unknown = json.loads(body) | {"type": "nl.zorgtoezicht.alert.v9"}
    with pytest.raises(InvalidEventError, match="is not a Zicht webhook type") as caught:
        from_webhook(json.dumps(unknown))
    assert caught.value.kind is InvalidEventKind.UNKNOWN_TYPE


def test_a_webhook_payload_never_becomes_a_kafka_record(
    webhook_golden_path: Any,
) -> None:
    event = from_webhook(webhook_golden_path.read_bytes())

    with pytest.raises(TypeError, match="travels on no topic"):
        to_kafka_record(event)


def test_a_kafka_consumer_refuses_a_webhook_type(
    golden_by_type: dict[str, CloudEvent[EventData]],
) -> None:
    record = to_kafka_record(golden_by_type[SignalAssessedV1.EVENT_TYPE])
    headers = [
        (name, ALERT_EVENT_TYPE.encode() if name == "ce_type" else value)
        for name, value in record.headers
    ]

    with pytest.raises(InvalidEventError, match="is a webhook type, on no Kafka topic"):
        from_kafka_record(record.value, headers)


def test_an_alert_is_about_its_provider_and_no_other_subject(alert: AlertV1) -> None:
    assert new_event(alert, source=SOURCE).subject == alert.provider.provider_id
    with pytest.raises(ValueError, match="subject must be the provider id"):
        new_event(alert, source=SOURCE, subject="zp-999999")


def test_a_verification_says_what_is_asked_in_both_languages(
    webhook_by_type: dict[str, CloudEvent[WebhookData]],
) -> None:
    check = webhook_by_type[VERIFICATION_EVENT_TYPE].data
    assert isinstance(check, VerificationV1)

    fresh = VerificationV1(
        subscription_id=check.subscription_id,
        subscriber_kind=check.subscriber_kind,
        subscriber_id=check.subscriber_id,
        requested_at=check.requested_at,
    )

    assert fresh == check  # the golden example holds today's wording
    assert "wrong signature" in fresh.purpose_en
    assert "4xx" in fresh.purpose_en
    assert "handtekening" in fresh.purpose_nl
