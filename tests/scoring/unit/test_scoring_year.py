"""A year in a moment: daily re-evaluation with an injected moment lets decay lower a level."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest

from scoring.unit.builders import AT, assessed, facts, model
from zicht_schemas import Outcome, RiskLevel, Severity
from zicht_scoring.domain import PreviousRisk, evaluate, is_change

pytestmark = pytest.mark.unit


def test_a_red_provider_with_only_signal_points_steps_down_on_the_days_hysteresis_allows() -> None:
    # Two high-severity criminal referrals on day 0: 2 x 30 x 1.5 = 90 points, halving every
    # 180 days. Red until the score is below 55, orange until it is below 25.
    provider = facts(
        signals=[
            assessed(n, Outcome.CRIMINAL_REFERRAL, severity=Severity.HIGH, occurred_at=AT)
            for n in (1, 2)
        ]
    )
    previous: PreviousRisk | None = None
    published: list[tuple[int, float, RiskLevel]] = []
    daily = {}

    for day in range(366):
        evaluation = evaluate(provider, model(), AT + timedelta(days=day), previous)
        daily[day] = evaluation
        if is_change(previous, evaluation):
            published.append((day, evaluation.score, evaluation.level))
            previous = PreviousRisk(evaluation.score, evaluation.level)

    level_changes = [
        (day, level)
        for (day, _, level), before in zip(published, [None, *published[:-1]], strict=True)
        if before is None or before[2] is not level
    ]
    assert level_changes == [(0, RiskLevel.RED), (129, RiskLevel.ORANGE), (334, RiskLevel.GREEN)]
    # Hysteresis at work: below 60 from day 106, yet red until the score fell below 55.
    assert (daily[106].score, daily[106].raw_level, daily[106].level) == (
        59.8,
        RiskLevel.ORANGE,
        RiskLevel.RED,
    )
    assert (daily[128].score, daily[128].level) == (55.0, RiskLevel.RED)
    assert daily[129].score == 54.8
    # Below 30 from day 286, yet orange until the score fell below 25.
    assert (daily[286].raw_level, daily[286].level) == (RiskLevel.GREEN, RiskLevel.ORANGE)
    assert (daily[333].score, daily[333].level) == (25.0, RiskLevel.ORANGE)
    assert daily[334].score == 24.9
    # A change is published for every point of decay, not for every day.
    assert 60 < len(published) < 100
    assert all(
        abs(later[1] - earlier[1]) >= 1.0 or later[2] is not earlier[2]
        for earlier, later in pairwise(published)
    )
