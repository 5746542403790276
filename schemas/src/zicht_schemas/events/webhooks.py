"""What notify POSTs to subscribers' webhooks: the alert and the callback verification.

Both are the ``data`` of a CloudEvent in structured mode (``application/cloudevents+json``),
signed per the Standard Webhooks specification. They are contracts with municipalities, casus
tables and IGJ just as the Kafka events are contracts between services, so they live here,
get a published JSON Schema, a golden example and the compatibility check.

They are registered in their own registry, ``WEBHOOK_MODELS``, not in ``EVENT_MODELS``. An
``EventData`` has a topic and a partition key, and everything that reads ``EVENT_MODELS``
(``from_kafka_record``, the outbox, the consumers, the tests that send every event through a
Kafka record) may count on that. A webhook payload travelling on no topic would have to break
that promise or fake a topic; a second registry keeps "is on Kafka" a fact of the type
(:class:`~zicht_schemas.events._base.WebhookData` is no ``EventData``, so ``to_kafka_record``
refuses it) while the schema export, the compatibility check and the contract tests iterate
both registries.

An alert holds the provider's id, name and KvK, the outcome or level, the reasons, a few counts
and a link; never a pseudonym, a BSN, client data or text a partner wrote. Every field is a
code, an id, a number, a moment, or a fixed text from a policy file or scoring's generated
explanations, and the model refuses any text that fails
:func:`~zicht_schemas.privacy.carries_personal_data`.
"""

from enum import StrEnum
from typing import Annotated, ClassVar, Final
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

from zicht_schemas.codes import Category, Outcome, Priority, RiskLevel, Strategy, SubscriberKind
from zicht_schemas.events._base import WebhookData, WireModel
from zicht_schemas.privacy import carries_personal_data
from zicht_schemas.values import (
    EventType,
    Identifier,
    KvkNumber,
    Label,
    Points,
    PolicyVersion,
    ProviderId,
    RiskScore,
    RuleId,
    RuleText,
    UtcDateTime,
)

__all__ = [
    "ALERT_EVENT_TYPE",
    "VERIFICATION_EVENT_TYPE",
    "AlertCounts",
    "AlertKind",
    "AlertLink",
    "AlertProvider",
    "AlertReason",
    "AlertRecipient",
    "AlertV1",
    "ReasonSource",
    "SafeLabel",
    "SafeRef",
    "SafeText",
    "VerificationV1",
]

ALERT_EVENT_TYPE: Final = "nl.zorgtoezicht.alert.v1"
"""The CloudEvents ``type`` of a webhook carrying an :class:`AlertV1`."""

VERIFICATION_EVENT_TYPE: Final = "nl.zorgtoezicht.webhook.verification.v1"
"""The CloudEvents ``type`` of a verification delivery; receivers must not count it as an alert."""

_PURPOSE_EN: Final = (
    "Zicht checks this endpoint before sending alerts to it. It sends this delivery twice with "
    "the same webhook-id: first signed with your subscription's secret (answer 2xx), then with a "
    "wrong signature (refuse it with 4xx, as you must refuse every webhook whose signature does "
    "not verify)."
)
_PURPOSE_NL: Final = (
    "Zicht controleert dit adres voordat er meldingen naartoe gaan. Dit bericht komt twee keer "
    "met dezelfde webhook-id: eerst ondertekend met het geheim van uw abonnement (antwoord 2xx), "
    "daarna met een verkeerde handtekening (weiger dat met 4xx, zoals elke webhook waarvan de "
    "handtekening niet klopt)."
)


def _no_personal_data(value: str) -> str:
    if carries_personal_data(value):
        raise ValueError("looks like it carries a pseudonym or a BSN; alerts never do")
    return value


SafeText = Annotated[RuleText, AfterValidator(_no_personal_data)]
"""A fixed one-line text that carries no pseudonym or BSN."""

SafeLabel = Annotated[Label, AfterValidator(_no_personal_data)]
"""A registered name that carries no pseudonym or BSN."""

SafeRef = Annotated[RuleId, AfterValidator(_no_personal_data)]
"""A rule id or code that carries no pseudonym or BSN."""

AlertLink = Annotated[
    str, StringConstraints(pattern=r"^https?://[A-Za-z0-9._~:/@!$&'()*+,;=%-]+$", max_length=500)
]
"""An http(s) URL to the provider's page."""


class AlertKind(StrEnum):
    """What an alert reports."""

    ASSESSMENT = "assessment"
    """An assessed signal (triage.signal-assessed.v1)."""
    RISK_CHANGE = "risk_change"
    """A change of the provider's traffic light (scoring.provider-risk-changed.v1)."""


class ReasonSource(StrEnum):
    """Where a reason's text comes from."""

    RULE = "rule"
    """A rule of the assessment framework that fired (triage)."""
    CONTRIBUTION = "contribution"
    """A contribution to the risk score (scoring's generated explanation)."""
    ROUTING = "routing"
    """The routing rule that chose the recipient (notify)."""


class AlertProvider(WireModel):
    """The provider an alert is about: registry id, registered name and KvK, nothing else."""

    provider_id: ProviderId = Field(description="Zicht's provider id.")
    name: SafeLabel | None = Field(
        default=None,
        description="The registered name; absent when notify does not know the provider yet.",
    )
    kvk: KvkNumber | None = Field(default=None, description="Chamber of Commerce number.")


class AlertRecipient(WireModel):
    """Who the alert is for (one endpoint may serve several parties)."""

    kind: SubscriberKind = Field(description="What kind of party.")
    id: Identifier = Field(description="A CBS code, a casus-table id, igj, supervisors-<region>.")


class AlertReason(WireModel):
    """One reason, as a fixed text: a rule's, a score contribution's, or the routing's."""

    source: ReasonSource = Field(description="Where the text comes from.")
    ref: SafeRef | None = Field(
        default=None,
        description="The rule id, the indicator code, or the contribution's kind (signal, "
        "investigation, hold); never a signal or client id.",
    )
    text_en: SafeText = Field(description="The reason in English.")
    text_nl: SafeText | None = Field(
        default=None, description="The reason in Dutch, when the source has one."
    )
    points: Points | None = Field(
        default=None, description="For a score contribution: the points it adds."
    )


class AlertCounts(WireModel):
    """A few counts that put an alert in context; absent when the event does not say."""

    signals_12_months: int | None = Field(
        default=None,
        ge=0,
        description="Signals about the provider assessed in the last 12 months, counting this "
        "one, when the assessment framework looked at it.",
    )
    rules_fired: int | None = Field(
        default=None, ge=0, description="Rules of the assessment framework that fired."
    )
    signals_weighed: int | None = Field(
        default=None, ge=0, description="Signals that add points to the risk score."
    )
    indicators_flagged: int | None = Field(
        default=None, ge=0, description="Barrier-model indicators that add points."
    )
    indicators_unknown: int | None = Field(
        default=None, ge=0, description="Barrier-model indicators never reported."
    )


class AlertV1(WebhookData):
    """An alert for one recipient about one event: minimal, explainable, never personal.

    The ``data`` of a webhook CloudEvent of type ``nl.zorgtoezicht.alert.v1``. An assessment
    sets ``outcome``, ``priority``, ``category`` (and ``strategy`` for investigate); a risk
    change sets ``level``, ``previous_level`` and ``score``.
    """

    EVENT_TYPE: ClassVar[str] = ALERT_EVENT_TYPE

    alert_id: UUID = Field(description="Notify's id of the alert; one per recipient and event.")
    kind: AlertKind = Field(description="An assessment or a risk change.")
    recipient: AlertRecipient = Field(description="The party the alert is for.")
    provider: AlertProvider = Field(description="The provider the alert is about.")
    outcome: Outcome | None = Field(default=None, description="Assessment: the decision.")
    priority: Priority | None = Field(default=None, description="Assessment: P1 to P4.")
    strategy: Strategy | None = Field(
        default=None, description="Assessment: QuickScan or full investigation (investigate)."
    )
    category: Category | None = Field(
        default=None, description="Assessment: what the signal is about."
    )
    level: RiskLevel | None = Field(default=None, description="Risk change: the new level.")
    previous_level: RiskLevel | None = Field(
        default=None, description="Risk change: the level before (absent on a first score)."
    )
    score: RiskScore | None = Field(default=None, description="Risk change: the new score.")
    reasons: tuple[AlertReason, ...] = Field(
        default=(),
        description="Assessment: every rule that fired. Risk change: the largest score "
        "contributions.",
    )
    counts: AlertCounts = Field(
        default_factory=AlertCounts, description="Counts that put the alert in context."
    )
    link: AlertLink = Field(description="Where the receiver reads more about the provider.")
    routing_reason: AlertReason = Field(description="Why this recipient is told.")
    routing_version: PolicyVersion = Field(description="The routing policy version, 2025.1.")
    decision_version: PolicyVersion = Field(
        description="The assessment framework or risk model version that decided."
    )
    source_event_id: UUID = Field(description="CloudEvent id of the event that caused it.")
    source_event_type: EventType = Field(description="CloudEvent type of that event.")
    occurred_at: UtcDateTime = Field(
        description="Assessment: when the reported matter happened. Risk change: the moment "
        "the score is computed for."
    )
    decided_at: UtcDateTime = Field(
        description="When triage assessed the signal, or scoring evaluated the provider."
    )

    def about_provider(self) -> str:
        """The provider the alert is about: its CloudEvent ``subject``."""
        return self.provider.provider_id


class VerificationV1(WebhookData):
    """The ``data`` of a verification delivery: who is checked, and what is asked.

    Notify sends it when a subscription is created with the subscriber's own secret, when its
    URL or secret changes, and on ``POST /v1/subscriptions/{id}/verify``: once correctly signed
    (answer 2xx), then with the same ``webhook-id`` and a wrong signature (answer 4xx). It is
    not an alert.
    """

    EVENT_TYPE: ClassVar[str] = VERIFICATION_EVENT_TYPE

    subscription_id: UUID = Field(description="The subscription whose callback is checked.")
    subscriber_kind: SubscriberKind = Field(description="What kind of party subscribed.")
    subscriber_id: Identifier = Field(description="A CBS code, a casus-table id or igj.")
    requested_at: UtcDateTime = Field(description="When the check was asked for.")
    purpose_en: str = Field(default=_PURPOSE_EN, description="What is asked, in English.")
    purpose_nl: str = Field(default=_PURPOSE_NL, description="What is asked, in Dutch.")
