"""Golden examples, kept forever: each still parses, round-trips, and the official SDK agrees.

Webhook payloads (the alert, the verification) are checked as the Kafka events are, except for
the Kafka binding: they travel on no topic, so only the Kafka events' examples go through it.
"""

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cloudevents.core.bindings import http as sdk_http
from cloudevents.core.bindings import kafka as sdk_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent
from cloudevents.v1 import http as legacy_http
from cloudevents.v1 import kafka as legacy_kafka
from cloudevents.v1 import pydantic as legacy_pydantic

from contract.examples import read_golden
from zicht_schemas import (
    EVENT_MODELS,
    STRUCTURED_CONTENT_TYPE,
    WEBHOOK_MODELS,
    CloudEvent,
    EventData,
    from_kafka_record,
    from_structured,
    looks_like_bsn,
    to_kafka_record,
    to_structured,
)

pytestmark = pytest.mark.unit

_STRING_ATTRIBUTES = (
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "datacontenttype",
    "dataschema",
    "correlationid",
    "causationid",
)


def _assert_subset(expected: object, actual: object, where: str = "data") -> None:
    """Everything the golden example says is still there, with the same value."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} was lost"
            _assert_subset(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), where
        assert len(expected) == len(actual), where
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            _assert_subset(left, right, f"{where}[{index}]")
    else:
        assert expected == actual, where


def _assert_same_as_sdk(
    event: CloudEvent[Any], attributes: Mapping[str, Any], data: object
) -> None:
    for name in _STRING_ATTRIBUTES:
        assert attributes.get(name) == getattr(event, name), name
    time = attributes["time"]
    assert (datetime.fromisoformat(time) if isinstance(time, str) else time) == event.time
    assert data == event.data.model_dump(mode="json")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def test_every_event_and_webhook_type_has_exactly_one_golden_example(
    all_golden_paths: list[Path],
) -> None:
    assert {path.name.removesuffix(".json") for path in all_golden_paths} == set(
        EVENT_MODELS
    ) | set(WEBHOOK_MODELS)


def test_golden_example_still_parses_with_the_current_model(
    golden_path: Path, golden_document: dict[str, Any], golden_event: CloudEvent[Any]
) -> None:
    models = {**EVENT_MODELS, **WEBHOOK_MODELS}

    assert golden_event.type == golden_path.name.removesuffix(".json")
    assert isinstance(golden_event.data, models[golden_event.type])
    # Nothing the old example said is dropped or changed by today's model.
    _assert_subset(golden_document["data"], json.loads(to_structured(golden_event))["data"])


def test_golden_data_validates_against_the_committed_json_schema(
    golden_document: dict[str, Any], schema_dir: Path
) -> None:
    schema_path = schema_dir / f"{golden_document['type']}.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [error.message for error in validator.iter_errors(golden_document["data"])]
    assert errors == []
    assert golden_document["dataschema"] == schema["$id"]


def test_golden_example_round_trips_through_a_structured_body_unchanged(
    golden_event: CloudEvent[Any],
) -> None:
    assert read_golden(to_structured(golden_event)) == golden_event


def test_golden_example_round_trips_through_a_kafka_record_unchanged(
    kafka_event: CloudEvent[EventData],
) -> None:
    record = to_kafka_record(kafka_event)

    assert from_kafka_record(record.value, record.headers) == kafka_event
    assert record.topic == kafka_event.data.kafka_topic()
    assert from_structured(to_structured(kafka_event)) == kafka_event


def test_official_sdk_reads_our_kafka_record_with_equal_attributes_and_data(
    kafka_event: CloudEvent[EventData],
) -> None:
    record = to_kafka_record(kafka_event)

    current = sdk_kafka.from_binary_event(
        sdk_kafka.KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    )
    _assert_same_as_sdk(kafka_event, current.get_attributes(), current.get_data())
    assert current.get_extension("partitionkey") == (
        record.key.decode() if record.key is not None else None
    )

    legacy = legacy_kafka.from_binary(
        legacy_kafka.KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    )
    _assert_same_as_sdk(kafka_event, legacy.get_attributes(), legacy.get_data())


def test_official_sdk_reads_our_structured_body_with_equal_attributes_and_data(
    golden_event: CloudEvent[Any],
) -> None:
    body = to_structured(golden_event)
    headers = {"content-type": STRUCTURED_CONTENT_TYPE}

    current = sdk_http.from_structured_event(sdk_http.HTTPMessage(headers=headers, body=body))
    _assert_same_as_sdk(golden_event, current.get_attributes(), current.get_data())

    legacy = legacy_http.from_http(headers, body)
    _assert_same_as_sdk(golden_event, legacy.get_attributes(), legacy.get_data())

    typed = legacy_pydantic.from_http(headers, body)
    _assert_same_as_sdk(golden_event, typed.get_attributes(), typed.get_data())


def _sdk_event(event: CloudEvent[Any]) -> SdkCloudEvent:
    attributes = event.model_dump(exclude_none=True, exclude={"data"})
    return SdkCloudEvent(attributes, event.data.model_dump(mode="json"))


def test_a_kafka_record_written_by_the_official_sdk_reads_as_the_same_event(
    kafka_event: CloudEvent[EventData],
) -> None:
    message = sdk_kafka.to_binary(_sdk_event(kafka_event), JSONFormat())

    assert from_kafka_record(message.value, message.headers) == kafka_event


def test_a_structured_body_written_by_the_official_sdk_reads_as_the_same_event(
    golden_event: CloudEvent[Any],
) -> None:
    structured = JSONFormat().write(_sdk_event(golden_event))

    assert read_golden(structured) == golden_event


def test_golden_examples_carry_no_bsn_anywhere(golden_document: dict[str, Any]) -> None:
    assert [s for s in _strings(golden_document) if looks_like_bsn(s)] == []
