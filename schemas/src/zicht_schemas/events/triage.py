"""Events triage publishes: assessed signals and changes to investigations."""

from typing import Annotated, ClassVar, Self
from uuid import UUID

from pydantic import Field, FiniteFloat, StringConstraints, model_validator

from zicht_schemas import topics
from zicht_schemas.codes import (
    AdviceTo,
    Category,
    InvestigationChange,
    InvestigationDecision,
    InvestigationRelation,
    Law,
    Outcome,
    Priority,
    Severity,
    Source,
    Strategy,
    VulnerableGroup,
)
from zicht_schemas.events._base import EventData, WireModel, unique
from zicht_schemas.values import (
    Identifier,
    MunicipalityCode,
    PolicyVersion,
    ProviderId,
    RuleId,
    RuleInputName,
    RuleText,
    UtcDateTime,
)

__all__ = [
    "InvestigationChangedV1",
    "InvestigationLink",
    "Reassessment",
    "RuleFired",
    "RuleInputToken",
    "RuleInputValue",
    "SignalAssessedV1",
]

RuleInputToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/+-]{1,128}$")]
"""A textual rule input: a code, id, version or date; a token, never free text."""

RuleInputValue = bool | int | FiniteFloat | RuleInputToken | tuple[RuleInputToken, ...]
"""What a rule looked at: a flag, a count, a number, a code, or a list of codes."""


class RuleFired(WireModel):
    """A rule of the assessment framework that fired, with the inputs that made it fire."""

    rule_id: RuleId = Field(description="The rule's id in the framework file, e.g. R4.")
    text_nl: RuleText = Field(description="The rule's reason in Dutch (motivering).")
    text_en: RuleText = Field(description="The rule's reason in English.")
    inputs: dict[RuleInputName, RuleInputValue] = Field(
        default_factory=dict,
        description="Every input that made the rule fire, by name (e.g. law: wlz, "
        "signals_12_months: 3); values are flags, numbers, codes or lists of codes.",
    )


class InvestigationLink(WireModel):
    """How an assessed signal relates to an investigation of its provider."""

    investigation_id: UUID = Field(description="The investigation (onderzoek).")
    relation: InvestigationRelation = Field(
        description="Opened by this signal, bundled with it for information, or linked to it."
    )


class Reassessment(WireModel):
    """What an earlier assessment of the same signal said, when this one replaces it."""

    previous_assessment_id: UUID = Field(description="The assessment this one replaces.")
    previous_framework_version: PolicyVersion = Field(
        description="The framework version that took the earlier decision."
    )
    previous_outcome: Outcome = Field(description="The earlier outcome.")


class SignalAssessedV1(EventData):
    """A signal weighed against the assessment framework (afwegingskader), with its reasons.

    Key: provider id. Every decision names the framework version and every rule that fired, so
    it can be explained (motivering) and reproduced.
    """

    EVENT_TYPE: ClassVar[str] = "nl.zorgtoezicht.signal.assessed.v1"
    TOPIC: ClassVar[str] = topics.SIGNAL_ASSESSED

    assessment_id: UUID = Field(description="Id of this assessment.")
    signal_id: UUID = Field(description="The signal assessed (from signal.received).")
    provider_id: ProviderId = Field(description="Zicht's provider id.")
    source: Source = Field(description="Who reported the signal.")
    law: Law = Field(description="The law under which the care is provided.")
    category: Category = Field(description="What the signal is about.")
    severity: Severity = Field(description="How serious the matter is.")
    vulnerable_group: VulnerableGroup = Field(description="The vulnerable group involved, or none.")
    municipality_code: MunicipalityCode = Field(
        description="CBS code of the municipality of the location concerned."
    )
    occurred_at: UtcDateTime = Field(description="When the reported matter happened (UTC).")
    assessed_at: UtcDateTime = Field(description="When triage took this decision (UTC).")
    outcome: Outcome = Field(description="The decision (onderzoekwaardig, ter kennisname, ...).")
    strategy: Strategy | None = Field(
        default=None,
        description="QuickScan or full investigation; set exactly when the outcome is investigate.",
    )
    priority: Priority = Field(description="Urgency, P1 (most urgent) to P4.")
    advice: AdviceTo | None = Field(
        default=None, description="Who triage advises with this decision (advies), if anyone."
    )
    rules_fired: tuple[RuleFired, ...] = Field(
        min_length=1, description="Every rule that fired, in evaluation order; at least one."
    )
    framework_version: PolicyVersion = Field(
        description="The assessment framework version that decided, e.g. 2025.1."
    )
    investigation: InvestigationLink | None = Field(
        default=None,
        description="The investigation this signal opened, was bundled with or linked to.",
    )
    reassessment: Reassessment | None = Field(
        default=None,
        description="Set when this assessment replaces an earlier one (replay under a new "
        "framework version).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.outcome is Outcome.INVESTIGATE) != (self.strategy is not None):
            raise ValueError("strategy is set exactly when the outcome is investigate")
        relation = self.investigation.relation if self.investigation else None
        if (self.outcome is Outcome.BUNDLE) != (relation is InvestigationRelation.BUNDLED):
            raise ValueError("a bundle outcome goes with exactly a bundled investigation link")
        if relation is InvestigationRelation.OPENED and self.outcome is not Outcome.INVESTIGATE:
            raise ValueError("only an investigate outcome opens an investigation")
        return self


class InvestigationChangedV1(EventData):
    """An investigation (onderzoek) was opened, got a signal, or was closed with a decision.

    Key: provider id.
    """

    EVENT_TYPE: ClassVar[str] = "nl.zorgtoezicht.investigation.changed.v1"
    TOPIC: ClassVar[str] = topics.INVESTIGATION_CHANGED

    change_id: UUID = Field(description="Id of this change.")
    investigation_id: UUID = Field(description="The investigation.")
    provider_id: ProviderId = Field(description="Zicht's provider id.")
    change: InvestigationChange = Field(description="What happened.")
    decision: InvestigationDecision | None = Field(
        default=None, description="The closing decision (besluit); set exactly when closed."
    )
    signal_ids: tuple[UUID, ...] = Field(
        default=(),
        description="The signals this change concerns: the opening signal, the signal "
        "bundled or linked, or on close every signal of the investigation; no repeats.",
    )
    opened_at: UtcDateTime = Field(description="When the investigation was opened (UTC).")
    closed_at: UtcDateTime | None = Field(
        default=None, description="When it was closed (UTC); set exactly when closed."
    )
    changed_at: UtcDateTime = Field(description="When this change happened (UTC).")
    changed_by: Identifier | None = Field(
        default=None,
        description="The operator or supervisor id (never a name) who made the change; "
        "absent when triage made it automatically.",
    )
    framework_version: PolicyVersion = Field(
        description="The assessment framework version in force for this change."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        unique(self.signal_ids, "signal_ids")
        closed = self.change is InvestigationChange.CLOSED
        if closed != (self.decision is not None) or closed != (self.closed_at is not None):
            raise ValueError("decision and closed_at are set exactly when the change is closed")
        if self.closed_at is not None and self.closed_at < self.opened_at:
            raise ValueError("closed_at must not be before opened_at")
        return self
