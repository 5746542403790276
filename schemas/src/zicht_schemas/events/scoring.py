"""Events scoring publishes: a provider's risk score and traffic light (barrièremodel)."""

from typing import ClassVar, Self
from uuid import UUID

from pydantic import Field, model_validator

from zicht_schemas import topics
from zicht_schemas.codes import ContributionKind, IndicatorCode, RiskChangeReason, RiskLevel
from zicht_schemas.events._base import EventData, WireModel, unique
from zicht_schemas.values import (
    IDENTIFIER_PATTERN,
    Explanation,
    Points,
    PolicyVersion,
    ProviderId,
    RiskScore,
    UtcDateTime,
)

__all__ = ["MAX_SIGNAL_CONTRIBUTIONS", "Contribution", "ProviderRiskChangedV1"]

MAX_SIGNAL_CONTRIBUTIONS = 50
"""How many signal contributions a risk change lists at most (the largest). A provider with
years of signals would otherwise make an event larger than the broker takes; scoring's risk
register lists every contribution."""


class Contribution(WireModel):
    """What one indicator, signal, investigation or hold adds to a provider's score."""

    kind: ContributionKind = Field(description="What the points come from.")
    ref: str = Field(
        pattern=IDENTIFIER_PATTERN,
        description="What exactly: the indicator code for indicator, the signal id for "
        "signal, the investigation id for investigation and hold.",
    )
    points: Points = Field(
        description="Points added (negative when taken away, e.g. no_findings), after decay."
    )
    explanation_en: Explanation = Field(
        description="One line in English on why (e.g. 'personnel costs below 65% of revenue'); "
        "never client data."
    )


class ProviderRiskChangedV1(EventData):
    """A provider's risk was evaluated: score, traffic light (stoplicht) and why.

    Key: provider id. The same events, model version and moment always give the same score.
    """

    EVENT_TYPE: ClassVar[str] = "nl.zorgtoezicht.provider.risk-changed.v1"
    TOPIC: ClassVar[str] = topics.PROVIDER_RISK_CHANGED

    evaluation_id: UUID = Field(description="Id of this evaluation.")
    provider_id: ProviderId = Field(description="Zicht's provider id.")
    score: RiskScore = Field(description="The score, 0 to 100, one decimal.")
    previous_score: RiskScore | None = Field(
        default=None, description="The score before; absent on the provider's first evaluation."
    )
    level: RiskLevel = Field(description="The traffic light after hysteresis.")
    previous_level: RiskLevel | None = Field(
        default=None, description="The level before; absent on the provider's first evaluation."
    )
    model_version: PolicyVersion = Field(description="The risk model version, e.g. 2025.1.")
    contributions: tuple[Contribution, ...] = Field(
        default=(),
        description="The non-zero contributions to the score, largest first: every indicator, "
        "investigation and hold, and the largest 50 signals (see signals_left_out).",
    )
    signals_left_out: int = Field(
        default=0,
        ge=0,
        description="How many smaller non-zero signal contributions are not listed in "
        "contributions (only the largest 50 are); scoring's risk register lists them all.",
    )
    unknown_indicators: tuple[IndicatorCode, ...] = Field(
        default=(),
        description="Indicators never reported for the provider; they count as green.",
    )
    evaluated_at: UtcDateTime = Field(
        description="The moment the score is computed for (decay is relative to it) (UTC)."
    )
    reason: RiskChangeReason = Field(description="Why the provider was evaluated again.")
    cause_event_id: UUID | None = Field(
        default=None,
        description="CloudEvent id of the event that caused the evaluation; absent for decay.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        unique(self.unknown_indicators, "unknown_indicators")
        if (self.previous_score is None) != (self.previous_level is None):
            raise ValueError("previous_score and previous_level are set together")
        return self
