"""Notify counts alerts routed, delivered and failed, per recipient kind, once committed."""

from __future__ import annotations

import pytest

from support.metrics import in_memory_meter, metric_values, rolled_back
from zicht_notify.metrics import NotifyMetrics
from zicht_runtime.telemetry import commit_scope

pytestmark = pytest.mark.unit


def test_alerts_count_per_recipient_kind_and_failure_reason_after_the_commit() -> None:
    provider, reader = in_memory_meter()
    metrics = NotifyMetrics.on(provider.get_meter("test"))
    with commit_scope():
        metrics.alert_routed("municipality")
        metrics.alert_routed("municipality")
        metrics.alert_routed("casus_table")
        metrics.alert_failed("no_subscription", "casus_table")
    rolled_back(lambda: metrics.alert_delivered("municipality"))
    metrics.alert_delivered("municipality")  # outside a transaction: counts at once

    values = metric_values(reader)
    assert values[("zicht.alerts.routed", (("zicht.subscriber_kind", "municipality"),))] == 2
    assert values[("zicht.alerts.routed", (("zicht.subscriber_kind", "casus_table"),))] == 1
    assert values[("zicht.alerts.delivered", (("zicht.subscriber_kind", "municipality"),))] == 1
    failed = (("zicht.failure_reason", "no_subscription"), ("zicht.subscriber_kind", "casus_table"))
    assert values[("zicht.alerts.failed", failed)] == 1
