"""What the risk model weighs about one provider, as the service rebuilds it from stored events.

The service keeps scoring's inputs (indicator reports, assessments, closed investigations) in
its own tables and builds these plain values from them for each evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from zicht_schemas import (
    Category,
    IndicatorCode,
    IndicatorSource,
    IndicatorValueKind,
    InvestigationDecision,
    Outcome,
    Severity,
)

__all__ = [
    "AssessedSignal",
    "IndicatorReading",
    "InvestigationOutcome",
    "ProviderFacts",
    "latest_assessments",
    "newest_readings",
]


def _require_aware(moment: datetime, what: str) -> None:
    # A naive moment would make every comparison with an aware one raise deep in the scorer.
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class IndicatorReading:
    """One reported value of one indicator (from ``IndicatorsReported``)."""

    code: IndicatorCode
    value: bool | float
    """True/false for a yes/no indicator, a number for a ratio or count."""
    period_year: int
    """The reporting year the value describes."""
    reported_at: datetime
    source: IndicatorSource
    report_id: UUID

    def __post_init__(self) -> None:
        flag = self.code.value_kind is IndicatorValueKind.FLAG
        if flag != isinstance(self.value, bool):
            expected = "true or false" if flag else "a number"
            raise ValueError(f"indicator {self.code.value} takes {expected}")
        _require_aware(self.reported_at, "reported_at")


def newest_readings(readings: Iterable[IndicatorReading]) -> dict[IndicatorCode, IndicatorReading]:
    """The reading that counts per indicator: the newest one.

    Newest is the latest reporting year, then the latest report moment, then the greatest
    report id, so the choice never depends on the order of ``readings``.
    """
    newest: dict[IndicatorCode, IndicatorReading] = {}
    for reading in readings:
        current = newest.get(reading.code)
        if current is None or _recency(reading) > _recency(current):
            newest[reading.code] = reading
    return newest


def _recency(reading: IndicatorReading) -> tuple[int, datetime, UUID]:
    return (reading.period_year, reading.reported_at, reading.report_id)


@dataclass(frozen=True, slots=True)
class AssessedSignal:
    """A signal as triage last assessed it (from ``SignalAssessed``).

    Only a signal's latest assessment counts: the service passes one per signal (a
    re-assessment replaces the earlier one; see :func:`latest_assessments`). A signal's age
    is measured from ``occurred_at``, when the matter happened: a re-assessment (e.g. a replay
    under a new framework) must not make a signal younger, and the moment is part of the
    signal, so a replay gives the same ages.
    """

    signal_id: UUID
    assessment_id: UUID
    outcome: Outcome
    category: Category
    severity: Severity
    occurred_at: datetime
    assessed_at: datetime

    def __post_init__(self) -> None:
        _require_aware(self.occurred_at, "occurred_at")
        _require_aware(self.assessed_at, "assessed_at")


def latest_assessments(signals: Iterable[AssessedSignal]) -> tuple[AssessedSignal, ...]:
    """One assessment per signal: the latest (then the greatest assessment id), by signal id."""
    latest: dict[UUID, AssessedSignal] = {}
    for signal in signals:
        current = latest.get(signal.signal_id)
        if current is None or (signal.assessed_at, signal.assessment_id) > (
            current.assessed_at,
            current.assessment_id,
        ):
            latest[signal.signal_id] = signal
    return tuple(latest[key] for key in sorted(latest))


@dataclass(frozen=True, slots=True)
class InvestigationOutcome:
    """A closed investigation's decision (from ``InvestigationChanged`` with change closed)."""

    investigation_id: UUID
    decision: InvestigationDecision
    closed_at: datetime
    signal_ids: tuple[UUID, ...]
    """Every signal of the investigation (opening, bundled, linked), as the close event lists."""

    def __post_init__(self) -> None:
        _require_aware(self.closed_at, "closed_at")


@dataclass(frozen=True, slots=True)
class ProviderFacts:
    """Everything the risk model weighs about one provider.

    ``readings`` holds the reading that counts per indicator (see :func:`newest_readings`);
    an indicator without one is unknown and counts as green. ``signals`` should hold one
    assessment per signal, its latest; when a signal appears more than once, only its latest
    assessment is kept (:func:`latest_assessments`). ``investigations`` holds each closed
    investigation once. The order of ``signals`` and ``investigations`` does not matter.
    """

    provider_id: str
    readings: Mapping[IndicatorCode, IndicatorReading]
    signals: Sequence[AssessedSignal]
    investigations: Sequence[InvestigationOutcome]

    def __post_init__(self) -> None:
        for code, reading in self.readings.items():
            if reading.code is not code:
                raise ValueError(f"the reading under {code.value} is of {reading.code.value}")
        # By the UUID's int: a UUID hashes in Python, an int in C.
        if len({signal.signal_id.int for signal in self.signals}) != len(self.signals):
            object.__setattr__(self, "signals", latest_assessments(self.signals))
