"""Building the alert a receiver gets: minimal content, from one event for one recipient.

The alert model (:class:`~zicht_schemas.AlertV1`, the ``data`` of a webhook CloudEvent of type
``nl.zorgtoezicht.alert.v1``) is a published contract and lives in ``zicht_schemas``; it is
re-exported here so notify's code keeps its names. This module is the behaviour: which event
fields become which alert fields, which texts are withheld, and the ids.

An alert holds the provider's id, name and KvK, the outcome or level, the reasons, a few counts
and a link; never a pseudonym, a BSN, client data or text a partner wrote. Texts copied from
upstream pass :func:`~zicht_schemas.privacy.carries_personal_data` or are withheld, and the
model refuses any text that fails it.

Ids are deterministic: one alert per subscription per source event (per recipient when it has
no subscription), so a redelivered event yields the same alert id and the same ``webhook-id``.
"""

from __future__ import annotations

import re
import uuid
from typing import Final
from urllib.parse import quote
from uuid import UUID

from zicht_notify.domain.recipients import ProviderRelations, Recipient
from zicht_notify.domain.routing import Route, RoutedEvent
from zicht_schemas import (
    ALERT_EVENT_TYPE,
    AlertCounts,
    AlertKind,
    AlertProvider,
    AlertReason,
    AlertRecipient,
    AlertV1,
    ContributionKind,
    IndicatorCode,
    ProviderRiskChangedV1,
    ReasonSource,
    SignalAssessedV1,
    carries_personal_data,
)
from zicht_schemas.events.notify import WebhookId

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

TOP_CONTRIBUTIONS: Final = 3
"""How many score contributions (largest first, by size) a risk alert explains."""

_ALERT_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:zicht:notify:alert")
_SIGNALS_12_MONTHS: Final = "signals_12_months"
_INDICATOR_CODES: Final = frozenset(code.value for code in IndicatorCode)
_LINK_BASE: Final = re.compile(r"^https?://[A-Za-z0-9._~:/@!$&'()*+,;=%-]+$")

_WITHHELD_EN: Final = "This reason is withheld: its text looked like personal data."
_WITHHELD_NL: Final = "Deze reden is weggelaten: de tekst leek persoonsgegevens te bevatten."


def alert_id_for(
    source_event_id: UUID, recipient: Recipient, subscription_id: UUID | None = None
) -> UUID:
    """The alert's id: the same for the same source event, recipient and subscription (UUID 5).

    Each subscription of a recipient gets its own alert (and ``webhook-id``); without a
    subscription (an undeliverable record) the id is the recipient's alone.
    """
    name = f"{source_event_id}/{recipient.kind.value}/{recipient.id}"
    if subscription_id is not None:
        name = f"{name}/{subscription_id}"
    return uuid.uuid5(_ALERT_NAMESPACE, name)


def webhook_id_for(alert_id: UUID) -> WebhookId:
    """The Standard Webhooks ``webhook-id`` of an alert: ``msg_<alert id hex>``."""
    return f"msg_{alert_id.hex}"


def provider_link(link_base: str, provider_id: str) -> str:
    """The link to a provider's risk story: ``<link_base>/<provider id>/risk``.

    ``link_base`` is scoring's ``/v1/providers``; scoring answers ``GET
    /v1/providers/{id}/risk``, not the bare provider path.

    Raises:
        ValueError: When ``link_base`` is not an http(s) URL without query or fragment.
    """
    base = link_base.rstrip("/")
    if not _LINK_BASE.fullmatch(base) or "?" in base or "#" in base:
        raise ValueError("link_base must be an http(s) URL without query or fragment")
    return f"{base}/{quote(provider_id, safe='')}/risk"


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
        link_base: Scoring's ``/v1/providers`` URL; ``/<provider id>/risk`` is appended.
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
            signals_weighed=event.signals_left_out
            + sum(1 for c in contributions if c.kind is ContributionKind.SIGNAL),
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
