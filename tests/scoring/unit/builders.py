"""Synthetic facts for the scorer's unit tests: one provider, ids from small numbers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from uuid import UUID

from zicht_schemas import (
    Category,
    IndicatorCode,
    IndicatorSource,
    InvestigationDecision,
    Outcome,
    Severity,
)
from zicht_scoring.domain import (
    AssessedSignal,
    IndicatorReading,
    InvestigationOutcome,
    ProviderFacts,
    RiskModel,
    default_model,
    newest_readings,
)

__all__ = [
    "AT",
    "PROVIDER",
    "assessed",
    "closed",
    "default_model_text",
    "facts",
    "model",
    "reading",
    "uid",
]

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
"""The moment most tests score for."""

PROVIDER = "prov-0001"


def model() -> RiskModel:
    """The shipped model (2025.1)."""
    return default_model()


def default_model_text() -> str:
    """The shipped model file's text, for tests that change it."""
    return files("zicht_scoring").joinpath("models/2025.1.yaml").read_text(encoding="utf-8")


def uid(n: int) -> UUID:
    """A readable synthetic id."""
    return UUID(int=n)


def reading(
    code: IndicatorCode,
    value: bool | float,
    *,
    year: int = 2025,
    reported_at: datetime = AT - timedelta(days=60),
    report: int = 1,
) -> IndicatorReading:
    """One indicator value from an annual-accounts report."""
    return IndicatorReading(
        code=code,
        value=value,
        period_year=year,
        reported_at=reported_at,
        source=IndicatorSource.ANNUAL_ACCOUNTS,
        report_id=uid(report),
    )


def assessed(
    n: int = 1,
    outcome: Outcome = Outcome.INVESTIGATE,
    *,
    category: Category = Category.QUALITY,
    severity: Severity = Severity.MEDIUM,
    occurred_at: datetime = AT,
    assessed_at: datetime | None = None,
    assessment: int | None = None,
) -> AssessedSignal:
    """Signal ``n``, assessed with ``outcome``; by default it occurred at :data:`AT`."""
    return AssessedSignal(
        signal_id=uid(1000 + n),
        assessment_id=uid(assessment if assessment is not None else 2000 + n),
        outcome=outcome,
        category=category,
        severity=severity,
        occurred_at=occurred_at,
        assessed_at=assessed_at or occurred_at + timedelta(hours=2),
    )


def closed(
    n: int,
    decision: InvestigationDecision,
    *,
    closed_at: datetime = AT,
    signals: Iterable[int] = (),
) -> InvestigationOutcome:
    """Investigation ``n`` closed with ``decision``, holding signals by their numbers."""
    return InvestigationOutcome(
        investigation_id=uid(3000 + n),
        decision=decision,
        closed_at=closed_at,
        signal_ids=tuple(uid(1000 + s) for s in signals),
    )


def facts(
    readings: Iterable[IndicatorReading] = (),
    signals: Iterable[AssessedSignal] = (),
    investigations: Iterable[InvestigationOutcome] = (),
) -> ProviderFacts:
    """The provider's facts; the newest reading per indicator counts."""
    return ProviderFacts(
        provider_id=PROVIDER,
        readings=newest_readings(readings),
        signals=tuple(signals),
        investigations=tuple(investigations),
    )
