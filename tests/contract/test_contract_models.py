"""The event and webhook models: documented, frozen, versioned, strict where privacy asks."""

import json
import re
import typing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from pydantic import BaseModel, ValidationError

from zicht_schemas import (
    ALL_TOPICS,
    COMPACTED_TOPICS,
    EVENT_MODELS,
    PROVIDER_REGISTERED,
    SHORTCOMING_KIND,
    WEBHOOK_MODELS,
    AlertDeliveredV1,
    DeadLetteredV1,
    IndicatorCode,
    IndicatorSource,
    IndicatorsReportedV1,
    IndicatorValue,
    InvestigationChange,
    InvestigationChangedV1,
    InvestigationDecision,
    Outcome,
    Priority,
    RiskLevel,
    Shortcoming,
    ShortcomingFinding,
    ShortcomingKind,
    SignalAssessedV1,
    SignalReceivedV1,
    Strategy,
    dead_letter_topic,
    looks_like_bsn,
    source_urn,
)

pytestmark = pytest.mark.unit

# Synthetic numbers that pass the BSN eleven-test; no real person's.
BSN_LIKE = "111222333"
PSEUDONYM = "0" * 63 + "1"


def _nested_models(annotation: object) -> list[type[BaseModel]]:
    """Every pydantic model inside a field annotation (unions, tuples, dicts, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        args = args[:1]
    return [model for arg in args for model in _nested_models(arg)]


def _all_models() -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    pending: list[type[BaseModel]] = [*EVENT_MODELS.values(), *WEBHOOK_MODELS.values()]
    while pending:
        model = pending.pop()
        if model in found:
            continue
        found.add(model)
        for field in model.model_fields.values():
            pending += _nested_models(field.annotation)
    return found


ALL_MODELS = sorted(_all_models(), key=lambda model: model.__name__)


def _received(golden: SignalReceivedV1, **changes: Any) -> SignalReceivedV1:
    """A copy of the golden signal with ``changes``, validated again."""
    return SignalReceivedV1.model_validate({**golden.model_dump(), **changes})


@pytest.fixture
def received(golden_by_type: dict[str, Any]) -> SignalReceivedV1:
    data = golden_by_type[SignalReceivedV1.EVENT_TYPE].data
    assert isinstance(data, SignalReceivedV1)
    return data


@pytest.fixture
def assessed(golden_by_type: dict[str, Any]) -> SignalAssessedV1:
    data = golden_by_type[SignalAssessedV1.EVENT_TYPE].data
    assert isinstance(data, SignalAssessedV1)
    return data


@pytest.fixture
def investigation(golden_by_type: dict[str, Any]) -> InvestigationChangedV1:
    data = golden_by_type[InvestigationChangedV1.EVENT_TYPE].data
    assert isinstance(data, InvestigationChangedV1)
    return data


def test_the_walk_finds_nested_models_too() -> None:
    names = {model.__name__ for model in ALL_MODELS}
    assert {"SignalProvider", "ShortcomingFinding", "RuleFired", "OriginalHeader"} <= names
    assert {"AlertV1", "AlertReason", "AlertCounts", "VerificationV1"} <= names


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_every_field_of_every_model_has_a_description(model: type[BaseModel]) -> None:
    undocumented = [
        name
        for name, field in model.model_fields.items()
        if not (field.description and field.description.strip())
    ]
    assert undocumented == []
    assert model.__doc__, "the model's docstring describes it in the JSON Schema"


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_every_model_is_frozen_and_ignores_unknown_fields(model: type[BaseModel]) -> None:
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "ignore"


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_every_event_names_a_versioned_type_and_topic(event_type: str) -> None:
    model = EVENT_MODELS[event_type]
    version = re.fullmatch(r"nl\.zorgtoezicht\.[a-z-]+\.[a-z-]+\.(v[0-9]+)", event_type)
    assert version, "reverse-DNS, domain-named, one version suffix"
    assert model.__name__.endswith(version.group(1).upper())
    if model is DeadLetteredV1:
        assert re.fullmatch(model.TOPIC, dead_letter_topic("intake.signal-received.v1"))
    else:
        assert model.TOPIC in ALL_TOPICS
        assert model.TOPIC.endswith(f".{version.group(1)}")


@pytest.mark.parametrize("event_type", sorted(WEBHOOK_MODELS))
def test_every_webhook_payload_names_a_versioned_type_and_no_topic(
    event_type: str, schema_dir: Path
) -> None:
    model = WEBHOOK_MODELS[event_type]
    version = re.fullmatch(r"nl\.zorgtoezicht(\.[a-z-]+){1,2}\.(v[0-9]+)", event_type)
    schema = json.loads((schema_dir / f"{event_type}.json").read_text("utf-8"))

    assert version, "reverse-DNS, domain-named, one version suffix"
    assert model.__name__.endswith(version.group(2).upper())
    assert event_type not in EVENT_MODELS
    assert not hasattr(model, "TOPIC")
    assert "x-zicht-topic" not in schema


def test_only_the_provider_registry_is_compacted() -> None:
    assert set(COMPACTED_TOPICS) == {PROVIDER_REGISTERED}


def test_models_cannot_be_changed_after_creation(received: SignalReceivedV1) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        received.clients_involved = 5  # type: ignore[misc]  # proving the assignment fails


def test_unknown_fields_are_ignored_so_older_consumers_read_newer_events(
    received: SignalReceivedV1,
) -> None:
    newer = received.model_dump(mode="json") | {"added_in_a_later_minor": "anything"}

    assert SignalReceivedV1.model_validate(newer) == received


def test_a_naive_datetime_is_refused(received: SignalReceivedV1) -> None:
    with pytest.raises(ValidationError, match="timezone"):
        _received(received, occurred_at=datetime(2025, 3, 3, 22, 40))  # noqa: DTZ001 - the point
    document = received.model_dump(mode="json") | {"occurred_at": "2025-03-03T22:40:00"}
    with pytest.raises(ValidationError, match="naive date-time refused"):
        SignalReceivedV1.model_validate_json(json.dumps(document))


def test_a_unix_timestamp_is_refused_as_a_datetime(received: SignalReceivedV1) -> None:
    document = received.model_dump(mode="json") | {"occurred_at": 1741041600}
    with pytest.raises(ValidationError, match="not a number"):
        SignalReceivedV1.model_validate_json(json.dumps(document))


def test_an_aware_datetime_in_another_zone_is_stored_as_utc(received: SignalReceivedV1) -> None:
    amsterdam_winter = timezone(timedelta(hours=1))
    signal = _received(received, occurred_at=datetime(2025, 3, 3, 23, 40, tzinfo=amsterdam_winter))

    assert signal.occurred_at == datetime(2025, 3, 3, 22, 40, tzinfo=UTC)
    assert signal.occurred_at.utcoffset() == timedelta(0)
    assert '"occurred_at":"2025-03-03T22:40:00Z"' in signal.model_dump_json()


@pytest.mark.parametrize("bsn", [BSN_LIKE, "111.222.333", "11122233"])
def test_a_bsn_looking_pseudonym_is_refused_without_echoing_it(
    received: SignalReceivedV1, bsn: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _received(received, client_pseudonyms=[bsn], clients_involved=1)

    message = "; ".join(str(error["msg"]) for error in caught.value.errors())
    assert "looks like a BSN" in message
    assert bsn not in message


def test_a_pseudonym_must_be_a_keyed_hash_in_hex(received: SignalReceivedV1) -> None:
    with pytest.raises(ValidationError, match="pattern"):
        _received(received, client_pseudonyms=["J. de Vries"], clients_involved=1)
    assert _received(received, client_pseudonyms=[PSEUDONYM]).client_pseudonyms == (PSEUDONYM,)


def test_a_bsn_is_refused_as_a_provider_id_or_partner_reference(
    received: SignalReceivedV1,
) -> None:
    provider = received.provider.model_dump() | {"provider_id": BSN_LIKE}
    with pytest.raises(ValidationError, match="looks like a BSN"):
        _received(received, provider=provider)
    with pytest.raises(ValidationError, match="looks like a BSN"):
        _received(received, partner_reference=BSN_LIKE)


def test_looks_like_bsn_applies_the_eleven_test() -> None:
    assert looks_like_bsn("111222333")
    assert looks_like_bsn("123456782")
    assert looks_like_bsn(" 1234.56.782 ")
    assert not looks_like_bsn("123456789")  # fails the eleven-test
    assert not looks_like_bsn("000000000")
    assert not looks_like_bsn("12345678a")
    assert not looks_like_bsn("zp-000417")


def test_a_repeated_pseudonym_is_refused(received: SignalReceivedV1) -> None:
    with pytest.raises(ValidationError, match="client_pseudonyms must not repeat"):
        _received(received, client_pseudonyms=[PSEUDONYM, PSEUDONYM], clients_involved=2)


def test_fewer_clients_involved_than_pseudonyms_is_refused(received: SignalReceivedV1) -> None:
    with pytest.raises(ValidationError, match="clients_involved must be at least"):
        _received(received, clients_involved=1)


def test_a_kvk_number_has_eight_ascii_digits(received: SignalReceivedV1) -> None:
    for kvk in ("1234567", "123456789", "١٢٣٤٥٦٧٨"):  # the last: Arabic-Indic digits
        provider = received.provider.model_dump() | {"kvk": kvk}
        with pytest.raises(ValidationError, match="pattern"):
            _received(received, provider=provider)


def test_a_municipality_is_a_cbs_code(received: SignalReceivedV1) -> None:
    location = received.location.model_dump() | {"municipality_code": "Enschede"}
    with pytest.raises(ValidationError, match="pattern"):
        _received(received, location=location)


def test_every_shortcoming_has_the_kind_the_policy_gives_it() -> None:
    quick = {Shortcoming.INSURANCE, Shortcoming.CERTIFICATION}
    quick |= {Shortcoming.REGISTRATION, Shortcoming.REPORTING}
    assert {
        code for code, kind in SHORTCOMING_KIND.items() if kind is ShortcomingKind.QUICK
    } == quick
    assert set(SHORTCOMING_KIND) == set(Shortcoming)
    assert Shortcoming.HOUSING.kind is ShortcomingKind.COMPLEX


def test_a_shortcoming_with_the_wrong_kind_is_refused() -> None:
    with pytest.raises(ValidationError, match="shortcoming housing is complex"):
        ShortcomingFinding(code=Shortcoming.HOUSING, kind=ShortcomingKind.QUICK)


def test_the_fourteen_indicators_of_the_risk_model_are_codes() -> None:
    assert len(IndicatorCode) == 14


@pytest.mark.parametrize(
    ("code", "value", "accepted"),
    [
        (IndicatorCode.EQUITY_RATIO, -0.2, True),
        (IndicatorCode.EQUITY_RATIO, True, False),
        (IndicatorCode.REAL_ESTATE_RELATED_PARTY, True, True),
        (IndicatorCode.REAL_ESTATE_RELATED_PARTY, 1.0, False),
        (IndicatorCode.GOVERNANCE_CHANGES_3Y, 4, True),
        (IndicatorCode.GOVERNANCE_CHANGES_3Y, 2.5, False),
        (IndicatorCode.CERTIFICATION_AND_INSURANCE_MISSING, -1, False),
    ],
)
def test_an_indicator_value_must_fit_its_kind(
    code: IndicatorCode, value: float, accepted: bool
) -> None:
    if accepted:
        assert IndicatorValue(code=code, value=value).value == value
    else:
        with pytest.raises(ValidationError, match=f"indicator {code.value} takes"):
            IndicatorValue(code=code, value=value)


def test_an_indicator_reported_twice_in_one_report_is_refused() -> None:
    value = IndicatorValue(code=IndicatorCode.EQUITY_RATIO, value=0.3)
    with pytest.raises(ValidationError, match="indicators must not repeat"):
        IndicatorsReportedV1(
            report_id=uuid4(),
            provider_id="zp-000417",
            source=IndicatorSource.ANNUAL_ACCOUNTS,
            period_year=2024,
            reported_at=datetime.now(UTC),
            indicators=(value, value),
        )


def test_strategy_is_set_exactly_when_the_outcome_is_investigate(
    assessed: SignalAssessedV1,
) -> None:
    document = assessed.model_dump()
    with pytest.raises(ValidationError, match="strategy is set exactly"):
        SignalAssessedV1.model_validate(document | {"strategy": Strategy.QUICKSCAN})
    with pytest.raises(ValidationError, match="strategy is set exactly"):
        SignalAssessedV1.model_validate(
            document | {"outcome": Outcome.INVESTIGATE, "investigation": None}
        )
    investigate = SignalAssessedV1.model_validate(
        document
        | {
            "outcome": Outcome.INVESTIGATE,
            "strategy": Strategy.FULL_INVESTIGATION,
            "investigation": {"investigation_id": uuid4(), "relation": "opened"},
        }
    )
    assert investigate.priority is Priority.P1


def test_a_bundle_outcome_needs_the_investigation_it_was_bundled_with(
    assessed: SignalAssessedV1,
) -> None:
    with pytest.raises(ValidationError, match="bundle outcome"):
        SignalAssessedV1.model_validate(assessed.model_dump() | {"outcome": Outcome.BUNDLE})


def test_a_closed_investigation_needs_a_decision_and_a_closing_time(
    investigation: InvestigationChangedV1,
) -> None:
    document = investigation.model_dump()
    with pytest.raises(ValidationError, match="set exactly when the change is closed"):
        InvestigationChangedV1.model_validate(document | {"decision": None})
    with pytest.raises(ValidationError, match="set exactly when the change is closed"):
        InvestigationChangedV1.model_validate(
            document | {"change": InvestigationChange.SIGNAL_BUNDLED}
        )
    opened = InvestigationChangedV1.model_validate(
        document | {"change": InvestigationChange.OPENED, "decision": None, "closed_at": None}
    )
    assert opened.decision is None
    assert investigation.decision is InvestigationDecision.IMPROVEMENT_PLAN


def test_a_delivered_alert_has_a_success_status(golden_by_type: dict[str, Any]) -> None:
    delivered = golden_by_type[AlertDeliveredV1.EVENT_TYPE].data
    with pytest.raises(ValidationError, match="less than or equal to 299"):
        AlertDeliveredV1.model_validate(delivered.model_dump() | {"last_status_code": 500})


def test_risk_levels_order_green_orange_red() -> None:
    assert RiskLevel.RED.is_higher_than(RiskLevel.ORANGE)
    assert RiskLevel.GREEN.is_lower_than(RiskLevel.ORANGE)
    assert not RiskLevel.ORANGE.is_higher_than(RiskLevel.ORANGE)
    assert RiskLevel.highest([RiskLevel.ORANGE, RiskLevel.RED, RiskLevel.GREEN]) is RiskLevel.RED
    assert RiskLevel.highest([]) is RiskLevel.GREEN
    # The strings sort the wrong way ("green" < "orange" < "red" holds, but only by luck of
    # the alphabet); ranks are the contract.
    assert [level.rank for level in RiskLevel] == [0, 1, 2]


def test_priorities_rank_p1_first() -> None:
    assert sorted([Priority.P3, Priority.P1, Priority.P4], key=lambda p: p.rank)[0] is Priority.P1


def test_source_urn_follows_the_nl_gov_profile() -> None:
    assert (
        source_urn("00000001234567890000", "intake")
        == "urn:nld:oin:00000001234567890000:zicht:intake"
    )
    with pytest.raises(ValueError, match="20 digits"):
        source_urn("1234", "intake")
    with pytest.raises(ValueError, match="service must be lower-case"):
        source_urn("00000001234567890000", "Intake Service")


def test_dead_letter_topic_appends_dlq_and_never_nests() -> None:
    assert dead_letter_topic("triage.signal-assessed.v1") == "triage.signal-assessed.v1.dlq"
    with pytest.raises(ValueError, match="already a dead-letter topic"):
        dead_letter_topic("triage.signal-assessed.v1.dlq")
    with pytest.raises(ValueError, match="not a legal Kafka topic"):
        dead_letter_topic("triage signal")


def test_the_json_schema_keeps_every_constraint_a_validator_sits_beside(
    schema_dir: Path,
) -> None:
    # A BeforeValidator listed before a constraint hides it from pydantic's JSON Schema;
    # the committed schema must still say what the model enforces.
    schema = json.loads((schema_dir / f"{SignalReceivedV1.EVENT_TYPE}.json").read_text("utf-8"))
    provider = schema["$defs"]["SignalProvider"]["properties"]

    assert provider["provider_id"]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
    assert schema["properties"]["client_pseudonyms"]["items"]["pattern"] == "^[0-9a-f]{64}$"
    assert schema["properties"]["partner_reference"]["pattern"].startswith("^[A-Za-z0-9]")
    assert schema["properties"]["occurred_at"]["format"] == "date-time"
