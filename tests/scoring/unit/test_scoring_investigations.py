"""Closed investigations: improvement plan, contract dissolved (a hold at red), no findings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scoring.unit.builders import AT, assessed, closed, facts, model, reading, uid
from zicht_schemas import (
    ContributionKind,
    IndicatorCode,
    InvestigationDecision,
    Outcome,
    RiskLevel,
    Severity,
)
from zicht_scoring.domain import PreviousRisk, evaluate

pytestmark = pytest.mark.unit

PLAN = InvestigationDecision.IMPROVEMENT_PLAN
DISSOLVED = InvestigationDecision.CONTRACT_DISSOLVED
NO_FINDINGS = InvestigationDecision.NO_FINDINGS


@pytest.mark.parametrize(("days_after", "points"), [(0, 10.0), (180, 5.0), (360, 2.5)])
def test_an_improvement_plan_adds_10_points_that_decay_like_signals(
    days_after: int, points: float
) -> None:
    evaluation = evaluate(
        facts(investigations=[closed(1, PLAN)]), model(), AT + timedelta(days_after)
    )

    assert evaluation.score == points
    (contribution,) = evaluation.contributions
    assert (contribution.kind, contribution.ref) == (ContributionKind.INVESTIGATION, str(uid(3001)))
    assert contribution.explanation_en == "improvement plan imposed after an investigation"


def test_an_improvement_plan_closed_after_the_moment_adds_nothing_yet() -> None:
    plan = closed(1, PLAN, closed_at=AT + timedelta(days=1))

    assert evaluate(facts(investigations=[plan]), model(), AT).score == 0.0


def test_a_dissolved_contract_holds_the_provider_at_red_for_24_months() -> None:
    provider = facts(
        [reading(IndicatorCode.PERSONNEL_COST_RATIO, 0.6)], investigations=[closed(1, DISSOLVED)]
    )

    during = evaluate(provider, model(), AT + timedelta(days=1))
    last_day = evaluate(provider, model(), AT.replace(year=AT.year + 2) - timedelta(seconds=1))

    for evaluation in (during, last_day):
        assert (evaluation.level, evaluation.raw_level, evaluation.held) == (
            RiskLevel.RED,
            RiskLevel.RED,
            True,
        )
        # The hold tops the score up to the red boundary, so score and level agree.
        assert evaluation.score == 60.0
        assert [(c.kind, c.points) for c in evaluation.contributions] == [
            (ContributionKind.HOLD, 50.0),
            (ContributionKind.INDICATOR, 10.0),
        ]
        assert evaluation.contributions[0].explanation_en.startswith("contract dissolved")


def test_a_dissolved_contract_releases_the_provider_after_24_months() -> None:
    provider = facts(
        [reading(IndicatorCode.PERSONNEL_COST_RATIO, 0.6)], investigations=[closed(1, DISSOLVED)]
    )

    released = evaluate(
        provider, model(), AT.replace(year=AT.year + 2), PreviousRisk(60.0, RiskLevel.RED)
    )

    assert (released.score, released.level, released.held) == (10.0, RiskLevel.GREEN, False)
    assert [c.kind for c in released.contributions] == [ContributionKind.INDICATOR]


def test_a_hold_on_a_provider_already_above_red_adds_no_points_but_still_shows() -> None:
    signals = [assessed(n, Outcome.CRIMINAL_REFERRAL, severity=Severity.HIGH) for n in (1, 2)]

    evaluation = evaluate(
        facts(signals=signals, investigations=[closed(1, DISSOLVED)]), model(), AT
    )

    assert (evaluation.score, evaluation.level) == (90.0, RiskLevel.RED)
    assert (evaluation.contributions[-1].kind, evaluation.contributions[-1].points) == (
        ContributionKind.HOLD,
        0.0,
    )


def test_a_hold_is_what_the_daily_re_evaluation_must_revisit() -> None:
    evaluation = evaluate(facts(investigations=[closed(1, DISSOLVED)]), model(), AT)

    assert evaluation.changes_with_time


def test_no_findings_takes_away_the_points_of_the_signals_it_held() -> None:
    held = [assessed(1, Outcome.INVESTIGATE), assessed(2, Outcome.BUNDLE)]
    other = assessed(3, Outcome.FOR_INFORMATION)
    investigation = closed(1, NO_FINDINGS, closed_at=AT - timedelta(days=1), signals=[1, 2])

    evaluation = evaluate(
        facts(signals=[*held, other], investigations=[investigation]), model(), AT
    )

    assert evaluation.score == 2.0
    assert [(c.kind, c.ref, c.points) for c in evaluation.contributions] == [
        (ContributionKind.INVESTIGATION, str(uid(3001)), -20.0),
        (ContributionKind.SIGNAL, str(uid(1001)), 15.0),
        (ContributionKind.SIGNAL, str(uid(1002)), 5.0),
        (ContributionKind.SIGNAL, str(uid(1003)), 2.0),
    ]
    assert evaluation.contributions[0].explanation_en.startswith(
        "investigation closed without findings"
    )


def test_no_findings_follows_the_decay_of_the_signals_it_took_away() -> None:
    investigation = closed(1, NO_FINDINGS, closed_at=AT, signals=[1])
    provider = facts(signals=[assessed(1, Outcome.INVESTIGATE)], investigations=[investigation])

    later = evaluate(provider, model(), AT + timedelta(days=180))

    assert later.score == 0.0
    # Equal weight: the signal comes before the investigation (kind order breaks the tie).
    assert [c.points for c in later.contributions] == [7.5, -7.5]


def test_a_signal_in_two_no_findings_investigations_is_taken_away_once() -> None:
    first = closed(1, NO_FINDINGS, closed_at=AT - timedelta(days=2), signals=[1])
    second = closed(2, NO_FINDINGS, closed_at=AT - timedelta(days=1), signals=[1, 2])
    signals = [assessed(1, Outcome.INVESTIGATE), assessed(2, Outcome.BUNDLE)]

    for investigations in ([first, second], [second, first]):
        evaluation = evaluate(facts(signals=signals, investigations=investigations), model(), AT)
        assert evaluation.score == 0.0
        assert {c.ref: c.points for c in evaluation.contributions} == {
            str(uid(3001)): -15.0,
            str(uid(3002)): -5.0,
            str(uid(1001)): 15.0,
            str(uid(1002)): 5.0,
        }


def test_no_findings_closed_after_the_moment_does_not_take_points_away_yet() -> None:
    investigation = closed(1, NO_FINDINGS, closed_at=AT + timedelta(days=3), signals=[1])

    evaluation = evaluate(
        facts(signals=[assessed(1, Outcome.INVESTIGATE)], investigations=[investigation]),
        model(),
        AT,
    )

    assert evaluation.score == 15.0
