"""Triage counts assessments by outcome and priority once they have committed."""

from __future__ import annotations

import pytest

from support.metrics import in_memory_meter, metric_values, rolled_back
from zicht_runtime.telemetry import commit_scope
from zicht_triage.metrics import TriageMetrics

pytestmark = pytest.mark.unit


def test_assessments_count_by_outcome_and_priority_only_when_committed() -> None:
    provider, reader = in_memory_meter()
    metrics = TriageMetrics.on(provider.get_meter("test"))
    with commit_scope():
        metrics.signal_assessed("criminal_referral", "P1")
        metrics.signal_assessed("criminal_referral", "P1")
        metrics.signal_assessed("investigate", "P3")
    rolled_back(lambda: metrics.signal_assessed("investigate", "P3"))  # a rewound batch
    with metrics.assessing():
        pass
    values = metric_values(reader)
    key = (
        "zicht.signals.assessed",
        (("zicht.outcome", "criminal_referral"), ("zicht.priority", "P1")),
    )
    assert values[key] == 2
    key = ("zicht.signals.assessed", (("zicht.outcome", "investigate"), ("zicht.priority", "P3")))
    assert values[key] == 1, "the rewound batch counts nothing"
    assert values[("zicht.stage.duration", (("zicht.stage", "assess"),))] == 1
