"""Webhook subscriptions: what a subscriber may ask for, and which alerts a filter lets through.

A subscription narrows the routing, never widens it: it may name only providers related to the
subscriber and only the event types notify sends. :func:`check_scope` lists every way a filter
reaches too far (the API answers 403 with them); :func:`matches` applies a filter to an alert.

Where the brief is silent:

- A filter narrows only on what an alert has: ``min_level`` applies to risk changes (an
  assessment has no level), ``categories`` to assessments (a risk change has no category).
  A subscriber that wants only one kind says so with ``event_types``.
- ``min_level`` is compared with the higher of the new and the previous level, so whoever hears
  of a rise to red with ``min_level: red`` also hears of the fall from red.
- An empty set is a valid, if silent, filter: it lets nothing through.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final

from zicht_notify.domain.alerts import AlertKind, AlertV1
from zicht_notify.domain.recipients import SUPERVISORS_PREFIX, Recipient, check_party
from zicht_schemas import (
    Category,
    ProviderRiskChangedV1,
    RiskLevel,
    SignalAssessedV1,
    SubscriberKind,
)
from zicht_schemas.regions import regions

__all__ = [
    "ALERT_SOURCE_TYPES",
    "EVENT_TYPES_REASON",
    "PROVIDERS_REASON",
    "SUBSCRIBER_REASON",
    "ScopeViolation",
    "Subscriber",
    "SubscriptionFilter",
    "check_scope",
    "matches",
]

ALERT_SOURCE_TYPES: Final = frozenset(
    {SignalAssessedV1.EVENT_TYPE, ProviderRiskChangedV1.EVENT_TYPE}
)
"""The event types notify sends alerts about; a filter may name only these."""

EVENT_TYPES_REASON: Final = (
    "notify sends alerts only about nl.zorgtoezicht.signal.assessed.v1 and "
    "nl.zorgtoezicht.provider.risk-changed.v1 events"
)
PROVIDERS_REASON: Final = (
    "a subscription may name only providers related to the subscriber: with a location in or "
    "a contract with its municipality, or related to its region"
)
SUBSCRIBER_REASON: Final = "the subscriber is not a casus table or region notify knows"


@dataclass(frozen=True, slots=True)
class Subscriber:
    """The authenticated party that owns subscriptions (same naming as a recipient)."""

    kind: SubscriberKind
    id: str

    def __post_init__(self) -> None:
        check_party(self.kind, self.id)

    def as_recipient(self) -> Recipient:
        """The same party as an alert recipient."""
        return Recipient(self.kind, self.id)


@dataclass(frozen=True, slots=True)
class SubscriptionFilter:
    """What a subscription narrows the routing to; None means no narrowing on that field."""

    event_types: frozenset[str] | None = None
    min_level: RiskLevel | None = None
    categories: frozenset[Category] | None = None
    providers: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class ScopeViolation:
    """One way a subscription reaches beyond its subscriber's scope."""

    field: str
    """The filter field at fault: ``subscriber``, ``event_types`` or ``providers``."""
    reason: str
    """A fixed explanation (one of the ``*_REASON`` constants)."""
    values: tuple[str, ...] = ()
    """The values asked for that are out of scope, sorted (the subscriber's own input)."""


def check_scope(
    subscriber: Subscriber,
    subscription: SubscriptionFilter,
    related_provider_ids: Callable[[str], bool] | Collection[str],
) -> tuple[ScopeViolation, ...]:
    """Every way ``subscription`` reaches beyond what ``subscriber`` may receive.

    Args:
        subscriber: The authenticated party.
        subscription: The filter it asks for.
        related_provider_ids: Which providers are related to the subscriber: a predicate or a
            collection of provider ids. A municipality's are those with a location in it or a
            contract with it; a casus table's and supervisors' those related to their region
            (:meth:`~zicht_notify.domain.recipients.ProviderRelations.is_related` decides
            exactly this). Not consulted for IGJ, which may name any provider.

    Returns:
        The violations, in field order; empty when the subscription is within scope.
    """
    violations: list[ScopeViolation] = []
    if not _known(subscriber):
        violations.append(ScopeViolation("subscriber", SUBSCRIBER_REASON))
    if subscription.event_types is not None:
        unknown = subscription.event_types - ALERT_SOURCE_TYPES
        if unknown:
            violations.append(
                ScopeViolation("event_types", EVENT_TYPES_REASON, tuple(sorted(unknown)))
            )
    if subscription.providers is not None and subscriber.kind is not SubscriberKind.IGJ:
        related = (
            related_provider_ids
            if callable(related_provider_ids)
            else related_provider_ids.__contains__
        )
        beyond = sorted(p for p in subscription.providers if not related(p))
        if beyond:
            violations.append(ScopeViolation("providers", PROVIDERS_REASON, tuple(beyond)))
    return tuple(violations)


def _known(subscriber: Subscriber) -> bool:
    # Municipalities outside the regions may subscribe: out-of-region signals go to them.
    catalogue = regions()
    if subscriber.kind is SubscriberKind.CASUS_TABLE:
        return catalogue.casus_table(subscriber.id) is not None
    if subscriber.kind is SubscriberKind.SUPERVISORS:
        return catalogue.region(subscriber.id.removeprefix(SUPERVISORS_PREFIX)) is not None
    return True


def matches(subscription: SubscriptionFilter, alert: AlertV1) -> bool:
    """Whether ``alert`` passes ``subscription`` (narrowing only; see the module docstring)."""
    if (
        subscription.event_types is not None
        and alert.source_event_type not in subscription.event_types
    ):
        return False
    if (
        subscription.providers is not None
        and alert.provider.provider_id not in subscription.providers
    ):
        return False
    if (
        subscription.categories is not None
        and alert.category is not None
        and alert.category not in subscription.categories
    ):
        return False
    if subscription.min_level is not None and alert.kind is AlertKind.RISK_CHANGE:
        levels = [level for level in (alert.level, alert.previous_level) if level is not None]
        if RiskLevel.highest(levels).rank < subscription.min_level.rank:
            return False
    return True
