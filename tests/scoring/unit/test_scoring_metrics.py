"""Scoring counts risk changes and keeps providers per level without a query per scrape."""

from __future__ import annotations

import pytest

from support.metrics import MetricValues, in_memory_meter, metric_values, rolled_back
from zicht_runtime.telemetry import commit_scope
from zicht_scoring.metrics import ScoringMetrics

pytestmark = pytest.mark.unit


def levels(values: MetricValues) -> dict[str, float]:
    return {
        str(dict(attrs)["zicht.level"]): value
        for (name, attrs), value in values.items()
        if name == "zicht.risk.providers"
    }


def test_providers_per_level_start_from_the_database_and_follow_committed_changes() -> None:
    provider, reader = in_memory_meter()
    metrics = ScoringMetrics.on(provider.get_meter("test"))
    assert levels(metric_values(reader)) == {}, "no guess before the first count"

    metrics.levels.reset({"green": 5, "orange": 1, "red": 0})
    with commit_scope():
        metrics.risk_changed("red", "orange")
        metrics.risk_changed("green", None)  # a provider scored for the first time
    rolled_back(lambda: metrics.risk_changed("red", "green"))

    values = metric_values(reader)
    assert levels(values) == {"green": 6, "orange": 0, "red": 1}
    rise = ("zicht.risk.changes", (("zicht.level", "red"), ("zicht.previous_level", "orange")))
    new = ("zicht.risk.changes", (("zicht.level", "green"), ("zicht.previous_level", "none")))
    assert values[rise] == 1
    assert values[new] == 1
    assert sum(v for (name, _), v in values.items() if name == "zicht.risk.changes") == 2
