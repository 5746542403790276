"""The notify service's business metrics: alerts routed, delivered and failed; stage times.

Made once per process on the global meter, which the kit points at the process's meter
provider when the service starts; a test gives the service metrics on a meter of its own.
Routing counts once the consumer's transaction commits; a delivery or a failure counts once
the transaction that records it commits (``after_commit`` in a ``commit_scope``).
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from dataclasses import dataclass

from opentelemetry import metrics

from zicht_runtime.telemetry import after_commit, stage_histogram, timed_stage

__all__ = ["NotifyMetrics", "default_metrics"]


@dataclass(frozen=True)
class NotifyMetrics:
    """The instruments of the notify service."""

    routed: metrics.Counter
    delivered: metrics.Counter
    failed: metrics.Counter
    stage_duration: metrics.Histogram

    @classmethod
    def on(cls, meter: metrics.Meter) -> NotifyMetrics:
        """The instruments, made on ``meter``."""
        return cls(
            routed=meter.create_counter(
                "zicht.alerts.routed",
                unit="{alert}",
                description="Alerts made for the recipients the routing policy named, per "
                "recipient kind (also those with no subscription to deliver to).",
            ),
            delivered=meter.create_counter(
                "zicht.alerts.delivered",
                unit="{alert}",
                description="Alerts a recipient's webhook accepted, per recipient kind.",
            ),
            failed=meter.create_counter(
                "zicht.alerts.failed",
                unit="{alert}",
                description="Alerts given up on, per failure reason and recipient kind.",
            ),
            stage_duration=stage_histogram(meter),
        )

    def routing(self) -> AbstractContextManager[None]:
        """Times the ``route`` stage (around the ``route alert`` span)."""
        return timed_stage(self.stage_duration, "route")

    def delivering(self) -> AbstractContextManager[None]:
        """Times the ``deliver`` stage (around the ``deliver webhook`` span)."""
        return timed_stage(self.stage_duration, "deliver")

    def alert_routed(self, subscriber_kind: str) -> None:
        """Count one alert made, once its transaction commits."""
        attributes = {"zicht.subscriber_kind": subscriber_kind}
        after_commit(lambda: self.routed.add(1, attributes))

    def alert_delivered(self, subscriber_kind: str) -> None:
        """Count one delivered alert, once its transaction commits."""
        attributes = {"zicht.subscriber_kind": subscriber_kind}
        after_commit(lambda: self.delivered.add(1, attributes))

    def alert_failed(self, failure_reason: str, subscriber_kind: str) -> None:
        """Count one failed alert, once its transaction commits."""
        attributes = {
            "zicht.failure_reason": failure_reason,
            "zicht.subscriber_kind": subscriber_kind,
        }
        after_commit(lambda: self.failed.add(1, attributes))


@functools.cache
def default_metrics() -> NotifyMetrics:
    """The process's instruments, made once on the global meter."""
    return NotifyMetrics.on(metrics.get_meter("zicht.notify"))
