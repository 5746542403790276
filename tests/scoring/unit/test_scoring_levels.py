"""The traffic light: boundaries, hysteresis on the way down, what counts as a change."""

from __future__ import annotations

import random

import pytest

from scoring.unit.builders import AT, assessed, closed, facts, model, reading
from zicht_schemas import IndicatorCode, InvestigationDecision, Outcome, RiskLevel, Severity
from zicht_scoring.domain import Evaluation, PreviousRisk, evaluate, is_change

pytestmark = pytest.mark.unit

GREEN, ORANGE, RED = RiskLevel.GREEN, RiskLevel.ORANGE, RiskLevel.RED
C = IndicatorCode


@pytest.mark.parametrize(
    ("score", "level"),
    [(0.0, GREEN), (29.9, GREEN), (30.0, ORANGE), (59.9, ORANGE), (60.0, RED), (100.0, RED)],
)
def test_boundaries_without_hysteresis(score: float, level: RiskLevel) -> None:
    assert model().levels.level_of(score) is level


@pytest.mark.parametrize(
    ("previous", "score", "level"),
    [
        pytest.param(ORANGE, 25.0, ORANGE, id="orange stays orange at 25"),
        pytest.param(ORANGE, 24.9, GREEN, id="orange turns green below 25"),
        pytest.param(RED, 55.0, RED, id="red stays red at 55"),
        pytest.param(RED, 54.9, ORANGE, id="red turns orange below 55"),
        pytest.param(RED, 25.0, ORANGE, id="red falls to orange, not green, at 25"),
        pytest.param(RED, 24.9, GREEN, id="red falls straight to green below 25"),
        pytest.param(GREEN, 30.0, ORANGE, id="rising to orange has no hysteresis"),
        pytest.param(GREEN, 60.0, RED, id="rising from green to red has no hysteresis"),
        pytest.param(ORANGE, 60.0, RED, id="rising to red has no hysteresis"),
        pytest.param(GREEN, 29.9, GREEN, id="green below the boundary stays green"),
    ],
)
def test_hysteresis_holds_a_level_until_the_score_is_5_below_its_boundary(
    previous: RiskLevel, score: float, level: RiskLevel
) -> None:
    assert model().levels.level_after(score, previous) is level


def _indicators(*colours: str) -> list[tuple[C, bool | float]]:
    # Each red is 25 points, each orange 10; distinct indicators so they add up.
    reds = iter([(C.PERSONNEL_COST_RATIO, 0.4), (C.PROFIT_MARGIN, 0.3), (C.EQUITY_RATIO, 0.0)])
    oranges = iter(
        [
            (C.DIRECTOR_PAY_ABOVE_WNT, True),
            (C.HIGH_RISK_SECTOR_LINKS, True),
            (C.DIRECTOR_PRIOR_BANKRUPTCY, True),
            (C.REAL_ESTATE_RELATED_PARTY, True),
        ]
    )
    return [next(reds) if colour == "red" else next(oranges) for colour in colours]


@pytest.mark.parametrize(
    ("colours", "previous", "score", "level", "raw_level"),
    [
        pytest.param(
            ("red",), ORANGE, 25.0, ORANGE, GREEN, id="orange provider at 25 stays orange"
        ),
        pytest.param(
            ("orange", "orange"), ORANGE, 20.0, GREEN, GREEN, id="orange provider at 20 turns green"
        ),
        pytest.param(
            ("red", "red"), RED, 50.0, ORANGE, ORANGE, id="red provider at 50 turns orange"
        ),
        pytest.param(
            ("red", "orange", "orange", "orange"), RED, 55.0, RED, ORANGE, id="red at 55 stays"
        ),
        pytest.param(
            ("red", "red"), GREEN, 50.0, ORANGE, ORANGE, id="green provider at 50 rises to orange"
        ),
    ],
)
def test_an_evaluation_applies_hysteresis_against_the_previous_level(
    colours: tuple[str, ...],
    previous: RiskLevel,
    score: float,
    level: RiskLevel,
    raw_level: RiskLevel,
) -> None:
    provider = facts(reading(code, value) for code, value in _indicators(*colours))

    evaluation = evaluate(provider, model(), AT, PreviousRisk(score + 3, previous))

    assert (evaluation.score, evaluation.level, evaluation.raw_level) == (score, level, raw_level)


def _with(score: float, level: RiskLevel) -> Evaluation:
    # An evaluation with a given score and level, built the way the scorer builds one.
    base = evaluate(facts(), model(), AT)
    return Evaluation(
        score=score,
        level=level,
        raw_level=level,
        unknown_indicators=base.unknown_indicators,
        model_version=base.model_version,
        held=False,
        changes_with_time=False,
        _parts=(),
    )


@pytest.mark.parametrize(
    ("previous", "score", "level", "changed"),
    [
        pytest.param(None, 0.0, GREEN, True, id="the first evaluation is always a change"),
        pytest.param(
            PreviousRisk(20.0, GREEN), 20.9, GREEN, False, id="less than a point is no change"
        ),
        pytest.param(PreviousRisk(20.0, GREEN), 21.0, GREEN, True, id="one point up is a change"),
        pytest.param(PreviousRisk(20.0, GREEN), 19.0, GREEN, True, id="one point down is a change"),
        pytest.param(
            PreviousRisk(9.3, GREEN), 10.3, GREEN, True, id="one point despite binary floats"
        ),
        pytest.param(
            PreviousRisk(24.5, ORANGE), 24.0, GREEN, True, id="a level change is a change"
        ),
        pytest.param(PreviousRisk(57.0, RED), 56.4, RED, False, id="held level, small fall"),
    ],
)
def test_is_change_publishes_a_point_or_a_level(
    previous: PreviousRisk | None, score: float, level: RiskLevel, changed: bool
) -> None:
    assert is_change(previous, _with(score, level)) is changed


def test_the_same_facts_model_and_moment_give_an_equal_evaluation_in_any_order() -> None:
    readings = [
        reading(C.PERSONNEL_COST_RATIO, 0.55),
        reading(C.PERSONNEL_COST_RATIO, 0.3, year=2023),
        reading(C.DIPLOMA_FRAUD, value=True),
        reading(C.GOVERNANCE_CHANGES_3Y, 2),
    ]
    outcomes = list(Outcome)
    signals = [
        assessed(
            n,
            outcomes[n % len(outcomes)],
            severity=list(Severity)[n % 3],
            occurred_at=AT.replace(month=1 + n % 5, day=1 + n),
        )
        for n in range(1, 15)
    ]
    investigations = [
        closed(1, InvestigationDecision.NO_FINDINGS, closed_at=AT.replace(month=5), signals=[2, 3]),
        closed(2, InvestigationDecision.IMPROVEMENT_PLAN, closed_at=AT.replace(month=2)),
        closed(3, InvestigationDecision.NO_FINDINGS, closed_at=AT.replace(month=3), signals=[3, 4]),
    ]
    expected = evaluate(facts(readings, signals, investigations), model(), AT)
    shuffler = random.Random(7)

    for _ in range(20):
        shuffler.shuffle(readings)
        shuffler.shuffle(signals)
        shuffler.shuffle(investigations)
        evaluation = evaluate(facts(readings, signals, investigations), model(), AT)
        assert evaluation == expected
        assert evaluation.contributions == expected.contributions
    assert expected.score > 0
    assert len(expected.contributions) > 10
