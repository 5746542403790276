"""The triage service's business metrics: signals assessed by outcome, time to assess.

Made once per process on the global meter, which the kit points at the process's meter
provider when the service starts; a test gives the service metrics on a meter of its own.
An assessment counts once its transaction commits (``after_commit``), so a batch that is
rewound and redelivered counts each signal once.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from dataclasses import dataclass

from opentelemetry import metrics

from zicht_runtime.telemetry import after_commit, stage_histogram, timed_stage

__all__ = ["TriageMetrics", "default_metrics"]


@dataclass(frozen=True)
class TriageMetrics:
    """The instruments of the triage service."""

    assessed: metrics.Counter
    stage_duration: metrics.Histogram

    @classmethod
    def on(cls, meter: metrics.Meter) -> TriageMetrics:
        """The instruments, made on ``meter``."""
        return cls(
            assessed=meter.create_counter(
                "zicht.signals.assessed",
                unit="{signal}",
                description="Signals weighed against the framework, by outcome and priority.",
            ),
            stage_duration=stage_histogram(meter),
        )

    def assessing(self) -> AbstractContextManager[None]:
        """Times the ``assess`` stage (around the ``assess signal`` span)."""
        return timed_stage(self.stage_duration, "assess")

    def signal_assessed(self, outcome: str, priority: str) -> None:
        """Count one assessment once its transaction commits."""
        attributes = {"zicht.outcome": outcome, "zicht.priority": priority}
        after_commit(lambda: self.assessed.add(1, attributes))


@functools.cache
def default_metrics() -> TriageMetrics:
    """The process's instruments, made once on the global meter."""
    return TriageMetrics.on(metrics.get_meter("zicht.triage"))
