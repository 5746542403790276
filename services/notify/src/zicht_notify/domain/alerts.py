"""The alert a receiver gets: minimal content, built from one event for one recipient.

An alert (the ``data`` of a webhook CloudEvent of type ``nl.zorgtoezicht.alert.v1``) holds the
provider's id, name and KvK, the outcome or level, the reasons, a few counts and a link; never
a pseudonym, a BSN, client data or text a partner wrote. Every field is a code, an id, a number,
a moment, or a fixed text from a policy file or scoring's generated explanations; texts copied
from upstream pass :func:`~zicht_notify.domain.privacy.carries_personal_data` or are withheld,
and the model refuses any text that fails it.

Ids are deterministic: one alert per recipient per source event, so a redelivered event yields
the same alert id and the same ``webhook-id``.
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Annotated, ClassVar, Final
from urllib.parse import quote
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

from zicht_notify.domain.privacy import carries_personal_data
from zicht_notify.domain.recipients import ProviderRelations, Recipient
from zicht_notify.domain.routing import Route, RoutedEvent
from zicht_schemas import (
    Category,
    ContributionKind,
    IndicatorCode,
    Outcome,
    Priority,
    ProviderRiskChangedV1,
    RiskLevel,
    SignalAssessedV1,
    Strategy,
    SubscriberKind,
    WireModel,
)
from zicht_schemas.events.notify import WebhookId
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
    "TOP_CONTRIBUTIONS",
    "AlertCounts",
    "AlertKind",
    "AlertProvider",
    "AlertReason",
    "AlertRecipient",
    "AlertV1",
    "ReasonSource",
    "alert_id_for",
    "build_alert",
    "provider_link",
    "webhook_id_for",
]

ALERT_EVENT_TYPE: Final = "nl.zorgtoezicht.alert.v1"
"""The CloudEvents ``type`` of a webhook carrying an :class:`AlertV1`."""

TOP_CONTRIBUTIONS: Final = 3
"""How many score contributions (largest first, by size) a risk alert explains."""

_ALERT_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:zicht:notify:alert")
_SIGNALS_12_MONTHS: Final = "signals_12_months"
_INDICATOR_CODES: Final = frozenset(code.value for code in IndicatorCode)
_LINK_BASE: Final = re.compile(r"^https?://[A-Za-z0-9._~:/@!$&'()*+,;=%-]+$")

_WITHHELD_EN: Final = "This reason is withheld: its text looked like personal data."
_WITHHELD_NL: Final = "Deze reden is weggelaten: de tekst leek persoonsgegevens te bevatten."


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


class AlertV1(WireModel):
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


def alert_id_for(source_event_id: UUID, recipient: Recipient) -> UUID:
    """The alert's id: the same for the same source event and recipient (UUID 5)."""
    return uuid.uuid5(_ALERT_NAMESPACE, f"{source_event_id}/{recipient.kind.value}/{recipient.id}")


def webhook_id_for(alert_id: UUID) -> WebhookId:
    """The Standard Webhooks ``webhook-id`` of an alert: ``msg_<alert id hex>``."""
    return f"msg_{alert_id.hex}"


def provider_link(link_base: str, provider_id: str) -> str:
    """The link to a provider's page: ``<link_base>/<provider id>``.

    Raises:
        ValueError: When ``link_base`` is not an http(s) URL without query or fragment.
    """
    base = link_base.rstrip("/")
    if not _LINK_BASE.fullmatch(base) or "?" in base or "#" in base:
        raise ValueError("link_base must be an http(s) URL without query or fragment")
    return f"{base}/{quote(provider_id, safe='')}"


def build_alert(
    event: RoutedEvent,
    relations: ProviderRelations | None,
    route: Route,
    *,
    alert_id: UUID,
    link_base: str,
    source_event_id: UUID,
    source_event_type: str | None = None,
) -> AlertV1:
    """The alert for one route of one event.

    Args:
        event: The assessed signal or risk change.
        relations: What notify knows of the provider (name, KvK); None when it does not.
        route: The recipient, rule and reason :func:`~zicht_notify.domain.routing.route` chose.
        alert_id: From :func:`alert_id_for`.
        link_base: Base URL of provider pages; the provider id is appended.
        source_event_id: The CloudEvent id of ``event``.
        source_event_type: Its CloudEvent type; by default the event model's.

    Returns:
        The alert. Texts that look like they carry personal data are withheld: a provider
        name becomes absent, a reason text a fixed notice.

    Raises:
        ValueError: When ``relations`` are about another provider, or ``link_base`` is no URL.
    """
    if relations is not None and relations.provider_id != event.provider_id:
        raise ValueError("relations are about another provider than the event")
    name = relations.name if relations is not None else None
    common = {
        "alert_id": alert_id,
        "recipient": AlertRecipient(kind=route.recipient.kind, id=route.recipient.id),
        "provider": AlertProvider(
            provider_id=event.provider_id,
            name=name if name is not None and not carries_personal_data(name) else None,
            kvk=relations.kvk if relations is not None else None,
        ),
        "link": provider_link(link_base, event.provider_id),
        "routing_reason": _reason(
            ReasonSource.ROUTING, route.rule_id, route.reason_en, route.reason_nl
        ),
        "routing_version": route.policy_version,
        "source_event_id": source_event_id,
        "source_event_type": source_event_type or type(event).EVENT_TYPE,
    }
    if isinstance(event, SignalAssessedV1):
        return AlertV1.model_validate({**common, **_assessment(event)})
    return AlertV1.model_validate({**common, **_risk_change(event)})


def _assessment(event: SignalAssessedV1) -> dict[str, object]:
    return {
        "kind": AlertKind.ASSESSMENT,
        "outcome": event.outcome,
        "priority": event.priority,
        "strategy": event.strategy,
        "category": event.category,
        "reasons": tuple(
            _reason(ReasonSource.RULE, rule.rule_id, rule.text_en, rule.text_nl)
            for rule in event.rules_fired
        ),
        "counts": AlertCounts(
            signals_12_months=_signals_12_months(event), rules_fired=len(event.rules_fired)
        ),
        "decision_version": event.framework_version,
        "occurred_at": event.occurred_at,
        "decided_at": event.assessed_at,
    }


def _risk_change(event: ProviderRiskChangedV1) -> dict[str, object]:
    contributions = event.contributions
    largest = sorted(contributions, key=lambda c: -abs(c.points))[:TOP_CONTRIBUTIONS]
    return {
        "kind": AlertKind.RISK_CHANGE,
        "level": event.level,
        "previous_level": event.previous_level,
        "score": event.score,
        "reasons": tuple(
            _reason(
                ReasonSource.CONTRIBUTION,
                _contribution_ref(c.kind, c.ref),
                c.explanation_en,
                None,
                points=c.points,
            )
            for c in largest
        ),
        "counts": AlertCounts(
            signals_weighed=sum(1 for c in contributions if c.kind is ContributionKind.SIGNAL),
            indicators_flagged=sum(
                1 for c in contributions if c.kind is ContributionKind.INDICATOR and c.points > 0
            ),
            indicators_unknown=len(event.unknown_indicators),
        ),
        "decision_version": event.model_version,
        "occurred_at": event.evaluated_at,
        "decided_at": event.evaluated_at,
    }


def _contribution_ref(kind: ContributionKind, ref: str) -> str:
    # Only an indicator's code is worth naming; a signal or investigation id means nothing to
    # a receiver and is not theirs to correlate.
    if kind is ContributionKind.INDICATOR and ref in _INDICATOR_CODES:
        return ref
    return kind.value


def _reason(
    source: ReasonSource,
    ref: str,
    text_en: str,
    text_nl: str | None,
    *,
    points: float | None = None,
) -> AlertReason:
    withheld = carries_personal_data(text_en) or (
        text_nl is not None and carries_personal_data(text_nl)
    )
    return AlertReason(
        source=source,
        ref=None if carries_personal_data(ref) else ref,
        text_en=_WITHHELD_EN if withheld else text_en,
        text_nl=_WITHHELD_NL if withheld else text_nl,
        points=points,
    )


def _signals_12_months(event: SignalAssessedV1) -> int | None:
    for rule in event.rules_fired:
        value = rule.inputs.get(_SIGNALS_12_MONTHS)
        # bool is an int in Python; a flag is not a count.
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None
