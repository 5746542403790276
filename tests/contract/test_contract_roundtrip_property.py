"""Property: any valid instance of any event model survives Kafka and HTTP unchanged.

Webhook payloads (the alert, the verification) travel on no topic: they are checked through
the webhook body alone, read back with ``from_webhook``.

Instances are drawn from each model's own JSON Schema, so a new model or field is covered
without touching this file; the few cross-field rules are applied by small fix-ups.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from zicht_schemas import (
    EVENT_MODELS,
    WEBHOOK_MODELS,
    EncodedBytes,
    EventData,
    IndicatorCode,
    IndicatorValueKind,
    Shortcoming,
    WebhookData,
    from_kafka_record,
    from_structured,
    from_webhook,
    new_event,
    source_urn,
    to_kafka_record,
    to_structured,
)
from zicht_schemas.jsonschema import event_json_schema

pytestmark = pytest.mark.unit

Json = Any
_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))])
_MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive by design
    max_value=datetime(2099, 12, 31),  # noqa: DTZ001
    timezones=_ZONES,
)


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _indicator_value(code: IndicatorCode) -> st.SearchStrategy[Json]:
    values: dict[IndicatorValueKind, st.SearchStrategy[Json]] = {
        IndicatorValueKind.FLAG: st.booleans(),
        IndicatorValueKind.COUNT: st.integers(min_value=0, max_value=20),
        IndicatorValueKind.RATIO: st.floats(-5, 5, allow_nan=False),
    }
    return values[code.value_kind].map(lambda value: {"code": code.value, "value": value})


# Definitions whose fields depend on each other, drawn whole.
_OVERRIDES: dict[str, st.SearchStrategy[Json]] = {
    "ShortcomingFinding": st.sampled_from(list(Shortcoming)).map(
        lambda code: {"code": code.value, "kind": code.kind.value}
    ),
    "IndicatorValue": st.sampled_from(list(IndicatorCode)).flatmap(_indicator_value),
    "EncodedBytes": st.binary(max_size=40).map(
        lambda raw: EncodedBytes.of(raw).model_dump(mode="json")
    ),
    "OriginalHeader": st.tuples(st.text(min_size=1, max_size=20), st.binary(max_size=20)).map(
        lambda pair: {"name": pair[0], **EncodedBytes.of(pair[1]).model_dump(mode="json")}
    ),
}


def _identity(item: Json) -> str:
    if isinstance(item, dict):
        item = item.get("code", item.get("location_id", item))
    return json.dumps(item, sort_keys=True)


class _FromSchema:
    """A hypothesis strategy for the JSON documents one schema describes (pydantic's subset)."""

    def __init__(self, root: dict[str, Any]) -> None:
        self._root = root

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            name = node["$ref"].removeprefix("#/$defs/")
            node = {**self._root["$defs"][name], "title": name}
        return node

    def strategy(self, node: dict[str, Any]) -> st.SearchStrategy[Json]:  # noqa: PLR0911 - one return per JSON type
        node = self._resolve(node)
        if node.get("title") in _OVERRIDES:
            return _OVERRIDES[node["title"]]
        if "anyOf" in node:
            return st.one_of([self.strategy(branch) for branch in node["anyOf"]])
        if "enum" in node:
            return st.sampled_from(node["enum"])
        kind = node.get("type")
        if kind == "null":
            return st.none()
        if kind == "boolean":
            return st.booleans()
        if kind in {"integer", "number"}:
            return self._number(node)
        if kind == "string":
            return self._string(node)
        if kind == "array":
            return st.lists(
                self.strategy(node.get("items", {})),
                min_size=node.get("minItems", 0),
                max_size=3,
                unique_by=_identity,
            )
        return self._object(node)

    @staticmethod
    def _number(node: dict[str, Any]) -> st.SearchStrategy[Json]:
        low, high = node.get("minimum", -1_000_000), node.get("maximum", 1_000_000)
        if node["type"] == "integer":
            return st.integers(min_value=low, max_value=high)
        return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)

    @staticmethod
    def _string(node: dict[str, Any]) -> st.SearchStrategy[Json]:
        formats: dict[str, st.SearchStrategy[Json]] = {
            "uuid": st.uuids().map(str),
            "date-time": _MOMENTS.map(_rfc3339),
            "date": st.dates().map(lambda day: day.isoformat()),
        }
        if node.get("format") in formats:
            return formats[node["format"]]
        max_length = node.get("maxLength", 80)
        if "pattern" in node:
            text = st.from_regex(node["pattern"], fullmatch=True)
            return text.filter(lambda value: len(value) <= max_length)
        return st.text(max_size=max_length)

    def _object(self, node: dict[str, Any]) -> st.SearchStrategy[Json]:
        properties: dict[str, Any] = node.get("properties", {})
        required = set(node.get("required", ()))
        if "patternProperties" in node:
            ((pattern, values),) = node["patternProperties"].items()
            return st.dictionaries(
                st.from_regex(pattern, fullmatch=True), self.strategy(values), max_size=3
            )
        return st.fixed_dictionaries(
            {name: self.strategy(s) for name, s in properties.items() if name in required},
            optional={
                name: self.strategy(s) for name, s in properties.items() if name not in required
            },
        )


def _fix_assessment(data: dict[str, Any]) -> None:
    investigate = data["outcome"] == "investigate"
    data["strategy"] = (data.get("strategy") or "quickscan") if investigate else None
    link = data.get("investigation")
    if data["outcome"] == "bundle":
        data["investigation"] = {**(link or {"investigation_id": _NIL}), "relation": "bundled"}
    elif link and (
        link["relation"] == "bundled" or (link["relation"] == "opened" and not investigate)
    ):
        link["relation"] = "linked"


def _fix_investigation(data: dict[str, Any]) -> None:
    if data["change"] == "closed":
        data["decision"] = data.get("decision") or "no_findings"
        data["closed_at"] = data["opened_at"]
    else:
        data["decision"] = data["closed_at"] = None


def _fix_risk(data: dict[str, Any]) -> None:
    if (data.get("previous_score") is None) != (data.get("previous_level") is None):
        data["previous_score"] = data["previous_level"] = None


def _fix_signal(data: dict[str, Any]) -> None:
    data["clients_involved"] = max(
        data.get("clients_involved", 0), len(data.get("client_pseudonyms", ()))
    )


def _no_fixup(data: dict[str, Any]) -> None:
    """Most models have no fields that depend on each other."""


_NIL = "00000000-0000-4000-8000-000000000000"
_FIXUPS: dict[str, Callable[[dict[str, Any]], None]] = {
    "nl.zorgtoezicht.signal.assessed.v1": _fix_assessment,
    "nl.zorgtoezicht.investigation.changed.v1": _fix_investigation,
    "nl.zorgtoezicht.provider.risk-changed.v1": _fix_risk,
    "nl.zorgtoezicht.signal.received.v1": _fix_signal,
}


def _instances(event_type: str) -> st.SearchStrategy[EventData | WebhookData]:
    model = EVENT_MODELS.get(event_type) or WEBHOOK_MODELS[event_type]
    schema = event_json_schema(model)
    fixup = _FIXUPS.get(event_type, _no_fixup)

    def build(document: dict[str, Any]) -> EventData | WebhookData:
        fixup(document)
        try:
            return model.model_validate_json(json.dumps(document))
        except ValidationError:
            reject()  # a rare draw the schema allows and a validator refuses

    return _FromSchema(schema).strategy(schema).map(build)


_EVENTS = st.tuples(
    st.uuids().map(str), _MOMENTS, st.none() | st.uuids().map(str), st.none() | st.uuids().map(str)
)


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_valid_event_round_trips_through_kafka_binary_mode_unchanged(
    event_type: str, data: st.DataObject
) -> None:
    instance = data.draw(_instances(event_type), label="data")
    event_id, moment, correlation, causation = data.draw(_EVENTS, label="envelope")
    event = new_event(
        instance,
        source=source_urn("00000001234567890000", "intake"),
        event_id=event_id,
        time=moment,
        correlation_id=correlation,
        causation_id=causation,
    )

    record = to_kafka_record(event)
    read = from_kafka_record(record.value, record.headers)

    assert read == event
    assert read.data == instance
    assert read.time == moment
    assert from_structured(to_structured(event)) == event


@pytest.mark.parametrize("event_type", sorted(WEBHOOK_MODELS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_valid_webhook_payload_round_trips_through_a_webhook_body_unchanged(
    event_type: str, data: st.DataObject
) -> None:
    instance = data.draw(_instances(event_type), label="data")
    event_id, moment, correlation, causation = data.draw(_EVENTS, label="envelope")
    event = new_event(
        instance,
        source=source_urn("00000001234567890000", "notify"),
        event_id=event_id,
        time=moment,
        correlation_id=correlation,
        causation_id=causation,
    )

    read = from_webhook(to_structured(event))

    assert read == event
    assert read.data == instance
    assert read.subject == instance.about_provider()
