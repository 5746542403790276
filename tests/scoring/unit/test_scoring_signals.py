"""Signal history: base points by outcome times severity, decay, the 24-month window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scoring.unit.builders import AT, assessed, facts, model, uid
from zicht_schemas import Category, ContributionKind, Outcome, RiskLevel, Severity
from zicht_scoring.domain import evaluate

pytestmark = pytest.mark.unit

BASE = {
    Outcome.CRIMINAL_REFERRAL: 30.0,
    Outcome.INVESTIGATE: 15.0,
    Outcome.BUNDLE: 5.0,
    Outcome.ADMINISTRATIVE_ERROR: 3.0,
    Outcome.FOR_INFORMATION: 2.0,
    Outcome.NO_INVESTIGATION: 1.0,
    Outcome.OUT_OF_SCOPE: 0.0,
    Outcome.REFER_TO_IGJ: 0.0,
    Outcome.OUT_OF_REGION: 0.0,
}
FACTOR = {Severity.LOW: 0.5, Severity.MEDIUM: 1.0, Severity.HIGH: 1.5}


@pytest.mark.parametrize("severity", list(Severity))
@pytest.mark.parametrize("outcome", list(Outcome))
def test_a_fresh_signal_adds_base_points_times_severity_factor(
    outcome: Outcome, severity: Severity
) -> None:
    evaluation = evaluate(facts(signals=[assessed(1, outcome, severity=severity)]), model(), AT)

    expected = BASE[outcome] * FACTOR[severity]
    assert evaluation.score == expected
    if expected:
        (contribution,) = evaluation.contributions
        assert (contribution.kind, contribution.ref) == (ContributionKind.SIGNAL, str(uid(1001)))
        assert contribution.points == expected
    else:
        assert evaluation.contributions == ()


@pytest.mark.parametrize(
    ("category", "severity", "points"),
    [
        (Category.CALAMITY, Severity.MEDIUM, 20.0),
        (Category.VIOLENCE, Severity.HIGH, 30.0),
        (Category.CALAMITY, Severity.LOW, 10.0),
        (Category.QUALITY, Severity.HIGH, 22.5),
        (Category.LEGITIMACY, Severity.MEDIUM, 15.0),
    ],
)
def test_investigated_calamities_and_violence_weigh_more(
    category: Category, severity: Severity, points: float
) -> None:
    signal = assessed(1, Outcome.INVESTIGATE, category=category, severity=severity)

    assert evaluate(facts(signals=[signal]), model(), AT).score == points


def test_a_signal_explanation_names_outcome_category_and_severity_but_no_client_data() -> None:
    signal = assessed(1, Outcome.CRIMINAL_REFERRAL, category=Category.LEGITIMACY)

    (contribution,) = evaluate(facts(signals=[signal]), model(), AT).contributions

    assert contribution.explanation_en == (
        "signal referred to the casus table as possibly criminal (legitimacy, medium severity)"
    )


@pytest.mark.parametrize(
    ("age_days", "points"),
    [
        (0, 20.0),
        (90, 14.1),
        (180, 10.0),
        (360, 5.0),
        (540, 2.5),
        (720, 1.2),
    ],  # 1.25: Python rounds half to even
)
def test_signal_points_halve_every_180_days(age_days: int, points: float) -> None:
    signal = assessed(1, Outcome.INVESTIGATE, category=Category.CALAMITY)
    evaluation = evaluate(facts(signals=[signal]), model(), AT + timedelta(days=age_days))

    assert evaluation.score == points


def test_a_signal_counts_until_it_is_24_months_old() -> None:
    occurred = AT.replace(year=AT.year - 2)  # exactly 24 calendar months before AT
    just_inside = assessed(
        1, Outcome.CRIMINAL_REFERRAL, occurred_at=occurred + timedelta(seconds=1)
    )
    at_the_edge = assessed(2, Outcome.CRIMINAL_REFERRAL, occurred_at=occurred)
    older = assessed(3, Outcome.CRIMINAL_REFERRAL, occurred_at=occurred - timedelta(days=40))

    evaluation = evaluate(facts(signals=[just_inside, at_the_edge, older]), model(), AT)

    assert [c.ref for c in evaluation.contributions] == [str(uid(1001))]
    # 30 points decayed over a little under 730 days.
    assert evaluation.score == round(30 * 0.5 ** (730 / 180), 1)


def test_a_signal_that_occurred_after_the_moment_adds_nothing_yet() -> None:
    later = assessed(1, Outcome.CRIMINAL_REFERRAL, occurred_at=AT + timedelta(hours=1))

    evaluation = evaluate(facts(signals=[later]), model(), AT)

    assert (evaluation.score, evaluation.contributions) == (0.0, ())
    assert evaluation.changes_with_time


def test_a_re_assessed_signal_counts_only_with_its_latest_assessment() -> None:
    first = assessed(1, Outcome.CRIMINAL_REFERRAL, assessment=1, assessed_at=AT - timedelta(days=3))
    latest = assessed(1, Outcome.NO_INVESTIGATION, assessment=2, assessed_at=AT - timedelta(days=1))

    for order in ([first, latest], [latest, first]):
        assert evaluate(facts(signals=order), model(), AT).score == 1.0


def test_the_age_of_a_signal_counts_from_when_it_occurred_not_from_its_re_assessment() -> None:
    occurred = AT - timedelta(days=180)
    reassessed = assessed(1, Outcome.INVESTIGATE, occurred_at=occurred, assessed_at=AT)

    assert evaluate(facts(signals=[reassessed]), model(), AT).score == 7.5


def test_the_score_is_capped_at_100() -> None:
    signals = [assessed(n, Outcome.CRIMINAL_REFERRAL, severity=Severity.HIGH) for n in range(1, 5)]

    evaluation = evaluate(facts(signals=signals), model(), AT)

    assert (evaluation.score, evaluation.level) == (100.0, RiskLevel.RED)
    assert sum(c.points for c in evaluation.contributions) == 180.0


def test_contributions_come_largest_first_with_a_fixed_order_for_ties() -> None:
    signals = [
        assessed(3, Outcome.BUNDLE),
        assessed(2, Outcome.CRIMINAL_REFERRAL),
        assessed(1, Outcome.BUNDLE),
    ]

    evaluation = evaluate(facts(signals=signals), model(), AT)

    assert [(c.ref, c.points) for c in evaluation.contributions] == [
        (str(uid(1002)), 30.0),
        (str(uid(1001)), 5.0),
        (str(uid(1003)), 5.0),
    ]


def test_only_indicator_points_do_not_change_with_time_but_signal_points_do() -> None:
    assert not evaluate(facts(), model(), AT).changes_with_time
    assert evaluate(facts(signals=[assessed(1)]), model(), AT).changes_with_time
