"""The scoring service's business metrics: risk changes, providers per level, time to score.

Made once per process on the global meter, which the kit points at the process's meter
provider when the service starts; a test gives the service metrics on a meter of its own.
A risk change counts once its transaction commits (``after_commit``).

Providers per level is an observable gauge, and OpenTelemetry asks it synchronously at every
collection, so it never queries: it reads counts kept in memory. One query fills them at
start-up and again every minute (so changes made by other instances show too); in between,
each committed change here moves one provider from its previous level to its new one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from zicht_runtime.telemetry import after_commit, stage_histogram, timed_stage

__all__ = ["LevelCounts", "ScoringMetrics", "default_metrics"]

# The previous level of a provider scored for the first time.
NEW = "none"


@dataclass
class LevelCounts:
    """How many providers stand at each traffic light, as far as this process knows."""

    _counts: dict[str, int] | None = field(default=None)

    def reset(self, counts: Mapping[str, int]) -> None:
        """Take the counts as read from the database."""
        self._counts = dict(counts)

    def moved(self, previous: str | None, level: str) -> None:
        """One provider went from ``previous`` (None: unscored) to ``level``."""
        if self._counts is None:
            return  # not loaded yet: the first load counts this change
        if previous is not None:
            self._counts[previous] = max(self._counts.get(previous, 0) - 1, 0)
        self._counts[level] = self._counts.get(level, 0) + 1

    def get(self) -> dict[str, int] | None:
        """The counts per level (None: not loaded yet)."""
        return None if self._counts is None else dict(self._counts)

    def observe(self, _options: CallbackOptions) -> Iterator[Observation]:
        """The gauge's callback: one observation per level, nothing before the first load."""
        for level, count in (self._counts or {}).items():
            yield Observation(count, {"zicht.level": level})


@dataclass(frozen=True)
class ScoringMetrics:
    """The instruments of the scoring service."""

    changes: metrics.Counter
    stage_duration: metrics.Histogram
    levels: LevelCounts

    @classmethod
    def on(cls, meter: metrics.Meter) -> ScoringMetrics:
        """The instruments, made on ``meter`` (the gauge once per meter)."""
        levels = LevelCounts()
        meter.create_observable_gauge(
            "zicht.risk.providers",
            callbacks=[levels.observe],
            unit="{provider}",
            description="Scored providers per traffic light (zicht.level); every instance "
            "reports the whole register, so aggregate with max, not sum.",
        )
        return cls(
            changes=meter.create_counter(
                "zicht.risk.changes",
                unit="{change}",
                description="Risk changes published, by new and previous level.",
            ),
            stage_duration=stage_histogram(meter),
            levels=levels,
        )

    def scoring(self) -> AbstractContextManager[None]:
        """Times the ``score`` stage (around the ``score provider`` span)."""
        return timed_stage(self.stage_duration, "score")

    def risk_changed(self, level: str, previous: str | None) -> None:
        """Count one published change, and move its provider, once the change commits."""
        attributes = {"zicht.level": level, "zicht.previous_level": previous or NEW}

        def record() -> None:
            self.changes.add(1, attributes)
            self.levels.moved(previous, level)

        after_commit(record)


@functools.cache
def default_metrics() -> ScoringMetrics:
    """The process's instruments, made once on the global meter."""
    return ScoringMetrics.on(metrics.get_meter("zicht.scoring"))
