"""The intake service's business metrics: signals received and refused, time to normalise.

Made once per process on the global meter, which the kit points at the process's meter
provider when the service starts; a test gives the service metrics on a meter of its own.
Counts are recorded after the transaction commits (``after_commit``): a submission that
is rolled back counts nothing. A partner's replay of a submission it already made is not a
new signal and counts nothing either.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass

from opentelemetry import metrics

from zicht_runtime.telemetry import after_commit, stage_histogram, timed_stage

__all__ = ["IntakeMetrics", "default_metrics"]


@dataclass(frozen=True)
class IntakeMetrics:
    """The instruments of the intake service."""

    received: metrics.Counter
    rejected: metrics.Counter
    stage_duration: metrics.Histogram

    @classmethod
    def on(cls, meter: metrics.Meter) -> IntakeMetrics:
        """The instruments, made on ``meter``."""
        return cls(
            received=meter.create_counter(
                "zicht.signals.received",
                unit="{signal}",
                description="Signals partners submitted, accepted or not (a file refused as "
                "a whole counts as one).",
            ),
            rejected=meter.create_counter(
                "zicht.signals.rejected",
                unit="{signal}",
                description="Signals intake refused, by the code of their first rejection.",
            ),
            stage_duration=stage_histogram(meter),
        )

    def normalising(self) -> AbstractContextManager[None]:
        """Times the ``normalise`` stage (around the ``normalise signal`` span)."""
        return timed_stage(self.stage_duration, "normalise")

    def signals(
        self, source: str, channel: str, received: int, rejected: Mapping[str, int]
    ) -> None:
        """Count a submission's signals once its transaction commits.

        Args:
            source: Who reported them (a ``Source`` value).
            channel: How they arrived (``http`` or ``kafka``).
            received: How many signals the submission held.
            rejected: How many were refused, by rejection code (bounded codes, never the
                refused value).
        """
        attributes = {"zicht.source": source, "zicht.channel": channel}

        def record() -> None:
            if received:
                self.received.add(received, attributes)
            for code, count in rejected.items():
                self.rejected.add(count, {**attributes, "zicht.rejection_code": code})

        after_commit(record)


@functools.cache
def default_metrics() -> IntakeMetrics:
    """The process's instruments, made once on the global meter."""
    return IntakeMetrics.on(metrics.get_meter("zicht.intake"))
