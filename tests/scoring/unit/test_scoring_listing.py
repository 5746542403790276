"""A risk change lists every indicator but only the largest signals, so it always fits a record."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from scoring.unit.builders import AT, PROVIDER, assessed, facts, model, reading
from zicht_schemas import (
    MAX_SIGNAL_CONTRIBUTIONS,
    ContributionKind,
    IndicatorCode,
    Outcome,
    ProviderRiskChangedV1,
    RiskChangeReason,
    Severity,
    new_event,
    source_urn,
)
from zicht_scoring.domain import AssessedSignal, evaluate, listed

pytestmark = pytest.mark.unit


def _history(n: int) -> list[AssessedSignal]:
    """``n`` signals spread over two years, so decay makes their points differ."""
    return [
        assessed(
            i,
            Outcome.INVESTIGATE if i % 3 else Outcome.CRIMINAL_REFERRAL,
            severity=Severity.HIGH if i % 2 else Severity.MEDIUM,
            occurred_at=AT - timedelta(hours=i * 700 // max(1, n // 25)),
        )
        for i in range(1, n + 1)
    ]


def test_every_indicator_and_the_largest_signals_are_listed_and_the_rest_counted() -> None:
    evaluation = evaluate(
        facts([reading(IndicatorCode.PERSONNEL_COST_RATIO, 0.6)], _history(200)), model(), AT
    )
    every = evaluation.contributions
    signals = [c for c in every if c.kind is ContributionKind.SIGNAL]
    assert len(signals) > MAX_SIGNAL_CONTRIBUTIONS

    shown, left_out = listed(every)

    assert left_out == len(signals) - MAX_SIGNAL_CONTRIBUTIONS
    assert [c for c in shown if c.kind is ContributionKind.SIGNAL] == signals[
        :MAX_SIGNAL_CONTRIBUTIONS
    ], "the largest signals, in the evaluation's order"
    assert [c for c in shown if c.kind is not ContributionKind.SIGNAL] == [
        c for c in every if c.kind is not ContributionKind.SIGNAL
    ], "indicators, investigations and holds are always listed"
    smallest_shown = min(abs(c.points) for c in shown if c.kind is ContributionKind.SIGNAL)
    assert all(abs(c.points) <= smallest_shown for c in signals[MAX_SIGNAL_CONTRIBUTIONS:])


def test_a_short_history_is_listed_whole() -> None:
    evaluation = evaluate(facts(signals=_history(12)), model(), AT)
    assert listed(evaluation.contributions) == (evaluation.contributions, 0)


def test_a_risk_change_after_ten_thousand_signals_stays_far_below_the_record_limit() -> None:
    evaluation = evaluate(
        facts([reading(IndicatorCode.PERSONNEL_COST_RATIO, 0.6)], _history(10_000)), model(), AT
    )
    shown, left_out = listed(evaluation.contributions)
    data = ProviderRiskChangedV1(
        evaluation_id=uuid.uuid4(), provider_id=PROVIDER, score=evaluation.score,
        level=evaluation.level, model_version=evaluation.model_version, contributions=shown,
        signals_left_out=left_out, evaluated_at=AT, reason=RiskChangeReason.EVENT,
    )  # fmt: skip
    record = new_event(data, source=source_urn("00000001000000000000", "scoring"))
    size = len(record.model_dump_json().encode())
    # Kafka's default record limit is 1 MiB; listing every contribution took 1.6 MB here.
    assert size < 32 * 1024, size
    assert left_out > 9_000
