"""Property: for any facts and moment, the evaluation makes a valid ProviderRiskChanged event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.unit.builders import PROVIDER, assessed, closed, model, reading
from zicht_schemas import (
    Category,
    IndicatorCode,
    IndicatorValueKind,
    InvestigationDecision,
    Outcome,
    ProviderRiskChangedV1,
    RiskChangeReason,
    RiskLevel,
    Severity,
)
from zicht_scoring.domain import (
    IndicatorReading,
    PreviousRisk,
    ProviderFacts,
    evaluate,
    is_change,
    newest_readings,
)

pytestmark = pytest.mark.unit

moments = st.datetimes(
    min_value=datetime(2021, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2032, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
offsets = st.integers(min_value=-4 * 366 * 86400, max_value=40 * 86400).map(
    lambda seconds: timedelta(seconds=seconds)
)


def _value(code: IndicatorCode) -> st.SearchStrategy[bool | float]:
    kind = code.value_kind
    if kind is IndicatorValueKind.FLAG:
        return st.booleans()
    if kind is IndicatorValueKind.COUNT:
        return st.integers(min_value=0, max_value=12)
    return st.floats(min_value=-3, max_value=3, allow_nan=False)


@st.composite
def provider_facts(draw: st.DrawFn, at: datetime) -> ProviderFacts:
    codes = draw(st.lists(st.sampled_from(list(IndicatorCode)), max_size=20))
    readings: list[IndicatorReading] = [
        reading(
            code,
            draw(_value(code)),
            year=draw(st.integers(2020, 2030)),
            report=draw(st.integers(1, 5)),
        )
        for code in codes
    ]
    signal_numbers = draw(st.lists(st.integers(1, 40), max_size=30))
    signals = [
        assessed(
            n,
            draw(st.sampled_from(list(Outcome))),
            category=draw(st.sampled_from(list(Category))),
            severity=draw(st.sampled_from(list(Severity))),
            occurred_at=at + draw(offsets),
            assessment=draw(st.integers(1, 10**6)),
        )
        for n in signal_numbers
    ]
    investigations = [
        closed(
            number,
            draw(st.sampled_from(list(InvestigationDecision))),
            closed_at=at + draw(offsets),
            signals=draw(st.sets(st.integers(1, 45), max_size=10)),
        )
        for number in draw(st.sets(st.integers(1, 8), max_size=6))
    ]
    return ProviderFacts(
        provider_id=PROVIDER,
        readings=newest_readings(readings),
        signals=tuple(signals),
        investigations=tuple(investigations),
    )


previous_risks = st.none() | st.builds(
    PreviousRisk,
    score=st.integers(0, 1000).map(lambda tenths: tenths / 10),
    level=st.sampled_from(list(RiskLevel)),
)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), at=moments, previous=previous_risks)
def test_any_evaluation_builds_a_valid_risk_changed_event(
    data: st.DataObject, at: datetime, previous: PreviousRisk | None
) -> None:
    facts = data.draw(provider_facts(at))

    evaluation = evaluate(facts, model(), at, previous)
    event = ProviderRiskChangedV1(
        evaluation_id=UUID(int=1),
        provider_id=facts.provider_id,
        score=evaluation.score,
        previous_score=previous.score if previous else None,
        level=evaluation.level,
        previous_level=previous.level if previous else None,
        model_version=evaluation.model_version,
        contributions=evaluation.contributions,
        unknown_indicators=evaluation.unknown_indicators,
        evaluated_at=at,
        reason=RiskChangeReason.EVENT,
    )

    assert 0.0 <= event.score <= 100.0
    assert event.score == evaluation.score
    assert ProviderRiskChangedV1.model_validate_json(event.model_dump_json()) == event
    weights = [abs(c.points) for c in event.contributions]
    assert weights == sorted(weights, reverse=True)
    assert all(c.points != 0 for c in event.contributions if c.kind.value != "hold")
    if evaluation.held:
        assert evaluation.level is RiskLevel.RED
    if previous is None:
        assert evaluation.level is evaluation.raw_level
        assert is_change(previous, evaluation)
    assert evaluate(facts, model(), at, previous) == evaluation
