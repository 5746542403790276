from __future__ import annotations

import pytest

from notify.unit.notify_builders import (
    ASSESSMENT_EVENT_ID,
    ENSCHEDE,
    LINK_BASE,
    PROVIDER,
    RISK_EVENT_ID,
    assessed,
    relations,
    risk_changed,
)
from zicht_notify.domain import (
    ALERT_SOURCE_TYPES,
    AlertV1,
    ProviderRelations,
    Recipient,
    ScopeViolation,
    Subscriber,
    SubscriptionFilter,
    alert_id_for,
    build_alert,
    check_scope,
    default_routing,
    matches,
    route,
)
from zicht_schemas import (
    Category,
    Outcome,
    ProviderRiskChangedV1,
    RiskLevel,
    SignalAssessedV1,
    SubscriberKind,
)
from zicht_schemas.events.notify import AlertDeliveredV1

pytestmark = pytest.mark.unit

ASSESSED = SignalAssessedV1.EVENT_TYPE
RISK = ProviderRiskChangedV1.EVENT_TYPE

# Two synthetic providers: one in Enschede, one in Assen (Noord- en Midden-Drenthe).
REGISTRY = {
    "zp-enschede": relations(provider_id="zp-enschede", locations=(ENSCHEDE,), contracting=()),
    "zp-assen": relations(provider_id="zp-assen", locations=("GM0106",), contracting=()),
}


def related_to(subscriber: Subscriber) -> set[str]:
    return {pid for pid, known in REGISTRY.items() if known.is_related(subscriber.as_recipient())}


def test_the_alert_source_types_are_the_two_events_notify_routes() -> None:
    assert frozenset({ASSESSED, RISK}) == ALERT_SOURCE_TYPES


@pytest.mark.parametrize(
    ("subscriber", "providers"),
    [
        (Subscriber(SubscriberKind.MUNICIPALITY, ENSCHEDE), {"zp-enschede"}),
        (Subscriber(SubscriberKind.CASUS_TABLE, "riec-on-zorgfraude"), {"zp-enschede"}),
        (Subscriber(SubscriberKind.SUPERVISORS, "supervisors-nmd"), {"zp-assen"}),
        (Subscriber(SubscriberKind.IGJ, "igj"), {"zp-enschede", "zp-assen"}),
    ],
)
def test_a_subscription_may_name_the_providers_related_to_its_subscriber(
    subscriber: Subscriber, providers: set[str]
) -> None:
    wanted = SubscriptionFilter(
        event_types=frozenset({ASSESSED}),
        min_level=RiskLevel.ORANGE,
        categories=frozenset({Category.CALAMITY}),
        providers=frozenset(providers),
    )

    assert check_scope(subscriber, wanted, related_to(subscriber)) == ()


@pytest.mark.parametrize(
    "subscriber",
    [
        Subscriber(SubscriberKind.MUNICIPALITY, ENSCHEDE),
        Subscriber(SubscriberKind.MUNICIPALITY, "GM0141"),  # Almelo: no relation at all
        Subscriber(SubscriberKind.CASUS_TABLE, "riec-on-zorgfraude"),
        Subscriber(SubscriberKind.SUPERVISORS, "supervisors-twente"),
    ],
)
def test_naming_a_provider_beyond_the_subscribers_relations_is_a_violation(
    subscriber: Subscriber,
) -> None:
    wanted = SubscriptionFilter(providers=frozenset({"zp-assen", "zp-unknown"}))

    violations = check_scope(subscriber, wanted, related_to(subscriber))

    assert violations == (
        ScopeViolation(
            field="providers",
            reason=violations[0].reason,
            values=("zp-assen", "zp-unknown"),
        ),
    )
    assert "related to the subscriber" in violations[0].reason


def test_the_relation_may_be_given_as_a_predicate() -> None:
    subscriber = Subscriber(SubscriberKind.MUNICIPALITY, ENSCHEDE)
    wanted = SubscriptionFilter(providers=frozenset({"zp-enschede", "zp-assen"}))

    def related(provider_id: str) -> bool:
        known: ProviderRelations | None = REGISTRY.get(provider_id)
        return known is not None and known.is_related(subscriber.as_recipient())

    violations = check_scope(subscriber, wanted, related)

    assert [(v.field, v.values) for v in violations] == [("providers", ("zp-assen",))]


def test_an_event_type_notify_does_not_send_is_a_violation() -> None:
    subscriber = Subscriber(SubscriberKind.MUNICIPALITY, ENSCHEDE)
    wanted = SubscriptionFilter(event_types=frozenset({ASSESSED, AlertDeliveredV1.EVENT_TYPE}))

    violations = check_scope(subscriber, wanted, set())

    assert [(v.field, v.values) for v in violations] == [
        ("event_types", (AlertDeliveredV1.EVENT_TYPE,))
    ]


@pytest.mark.parametrize(
    "subscriber",
    [
        Subscriber(SubscriberKind.CASUS_TABLE, "no-such-table"),
        Subscriber(SubscriberKind.SUPERVISORS, "supervisors-atlantis"),
    ],
)
def test_a_casus_table_or_region_notify_does_not_know_is_a_violation(
    subscriber: Subscriber,
) -> None:
    violations = check_scope(subscriber, SubscriptionFilter(), set())

    assert [v.field for v in violations] == ["subscriber"]


def test_every_violation_is_reported_at_once_with_a_fixed_reason() -> None:
    subscriber = Subscriber(SubscriberKind.CASUS_TABLE, "no-such-table")
    wanted = SubscriptionFilter(
        event_types=frozenset({"nl.example.other.v1"}), providers=frozenset({"zp-a"})
    )
    other = SubscriptionFilter(
        event_types=frozenset({"nl.example.else.v1"}), providers=frozenset({"zp-b"})
    )

    first = check_scope(subscriber, wanted, set())
    second = check_scope(subscriber, other, set())

    assert [v.field for v in first] == ["subscriber", "event_types", "providers"]
    assert [v.reason for v in first] == [v.reason for v in second]


def test_a_municipality_outside_the_regions_may_subscribe() -> None:
    subscriber = Subscriber(SubscriberKind.MUNICIPALITY, "GM0344")

    assert check_scope(subscriber, SubscriptionFilter(), set()) == ()


@pytest.mark.parametrize(
    ("kind", "party_id"),
    [(SubscriberKind.MUNICIPALITY, "Enschede"), (SubscriberKind.IGJ, "inspectie")],
)
def test_a_subscriber_that_names_no_party_is_refused(kind: SubscriberKind, party_id: str) -> None:
    with pytest.raises(ValueError, match="named"):
        Subscriber(kind, party_id)


# --- matching alerts -------------------------------------------------------------------------


def assessment_alert(category: Category = Category.VIOLENCE) -> AlertV1:
    event = assessed(Outcome.INVESTIGATE, category=category.value)
    first = route(event, relations(), default_routing())[0]
    return build_alert(
        event,
        relations(),
        first,
        alert_id=alert_id_for(ASSESSMENT_EVENT_ID, first.recipient),
        link_base=LINK_BASE,
        source_event_id=ASSESSMENT_EVENT_ID,
    )


def risk_alert(level: RiskLevel, previous: RiskLevel | None) -> AlertV1:
    event = risk_changed(level, previous)
    told = frozenset({Recipient.municipality(ENSCHEDE)})
    first = route(event, relations(), default_routing(), told)[0]
    return build_alert(
        event,
        relations(),
        first,
        alert_id=alert_id_for(RISK_EVENT_ID, first.recipient),
        link_base=LINK_BASE,
        source_event_id=RISK_EVENT_ID,
    )


@pytest.mark.parametrize(
    ("wanted", "alert", "passes"),
    [
        pytest.param(SubscriptionFilter(), assessment_alert(), True, id="no-filter"),
        pytest.param(
            SubscriptionFilter(event_types=frozenset({ASSESSED})),
            assessment_alert(),
            True,
            id="event-type-kept",
        ),
        pytest.param(
            SubscriptionFilter(event_types=frozenset({RISK})),
            assessment_alert(),
            False,
            id="event-type-narrowed",
        ),
        pytest.param(
            SubscriptionFilter(event_types=frozenset()),
            assessment_alert(),
            False,
            id="empty-event-types",
        ),
        pytest.param(
            SubscriptionFilter(providers=frozenset({PROVIDER})),
            assessment_alert(),
            True,
            id="provider-kept",
        ),
        pytest.param(
            SubscriptionFilter(providers=frozenset({"zp-other"})),
            assessment_alert(),
            False,
            id="provider-narrowed",
        ),
        pytest.param(
            SubscriptionFilter(categories=frozenset({Category.CALAMITY, Category.VIOLENCE})),
            assessment_alert(Category.VIOLENCE),
            True,
            id="category-kept",
        ),
        pytest.param(
            SubscriptionFilter(categories=frozenset({Category.CALAMITY})),
            assessment_alert(Category.VIOLENCE),
            False,
            id="category-narrowed",
        ),
        pytest.param(
            SubscriptionFilter(categories=frozenset({Category.CALAMITY})),
            risk_alert(RiskLevel.ORANGE, RiskLevel.GREEN),
            True,
            id="category-does-not-apply-to-risk",
        ),
        pytest.param(
            SubscriptionFilter(min_level=RiskLevel.RED),
            risk_alert(RiskLevel.ORANGE, RiskLevel.GREEN),
            False,
            id="below-min-level",
        ),
        pytest.param(
            SubscriptionFilter(min_level=RiskLevel.ORANGE),
            risk_alert(RiskLevel.RED, RiskLevel.ORANGE),
            True,
            id="above-min-level",
        ),
        pytest.param(
            SubscriptionFilter(min_level=RiskLevel.RED),
            risk_alert(RiskLevel.GREEN, RiskLevel.RED),
            True,
            id="fall-from-min-level",
        ),
        pytest.param(
            SubscriptionFilter(min_level=RiskLevel.RED),
            assessment_alert(),
            True,
            id="min-level-does-not-apply-to-assessments",
        ),
    ],
)
def test_a_filter_narrows_which_alerts_a_subscription_gets(
    wanted: SubscriptionFilter, alert: AlertV1, passes: bool
) -> None:
    assert matches(wanted, alert) is passes
