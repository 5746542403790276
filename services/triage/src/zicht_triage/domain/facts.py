"""What triage weighs: the facts of one signal and the context of its provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self
from uuid import UUID

from zicht_schemas.codes import (
    Category,
    CrimeIndicator,
    Law,
    Severity,
    Shortcoming,
    Source,
    VulnerableGroup,
)
from zicht_schemas.events.intake import SignalReceivedV1

__all__ = ["AssessmentContext", "SignalFacts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalFacts:
    """The facts of one signal that the assessment framework weighs; codes only, no personal data.

    Lists are kept sorted and without repeats, so the same facts in another order give the same
    decision (and the same explanation).
    """

    law: Law
    category: Category
    severity: Severity
    source: Source
    vulnerable_group: VulnerableGroup = VulnerableGroup.NONE
    crime_indicators: tuple[CrimeIndicator, ...] = ()
    fraud_suspected: bool = False
    administrative_error: bool = False
    shortcomings: tuple[Shortcoming, ...] = ()
    """Each shortcoming carries its fixed kind (``Shortcoming.kind``: quick or complex)."""

    def __post_init__(self) -> None:
        # Frozen: the canonical form is set once, here.
        object.__setattr__(self, "crime_indicators", tuple(sorted(set(self.crime_indicators))))
        object.__setattr__(self, "shortcomings", tuple(sorted(set(self.shortcomings))))

    @classmethod
    def from_event(cls, event: SignalReceivedV1) -> Self:
        """The facts of a received signal (intake already checked each shortcoming's kind)."""
        return cls(
            law=event.law,
            category=event.category,
            severity=event.severity,
            source=event.source,
            vulnerable_group=event.vulnerable_group,
            crime_indicators=event.crime_indicators,
            fraud_suspected=event.fraud_suspected,
            administrative_error=event.administrative_error,
            shortcomings=tuple(finding.code for finding in event.shortcomings),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AssessmentContext:
    """What triage knows about the provider when it weighs a signal.

    The service reads this from its own store and keeps it with the decision, so the decision
    can be reproduced (and re-assessed under a new framework) with the same context.
    """

    related_to_region: bool
    """The provider has a location in, or a contract with, one of the region's municipalities."""
    open_investigation_id: UUID | None = None
    """The provider's open investigation, if it has one (a provider has one at most)."""
    prior_signals_12_months: int = 0
    """The provider's signals assessed in the 12 months before this one, NOT counting it."""

    def __post_init__(self) -> None:
        if self.prior_signals_12_months < 0:
            raise ValueError("prior_signals_12_months must be zero or more")
