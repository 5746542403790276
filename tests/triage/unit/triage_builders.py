"""Synthetic signals and contexts for triage's unit tests: no real people or providers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from uuid import UUID

from zicht_schemas import (
    Category,
    CrimeIndicator,
    InvestigationLink,
    Law,
    ProviderMatch,
    RuleFired,
    Severity,
    Shortcoming,
    ShortcomingFinding,
    SignalAssessedV1,
    SignalLocation,
    SignalProvider,
    SignalReceivedV1,
    Source,
    VulnerableGroup,
)
from zicht_triage.domain import AssessmentContext, Decision, SignalFacts

__all__ = [
    "OPEN_INVESTIGATION",
    "assessed_event",
    "context",
    "default_framework_text",
    "facts",
    "received_signal",
]

OPEN_INVESTIGATION = UUID("00000000-0000-4000-8000-00000000cafe")
_MOMENT = datetime(2025, 3, 4, 10, 15, tzinfo=UTC)


def facts(
    *,
    law: Law = Law.WMO,
    category: Category = Category.OTHER,
    severity: Severity = Severity.LOW,
    source: Source = Source.RESIDENT,
    vulnerable_group: VulnerableGroup = VulnerableGroup.NONE,
    crime_indicators: Sequence[CrimeIndicator] = (),
    fraud_suspected: bool = False,
    administrative_error: bool = False,
    shortcomings: Sequence[Shortcoming] = (),
) -> SignalFacts:
    """A Wmo signal of low severity about 'other', unless told otherwise."""
    return SignalFacts(
        law=law,
        category=category,
        severity=severity,
        source=source,
        vulnerable_group=vulnerable_group,
        crime_indicators=tuple(crime_indicators),
        fraud_suspected=fraud_suspected,
        administrative_error=administrative_error,
        shortcomings=tuple(shortcomings),
    )


def context(
    *, related: bool = True, open_investigation: UUID | None = None, prior: int = 0
) -> AssessmentContext:
    """A provider of the region without an open investigation or earlier signals by default."""
    return AssessmentContext(
        related_to_region=related,
        open_investigation_id=open_investigation,
        prior_signals_12_months=prior,
    )


def default_framework_text() -> str:
    """The shipped framework file's text."""
    resource = resources.files("zicht_triage").joinpath("frameworks/2025.1.yaml")
    return resource.read_text(encoding="utf-8")


def received_signal(**overrides: object) -> SignalReceivedV1:
    """A synthetic received signal (fictitious provider, no clients)."""
    data: dict[str, object] = {
        "signal_id": UUID("00000000-0000-4000-8000-000000000001"),
        "submission_id": UUID("00000000-0000-4000-8000-000000000002"),
        "source": Source.POLICE,
        "partner_id": "police-test",
        "partner_reference": "PT-2025/0001",
        "received_at": _MOMENT,
        "occurred_at": _MOMENT,
        "provider": SignalProvider(
            provider_id="prov-test-1",
            name="Zorg Test B.V.",
            kvk="90000001",
            matched_by=ProviderMatch.KVK,
        ),
        "location": SignalLocation(municipality_code="GM0153"),
        "law": Law.WMO,
        "category": Category.QUALITY,
        "severity": Severity.MEDIUM,
        "vulnerable_group": VulnerableGroup.SHELTERED_HOUSING,
        "crime_indicators": (CrimeIndicator.RAID, CrimeIndicator.DRUGS),
        "fraud_suspected": True,
        "administrative_error": True,
        "shortcomings": (
            ShortcomingFinding(code=Shortcoming.SAFETY, kind=Shortcoming.SAFETY.kind),
            ShortcomingFinding(code=Shortcoming.INSURANCE, kind=Shortcoming.INSURANCE.kind),
        ),
    }
    data.update(overrides)
    return SignalReceivedV1.model_validate(data)


def assessed_event(signal: SignalFacts, decision: Decision) -> SignalAssessedV1:
    """The event the service would publish for ``decision``, validated from plain JSON data.

    Everything goes through JSON so nothing the engine built skips the contract's validation.
    """
    link = None
    if decision.investigation is not None:
        link = InvestigationLink(
            investigation_id=decision.investigation.investigation_id or uuid.uuid4(),
            relation=decision.investigation.kind.relation,
        )
    data = {
        "assessment_id": str(uuid.uuid4()),
        "signal_id": str(uuid.uuid4()),
        "provider_id": "prov-test-1",
        "source": signal.source.value,
        "law": signal.law.value,
        "category": signal.category.value,
        "severity": signal.severity.value,
        "vulnerable_group": signal.vulnerable_group.value,
        "municipality_code": "GM0153",
        "occurred_at": "2025-03-04T10:15:00Z",
        "assessed_at": "2025-03-04T10:16:00Z",
        "outcome": decision.outcome.value,
        "strategy": decision.strategy.value if decision.strategy else None,
        "priority": decision.priority.value,
        "advice": decision.advice.value if decision.advice else None,
        "rules_fired": [_plain(rule) for rule in decision.rules_fired],
        "framework_version": decision.framework_version,
        "investigation": link.model_dump(mode="json") if link else None,
    }
    return SignalAssessedV1.model_validate_json(
        SignalAssessedV1.model_validate(data).model_dump_json()
    )


def _plain(rule: RuleFired) -> dict[str, object]:
    return {
        "rule_id": rule.rule_id,
        "text_nl": rule.text_nl,
        "text_en": rule.text_en,
        "inputs": {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in rule.inputs.items()
        },
    }
