"""Synthetic events and relations for notify's unit tests (no real providers or people)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from zicht_notify.domain import ProviderRelations
from zicht_schemas import (
    Outcome,
    Priority,
    ProviderRegisteredV1,
    ProviderRiskChangedV1,
    RiskLevel,
    SignalAssessedV1,
)

__all__ = [
    "ASSEN",
    "ASSESSMENT_EVENT_ID",
    "ENSCHEDE",
    "HENGELO",
    "KVK",
    "LINK_BASE",
    "NAME",
    "NOW",
    "PROVIDER",
    "RISK_EVENT_ID",
    "assessed",
    "registered",
    "relations",
    "risk_changed",
]

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
PROVIDER = "zp-test-001"
NAME = "Zorgboerderij De Testhoeve B.V."
KVK = "90000001"  # eight digits that fail the BSN eleven-test
LINK_BASE = "https://zicht.example/v1/providers"
ASSESSMENT_EVENT_ID = UUID("11111111-2222-4333-8444-555555555555")
RISK_EVENT_ID = UUID("66666666-7777-4888-9999-aaaaaaaaaaaa")

# Enschede and Hengelo are in Twente, Assen in Noord- en Midden-Drenthe.
ENSCHEDE, HENGELO, ASSEN = "GM0153", "GM0164", "GM0106"


def relations(
    locations: Iterable[str] = (ENSCHEDE,),
    contracting: Iterable[str] = (HENGELO,),
    *,
    provider_id: str = PROVIDER,
    name: str = NAME,
    kvk: str | None = KVK,
) -> ProviderRelations:
    """What notify knows of the synthetic provider."""
    return ProviderRelations(
        provider_id=provider_id,
        name=name,
        kvk=kvk,
        location_municipalities=frozenset(locations),
        contracting_municipalities=frozenset(contracting),
    )


def assessed(
    outcome: Outcome = Outcome.INVESTIGATE,
    priority: Priority = Priority.P1,
    municipality: str = ENSCHEDE,
    **changes: Any,
) -> SignalAssessedV1:
    """An assessed signal about the synthetic provider; ``changes`` override any field."""
    data: dict[str, Any] = {
        "assessment_id": "0b0b0b0b-0000-4000-8000-000000000001",
        "signal_id": "0c0c0c0c-0000-4000-8000-000000000002",
        "provider_id": PROVIDER,
        "source": "police",
        "law": "wmo",
        "category": "violence",
        "severity": "high",
        "vulnerable_group": "sheltered_housing",
        "municipality_code": municipality,
        "occurred_at": "2025-03-03T22:40:00Z",
        "assessed_at": "2025-03-04T07:12:10Z",
        "outcome": outcome.value,
        "strategy": "full_investigation" if outcome is Outcome.INVESTIGATE else None,
        "priority": priority.value,
        "rules_fired": [
            {
                "rule_id": "R5",
                "text_nl": "Calamiteiten en geweld worden altijd onderzocht.",
                "text_en": "Calamities and violence are always investigated.",
                "inputs": {"category": "violence", "signals_12_months": 4},
            }
        ],
        "framework_version": "2025.1",
    }
    if outcome is Outcome.BUNDLE:
        data["investigation"] = {
            "investigation_id": "0d0d0d0d-0000-4000-8000-000000000003",
            "relation": "bundled",
        }
    data.update(changes)
    return SignalAssessedV1.model_validate(data)


def risk_changed(
    level: RiskLevel, previous_level: RiskLevel | None, **changes: Any
) -> ProviderRiskChangedV1:
    """A risk evaluation of the synthetic provider; ``changes`` override any field."""
    scores = {RiskLevel.GREEN: 12.0, RiskLevel.ORANGE: 41.5, RiskLevel.RED: 72.0}
    data: dict[str, Any] = {
        "evaluation_id": "0e0e0e0e-0000-4000-8000-000000000004",
        "provider_id": PROVIDER,
        "score": scores[level],
        "previous_score": scores[previous_level] if previous_level else None,
        "level": level.value,
        "previous_level": previous_level.value if previous_level else None,
        "model_version": "2025.1",
        "contributions": [
            {
                "kind": "signal",
                "ref": "0c0c0c0c-0000-4000-8000-000000000002",
                "points": 30.0,
                "explanation_en": "criminal referral, medium severity, 3 days old",
            },
            {
                "kind": "indicator",
                "ref": "personnel_cost_ratio",
                "points": 25.0,
                "explanation_en": "personnel costs below 50% of revenue",
            },
            {
                "kind": "indicator",
                "ref": "provider_younger_than_two_years",
                "points": 10.0,
                "explanation_en": "provider founded less than two years ago",
            },
            {
                "kind": "investigation",
                "ref": "0d0d0d0d-0000-4000-8000-000000000003",
                "points": 7.0,
                "explanation_en": "improvement plan, 40 days old",
            },
        ],
        "unknown_indicators": ["diploma_fraud", "self_employed_share"],
        "evaluated_at": "2025-03-04T07:13:00Z",
        "reason": "event",
    }
    data.update(changes)
    return ProviderRiskChangedV1.model_validate(data)


def registered(**changes: Any) -> ProviderRegisteredV1:
    """A registry entry of the synthetic provider: two locations, three contracts."""
    data: dict[str, Any] = {
        "provider_id": PROVIDER,
        "name": NAME,
        "kvk": KVK,
        "active": True,
        "locations": [
            {
                "location_id": "loc-1",
                "name": "Testhoeve dagbesteding",
                "postcode": "7511AA",
                "municipality_code": ENSCHEDE,
            },
            {
                "location_id": "loc-2",
                "name": "Testhoeve wonen",
                "postcode": "7551AA",
                "municipality_code": HENGELO,
            },
        ],
        "contracting_municipalities": [ENSCHEDE, ASSEN],
        "registry_version": 3,
        "updated_at": "2025-02-20T09:30:00Z",
    }
    data.update(changes)
    return ProviderRegisteredV1.model_validate(data)
