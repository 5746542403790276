"""The CloudEvents envelope, its Kafka binary mode and HTTP structured mode, and bad input."""

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from zicht_schemas import (
    CONTENT_TYPE_HEADER,
    SIGNAL_RECEIVED,
    AlertDeliveredV1,
    CloudEvent,
    DeadLetteredV1,
    EventData,
    InvalidEventError,
    InvalidEventKind,
    KafkaRecord,
    ProviderRiskChangedV1,
    SignalReceivedV1,
    SignalRejectedV1,
    dataschema_uri,
    from_kafka_record,
    from_structured,
    new_event,
    source_urn,
    to_kafka_record,
    to_structured,
)

pytestmark = pytest.mark.unit

SOURCE = source_urn("00000001234567890000", "intake")
BSN_LIKE = "111222333"


@pytest.fixture
def signal(golden_by_type: dict[str, CloudEvent[EventData]]) -> SignalReceivedV1:
    data = golden_by_type[SignalReceivedV1.EVENT_TYPE].data
    assert isinstance(data, SignalReceivedV1)
    return data


@pytest.fixture
def record(signal: SignalReceivedV1) -> KafkaRecord:
    event = new_event(
        signal,
        source=SOURCE,
        event_id=UUID("5b0e7c2a-1f3d-4a6b-8c9e-2d4f6a8b0c1e"),
        correlation_id="5b0e7c2a-1f3d-4a6b-8c9e-2d4f6a8b0c1e",
        time=datetime(2025, 3, 4, 7, 12, 9, 402000, tzinfo=UTC),
    )
    return to_kafka_record(event)


def _headers(record: KafkaRecord, **changes: bytes | None) -> list[tuple[str, bytes]]:
    """The record's headers with some replaced (bytes) or removed (None)."""
    kept = [(name, value) for name, value in record.headers if name not in changes]
    return kept + [(name, value) for name, value in changes.items() if value is not None]


def _read_error(value: bytes, headers: Any, model: Any = None) -> InvalidEventError:
    with pytest.raises(InvalidEventError) as caught:
        from_kafka_record(value, headers, model)
    return caught.value


def test_new_event_takes_type_and_dataschema_from_the_model(signal: SignalReceivedV1) -> None:
    event = new_event(signal, source=SOURCE)

    assert event.type == "nl.zorgtoezicht.signal.received.v1"
    assert event.dataschema == (
        "https://zicht.example/schemas/nl.zorgtoezicht.signal.received.v1.json"
    )
    assert event.specversion == "1.0"
    assert event.datacontenttype == "application/json"
    assert str(UUID(event.id)) == event.id
    assert event.time.tzinfo is UTC


def test_the_schema_base_url_is_configurable(signal: SignalReceivedV1) -> None:
    event = new_event(signal, source=SOURCE, schema_base_url="https://schemas.regio.example/zicht")

    assert event.dataschema == dataschema_uri(
        SignalReceivedV1.EVENT_TYPE, "https://schemas.regio.example/zicht/"
    )
    assert event.dataschema.startswith("https://schemas.regio.example/zicht/nl.zorgtoezicht.")


def test_the_subject_is_the_provider_the_event_is_about(signal: SignalReceivedV1) -> None:
    assert new_event(signal, source=SOURCE).subject == "zp-000417"
    assert new_event(signal, source=SOURCE, subject="zp-000417").subject == "zp-000417"
    with pytest.raises(ValueError, match="subject must be the provider id"):
        new_event(signal, source=SOURCE, subject="zp-999999")


def test_a_bsn_is_never_accepted_as_subject(
    golden_by_type: dict[str, CloudEvent[EventData]],
) -> None:
    rejected = golden_by_type[SignalRejectedV1.EVENT_TYPE].data
    with pytest.raises(ValueError, match="looks like a BSN"):
        new_event(rejected, source=SOURCE, subject=BSN_LIKE)


def test_a_source_that_is_not_a_urn_is_refused(signal: SignalReceivedV1) -> None:
    with pytest.raises(ValueError, match="source"):
        new_event(signal, source="https://intake.zicht.example")


def test_kafka_headers_follow_the_cloudevents_kafka_binding(record: KafkaRecord) -> None:
    names = [name for name, _ in record.headers]

    assert names == [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_subject",
        "ce_time",
        "ce_dataschema",
        "ce_correlationid",
        CONTENT_TYPE_HEADER,
    ]
    assert record.header("content-type") == b"application/json"
    assert record.header("ce_datacontenttype") is None  # the binding maps it to content-type
    assert record.header("ce_causationid") is None  # absent, not empty, when unset
    assert record.header("ce_time") == b"2025-03-04T07:12:09.402000Z"
    assert record.topic == SIGNAL_RECEIVED
    assert record.key == b"zp-000417"


def test_the_kafka_value_is_the_data_as_compact_json(
    record: KafkaRecord, signal: SignalReceivedV1
) -> None:
    assert json.loads(record.value) == signal.model_dump(mode="json")
    assert b"\n" not in record.value
    assert b'": ' not in record.value


def test_each_event_is_keyed_as_its_contract_says(
    golden_by_type: dict[str, CloudEvent[EventData]],
) -> None:
    keys = {event_type: to_kafka_record(e).key for event_type, e in golden_by_type.items()}

    assert keys[SignalRejectedV1.EVENT_TYPE] == b"toegang-enschede"  # partner id
    assert keys[AlertDeliveredV1.EVENT_TYPE] == b"riec-on-zorgfraude"  # subscriber id
    assert keys[ProviderRiskChangedV1.EVENT_TYPE] == b"zp-000417"  # provider id
    assert keys[DeadLetteredV1.EVENT_TYPE] == b"zp-000417"  # the original key


def test_an_explicit_key_wins(record: KafkaRecord, signal: SignalReceivedV1) -> None:
    event = new_event(signal, source=SOURCE)
    assert to_kafka_record(event, key="other").key == b"other"
    assert to_kafka_record(event, key=b"\x00\x01").key == b"\x00\x01"


def test_traceparent_and_other_headers_travel_along_and_are_ignored_on_read(
    record: KafkaRecord,
) -> None:
    traced = record.with_headers(
        ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("x-binary", b"\xff\xfe"),
    )

    assert traced.header("traceparent") is not None
    assert from_kafka_record(traced.value, traced.headers) == from_kafka_record(
        record.value, record.headers
    )


def test_headers_may_come_as_a_mapping_of_text_in_any_case(record: KafkaRecord) -> None:
    as_text = {name.upper(): value.decode() for name, value in record.headers}

    assert from_kafka_record(record.value, as_text) == from_kafka_record(
        record.value, record.headers
    )


def test_a_charset_parameter_on_the_content_type_is_accepted(record: KafkaRecord) -> None:
    headers = _headers(record, **{"content-type": b"application/json; charset=utf-8"})

    assert from_kafka_record(record.value, headers).datacontenttype == "application/json"


def test_the_consumer_can_insist_on_its_model(record: KafkaRecord) -> None:
    event = from_kafka_record(record.value, record.headers, SignalReceivedV1)
    assert isinstance(event.data, SignalReceivedV1)

    error = _read_error(record.value, record.headers, SignalRejectedV1)
    assert error.kind is InvalidEventKind.UNEXPECTED_TYPE
    assert "expected 'nl.zorgtoezicht.signal.rejected.v1'" in str(error)


@pytest.mark.parametrize(
    ("changes", "kind", "reason"),
    [
        (
            {"ce_specversion": None},
            InvalidEventKind.MISSING_ATTRIBUTE,
            "missing header ce_specversion",
        ),
        (
            {"ce_specversion": b"0.3"},
            InvalidEventKind.UNSUPPORTED_SPECVERSION,
            "is '0.3'; only '1.0'",
        ),
        ({"ce_type": None}, InvalidEventKind.MISSING_ATTRIBUTE, "missing header ce_type"),
        (
            {"ce_type": b"nl.zorgtoezicht.signal.vanished.v1"},
            InvalidEventKind.UNKNOWN_TYPE,
            "'nl.zorgtoezicht.signal.vanished.v1' is not a Zicht event type",
        ),
        (
            {"ce_id": None, "ce_time": None},
            InvalidEventKind.MISSING_ATTRIBUTE,
            "missing header ce_id, header ce_time",
        ),
        ({"ce_source": None}, InvalidEventKind.MISSING_ATTRIBUTE, "missing header ce_source"),
        (
            {"ce_time": b"2025-03-04T07:12:09"},
            InvalidEventKind.INVALID_ATTRIBUTE,
            "header ce_time: Value error, naive date-time refused",
        ),
        ({"ce_id": b"42"}, InvalidEventKind.INVALID_ATTRIBUTE, "header ce_id: String should"),
        (
            {"ce_source": b"https://intake.example"},
            InvalidEventKind.INVALID_ATTRIBUTE,
            "header ce_source: String should match pattern",
        ),
        (
            {"ce_subject": b"\xff\xfe"},
            InvalidEventKind.INVALID_ATTRIBUTE,
            "ce_subject is not UTF-8",
        ),
        (
            {"content-type": b"application/xml"},
            InvalidEventKind.UNSUPPORTED_CONTENT_TYPE,
            "header content-type is 'application/xml'; only 'application/json'",
        ),
    ],
)
def test_a_bad_header_is_refused_with_a_precise_reason(
    record: KafkaRecord, changes: dict[str, bytes | None], kind: InvalidEventKind, reason: str
) -> None:
    error = _read_error(record.value, _headers(record, **changes))

    assert error.kind is kind
    assert reason in str(error)


def test_a_header_given_twice_with_different_values_is_refused(record: KafkaRecord) -> None:
    headers = [*record.headers, ("ce_type", b"nl.zorgtoezicht.signal.rejected.v1")]

    error = _read_error(record.value, headers)
    assert error.kind is InvalidEventKind.INVALID_ATTRIBUTE
    assert "ce_type appears twice" in str(error)


@pytest.mark.parametrize(
    ("value", "kind", "reason"),
    [
        (b"", InvalidEventKind.INVALID_JSON, "the payload is empty"),
        (b"{not json", InvalidEventKind.INVALID_JSON, "the payload is not valid JSON"),
        (b"\xff\xfe{}", InvalidEventKind.INVALID_JSON, "the payload is not valid JSON"),
        (b"[]", InvalidEventKind.INVALID_DATA, "data: Input should be an object"),
        (b"{}", InvalidEventKind.INVALID_DATA, "data.signal_id: Field required"),
    ],
)
def test_a_bad_payload_is_refused_with_a_precise_reason(
    record: KafkaRecord, value: bytes, kind: InvalidEventKind, reason: str
) -> None:
    error = _read_error(value, record.headers)

    assert error.kind is kind
    assert reason in str(error)
    assert error.event_type == SignalReceivedV1.EVENT_TYPE
    assert error.event_id == "5b0e7c2a-1f3d-4a6b-8c9e-2d4f6a8b0c1e"


def test_invalid_data_names_every_field_but_never_its_value(record: KafkaRecord) -> None:
    data = json.loads(record.value)
    data["client_pseudonyms"] = [BSN_LIKE]
    data["provider"]["kvk"] = "KVK-5550123"
    data["signal_id"] = "zzzzzzzz-1f3d-4a6b-8c9e-2d4f6a8b0c1e"

    error = _read_error(json.dumps(data).encode(), record.headers)

    message = str(error)
    assert error.kind is InvalidEventKind.INVALID_DATA
    assert "data.client_pseudonyms[0]: Value error, looks like a BSN" in message
    assert "data.provider.kvk: String should match pattern '^[0-9]{8}$'" in message
    assert "data.signal_id: Input should be a valid UUID" in message
    for value in (BSN_LIKE, "KVK-5550123", "zzzz"):
        assert value not in message


def test_invalid_event_error_is_a_value_error() -> None:
    assert issubclass(InvalidEventError, ValueError)


def test_structured_mode_is_one_json_object_with_the_data_inside(
    signal: SignalReceivedV1,
) -> None:
    event = new_event(signal, source=SOURCE, causation_id="5b0e7c2a-1f3d-4a6b-8c9e-2d4f6a8b0c1e")

    body = json.loads(to_structured(event))

    assert body["type"] == SignalReceivedV1.EVENT_TYPE
    assert body["causationid"] == "5b0e7c2a-1f3d-4a6b-8c9e-2d4f6a8b0c1e"
    assert "correlationid" not in body
    assert body["data"] == signal.model_dump(mode="json")
    assert from_structured(to_structured(event)) == event


@pytest.mark.parametrize(
    ("mutate", "kind", "reason"),
    [
        (lambda _: b"{oops", InvalidEventKind.INVALID_JSON, "not valid JSON at line 1"),
        (lambda _: b'"text"', InvalidEventKind.INVALID_JSON, "not a JSON object"),
        (
            lambda body: json.dumps({k: v for k, v in json.loads(body).items() if k != "data"}),
            InvalidEventKind.INVALID_DATA,
            "the event has no data",
        ),
        (
            lambda body: json.dumps(
                {k: v for k, v in json.loads(body).items() if k != "data"} | {"data_base64": "e30="}
            ),
            InvalidEventKind.UNSUPPORTED_CONTENT_TYPE,
            "data_base64 is not supported",
        ),
        (
            lambda body: json.dumps(json.loads(body) | {"time": 1741072329}),
            InvalidEventKind.INVALID_ATTRIBUTE,
            "attribute time: Value error, must be an RFC 3339 date-time text",
        ),
        (
            lambda body: json.dumps(json.loads(body) | {"specversion": 1.0}),
            InvalidEventKind.UNSUPPORTED_SPECVERSION,
            "attribute specversion is not text",
        ),
    ],
)
def test_a_bad_structured_body_is_refused_with_a_precise_reason(
    signal: SignalReceivedV1, mutate: Any, kind: InvalidEventKind, reason: str
) -> None:
    body = to_structured(new_event(signal, source=SOURCE))

    with pytest.raises(InvalidEventError) as caught:
        from_structured(mutate(body))

    assert caught.value.kind is kind
    assert reason in str(caught.value)


def test_a_dead_letter_keeps_key_value_and_headers_byte_for_byte(record: KafkaRecord) -> None:
    poison_value = b"\x00\xffnot json"
    error = _read_error(poison_value, record.headers)
    dead = DeadLetteredV1.for_record(
        topic=record.topic,
        partition=2,
        offset=991,
        key=record.key,
        value=poison_value,
        headers=record.headers,
        error=error,
        reason=str(error),
        consumer_group="zicht-triage",
        service="triage",
        timestamp_ms=1741072329318,
    )

    letter = to_kafka_record(new_event(dead, source=source_urn("00000001234567890000", "triage")))

    assert letter.topic == "intake.signal-received.v1.dlq"
    assert letter.key == record.key
    read = from_kafka_record(letter.value, letter.headers, DeadLetteredV1)
    assert read.data.error_type == "InvalidEventError"
    assert read.data.original_value is not None
    assert read.data.original_value.encoding == "base64"
    assert read.data.original_value.to_bytes() == poison_value
    assert tuple((h.name, h.to_bytes()) for h in read.data.original_headers) == record.headers
    assert read.data.original_timestamp == datetime(2025, 3, 4, 7, 12, 9, 318000, tzinfo=UTC)
    assert read.subject is None


def test_a_dead_letter_of_a_keyless_tombstone_has_no_key(record: KafkaRecord) -> None:
    dead = DeadLetteredV1.for_record(
        topic="intake.provider-registered.v1",
        partition=0,
        offset=7,
        key=None,
        value=None,
        headers=(),
        error=ValueError("a tombstone is no CloudEvent"),
        reason="a tombstone is no CloudEvent",
        consumer_group="zicht-scoring",
        service="scoring",
    )

    letter = to_kafka_record(new_event(dead, source=SOURCE))

    assert letter.key is None
    assert letter.topic == "intake.provider-registered.v1.dlq"


def test_a_dead_letter_topic_is_never_dead_lettered_again() -> None:
    with pytest.raises(ValueError, match="never dead-lettered again"):
        DeadLetteredV1.for_record(
            topic="intake.signal-received.v1.dlq",
            partition=0,
            offset=0,
            key=None,
            value=b"{}",
            headers=(),
            error=ValueError("x"),
            reason="x",
            consumer_group="ops",
            service="ops",
        )


def test_an_envelope_without_its_data_model_refuses_to_guess(record: KafkaRecord) -> None:
    body = to_structured(from_kafka_record(record.value, record.headers))

    with pytest.raises(ValueError, match=r"needs the data model"):
        CloudEvent.model_validate_json(body)
    typed = CloudEvent[SignalReceivedV1].model_validate_json(body)
    assert typed == from_structured(body)
