"""Indicators of the barrier model: every threshold at its edge, unknowns, newest reading."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scoring.unit.builders import AT, facts, model, reading
from zicht_schemas import ContributionKind, IndicatorCode, RiskLevel
from zicht_scoring.domain import evaluate

pytestmark = pytest.mark.unit

C = IndicatorCode
GREEN, ORANGE, RED = RiskLevel.GREEN, RiskLevel.ORANGE, RiskLevel.RED
POINTS = {GREEN: 0.0, ORANGE: 10.0, RED: 25.0}

# (indicator, value, colour): for each threshold a value just inside and just outside it.
EDGES = [
    (C.EQUITY_RATIO, -0.3, RED),
    (C.EQUITY_RATIO, 0.0499, RED),
    (C.EQUITY_RATIO, 0.05, ORANGE),
    (C.EQUITY_RATIO, 0.1499, ORANGE),
    (C.EQUITY_RATIO, 0.15, GREEN),
    (C.PERSONNEL_COST_RATIO, 0.4999, RED),
    (C.PERSONNEL_COST_RATIO, 0.50, ORANGE),
    (C.PERSONNEL_COST_RATIO, 0.6499, ORANGE),
    (C.PERSONNEL_COST_RATIO, 0.65, GREEN),
    (C.PROFIT_MARGIN, 0.20, RED),
    (C.PROFIT_MARGIN, 0.1999, ORANGE),
    (C.PROFIT_MARGIN, 0.10, ORANGE),
    (C.PROFIT_MARGIN, 0.0999, GREEN),
    (C.PROFIT_MARGIN, -0.4, GREEN),
    (C.INDICATION_REALISATION, 0.98, RED),
    (C.INDICATION_REALISATION, 0.9799, ORANGE),
    (C.INDICATION_REALISATION, 0.95, ORANGE),
    (C.INDICATION_REALISATION, 0.9499, GREEN),
    (C.GOVERNANCE_CHANGES_3Y, 4, RED),
    (C.GOVERNANCE_CHANGES_3Y, 3, ORANGE),
    (C.GOVERNANCE_CHANGES_3Y, 2, ORANGE),
    (C.GOVERNANCE_CHANGES_3Y, 1, GREEN),
    (C.REAL_ESTATE_RELATED_PARTY, True, ORANGE),
    (C.REAL_ESTATE_RELATED_PARTY, False, GREEN),
    (C.DIRECTOR_PRIOR_BANKRUPTCY, True, ORANGE),
    (C.DIRECTOR_PRIOR_BANKRUPTCY, False, GREEN),
    (C.DIRECTOR_PAY_ABOVE_WNT, True, ORANGE),
    (C.DIRECTOR_PAY_ABOVE_WNT, False, GREEN),
    (C.SELF_EMPLOYED_SHARE, 0.5, ORANGE),
    (C.SELF_EMPLOYED_SHARE, 0.4999, GREEN),
    (C.HIGH_RISK_SECTOR_LINKS, True, ORANGE),
    (C.HIGH_RISK_SECTOR_LINKS, False, GREEN),
    (C.DIRECTOR_EDUCATION_RELEVANT, False, ORANGE),
    (C.DIRECTOR_EDUCATION_RELEVANT, True, GREEN),
    (C.PROVIDER_YOUNGER_THAN_TWO_YEARS, True, ORANGE),
    (C.PROVIDER_YOUNGER_THAN_TWO_YEARS, False, GREEN),
    (C.CERTIFICATION_AND_INSURANCE_MISSING, 2, RED),
    (C.CERTIFICATION_AND_INSURANCE_MISSING, 1, ORANGE),
    (C.CERTIFICATION_AND_INSURANCE_MISSING, 0, GREEN),
    (C.DIPLOMA_FRAUD, True, RED),
    (C.DIPLOMA_FRAUD, False, GREEN),
]


@pytest.mark.parametrize(
    ("code", "value", "colour"), EDGES, ids=[f"{c.value}={v}" for c, v, _ in EDGES]
)
def test_indicator_value_at_a_threshold_edge_gets_its_colour_points(
    code: IndicatorCode, value: bool | float, colour: RiskLevel
) -> None:
    evaluation = evaluate(facts([reading(code, value)]), model(), AT)

    assert evaluation.score == POINTS[colour]
    if colour is GREEN:
        assert evaluation.contributions == ()
    else:
        (contribution,) = evaluation.contributions
        assert contribution.kind is ContributionKind.INDICATOR
        assert contribution.ref == code.value
        assert contribution.points == POINTS[colour]
    assert code not in evaluation.unknown_indicators


def test_indicator_contribution_explains_why_in_one_english_line() -> None:
    evaluation = evaluate(facts([reading(C.PERSONNEL_COST_RATIO, 0.6)]), model(), AT)

    assert [c.explanation_en for c in evaluation.contributions] == [
        "personnel costs below 65% of revenue"
    ]


def test_every_indicator_has_an_edge_case_for_each_of_its_colours() -> None:
    covered = {(code, colour) for code, _, colour in EDGES}
    for code, rule in model().indicators.items():
        assert (code, GREEN) in covered
        if rule.red is not None:
            assert (code, RED) in covered
        if rule.orange is not None:
            assert (code, ORANGE) in covered


def test_indicators_never_reported_are_listed_as_unknown_and_count_as_green() -> None:
    evaluation = evaluate(
        facts([reading(C.PERSONNEL_COST_RATIO, 0.3), reading(C.DIPLOMA_FRAUD, value=False)]),
        model(),
        AT,
    )

    assert evaluation.score == 25.0
    assert evaluation.unknown_indicators == tuple(
        sorted(set(IndicatorCode) - {C.PERSONNEL_COST_RATIO, C.DIPLOMA_FRAUD})
    )
    assert list(evaluation.unknown_indicators) == sorted(evaluation.unknown_indicators)


def test_a_provider_without_any_report_is_green_with_every_indicator_unknown() -> None:
    evaluation = evaluate(facts(), model(), AT)

    assert (evaluation.score, evaluation.level) == (0.0, GREEN)
    assert set(evaluation.unknown_indicators) == set(IndicatorCode)


def test_a_fully_reported_provider_has_no_unknown_indicators() -> None:
    values: dict[IndicatorCode, bool | float] = {
        C.EQUITY_RATIO: 0.4,
        C.PERSONNEL_COST_RATIO: 0.7,
        C.PROFIT_MARGIN: 0.03,
        C.INDICATION_REALISATION: 0.8,
        C.GOVERNANCE_CHANGES_3Y: 0,
        C.REAL_ESTATE_RELATED_PARTY: False,
        C.DIRECTOR_PRIOR_BANKRUPTCY: False,
        C.DIRECTOR_PAY_ABOVE_WNT: False,
        C.SELF_EMPLOYED_SHARE: 0.1,
        C.HIGH_RISK_SECTOR_LINKS: False,
        C.DIRECTOR_EDUCATION_RELEVANT: True,
        C.PROVIDER_YOUNGER_THAN_TWO_YEARS: False,
        C.CERTIFICATION_AND_INSURANCE_MISSING: 0,
        C.DIPLOMA_FRAUD: False,
    }
    evaluation = evaluate(facts(reading(c, v) for c, v in values.items()), model(), AT)

    assert evaluation.unknown_indicators == ()
    assert (evaluation.score, evaluation.level) == (0.0, GREEN)


@pytest.mark.parametrize(
    ("values", "score", "level"),
    [
        pytest.param(
            [(C.PERSONNEL_COST_RATIO, 0.6), (C.PROFIT_MARGIN, 0.12)], 20.0, GREEN, id="two"
        ),
        pytest.param(
            [
                (C.PERSONNEL_COST_RATIO, 0.6),
                (C.PROFIT_MARGIN, 0.12),
                (C.DIPLOMA_FRAUD, False),
                (C.DIRECTOR_PAY_ABOVE_WNT, True),
            ],
            30.0,
            ORANGE,
            id="three oranges make an orange provider",
        ),
        pytest.param(
            [(C.PERSONNEL_COST_RATIO, 0.4), (C.PROFIT_MARGIN, 0.25), (C.SELF_EMPLOYED_SHARE, 0.6)],
            60.0,
            RED,
            id="two reds and an orange make red",
        ),
        pytest.param(
            [(C.PERSONNEL_COST_RATIO, 0.4), (C.PROFIT_MARGIN, 0.25)], 50.0, ORANGE, id="two reds"
        ),
    ],
)
def test_the_policy_worked_levels(
    values: list[tuple[IndicatorCode, bool | float]], score: float, level: RiskLevel
) -> None:
    evaluation = evaluate(facts(reading(c, v) for c, v in values), model(), AT)

    assert (evaluation.score, evaluation.level) == (score, level)


def test_the_newest_reporting_year_wins_over_an_older_one_reported_later() -> None:
    older_year_reported_later = reading(
        C.EQUITY_RATIO, 0.01, year=2023, reported_at=AT - timedelta(days=1), report=1
    )
    newer_year = reading(C.EQUITY_RATIO, 0.5, year=2024, reported_at=AT - timedelta(days=90))

    for order in ([older_year_reported_later, newer_year], [newer_year, older_year_reported_later]):
        assert evaluate(facts(order), model(), AT).score == 0.0


def test_within_one_year_the_latest_report_wins_then_the_greatest_report_id() -> None:
    early = reading(C.EQUITY_RATIO, 0.01, reported_at=AT - timedelta(days=30), report=9)
    late = reading(C.EQUITY_RATIO, 0.10, reported_at=AT - timedelta(days=10), report=1)
    tie_low = reading(C.PROFIT_MARGIN, 0.5, reported_at=AT - timedelta(days=5), report=3)
    tie_high = reading(C.PROFIT_MARGIN, 0.0, reported_at=AT - timedelta(days=5), report=4)

    for order in ([early, late, tie_low, tie_high], [tie_high, late, tie_low, early]):
        evaluation = evaluate(facts(order), model(), AT)
        assert [(c.ref, c.points) for c in evaluation.contributions] == [("equity_ratio", 10.0)]
