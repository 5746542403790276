from __future__ import annotations

import pytest

from notify.unit.notify_builders import ASSEN, ENSCHEDE, HENGELO, assessed, relations, risk_changed
from zicht_notify.domain import (
    Recipient,
    Route,
    default_routing,
    load_routing,
    route,
    shipped_routing,
)
from zicht_schemas import Outcome, Priority, RiskLevel

pytestmark = pytest.mark.unit

POLICY = default_routing()
ROUTING_2025_1 = shipped_routing("2025.1")
ROUTING_2025_2 = shipped_routing("2025.2")
RIEC_ON = Recipient.casus_table("riec-on-zorgfraude")
CCT_TWENTE = Recipient.casus_table("cct-twente")
RTO_DRENTHE = Recipient.casus_table("rto-drenthe")
SUPERVISORS_TWENTE = Recipient.supervisors("twente")
UTRECHT = "GM0344"  # outside every region


def recipients(routes: tuple[Route, ...]) -> list[Recipient]:
    return [r.recipient for r in routes]


def m(code: str) -> Recipient:
    return Recipient.municipality(code)


@pytest.mark.parametrize(
    ("outcome", "priority", "expected"),
    [
        (Outcome.CRIMINAL_REFERRAL, Priority.P1, [RIEC_ON, SUPERVISORS_TWENTE]),
        (Outcome.INVESTIGATE, Priority.P1, [m(ENSCHEDE), m(ASSEN), m(HENGELO)]),
        (Outcome.INVESTIGATE, Priority.P2, []),
        (Outcome.REFER_TO_IGJ, Priority.P3, [Recipient.igj(), m(ENSCHEDE), m(ASSEN), m(HENGELO)]),
        (Outcome.BUNDLE, Priority.P1, []),
        (Outcome.FOR_INFORMATION, Priority.P4, []),
        (Outcome.NO_INVESTIGATION, Priority.P4, []),
        (Outcome.ADMINISTRATIVE_ERROR, Priority.P4, []),
        (Outcome.OUT_OF_SCOPE, Priority.P4, []),
    ],
)
def test_an_assessed_signal_goes_to_the_parties_of_its_outcome(
    outcome: Outcome, priority: Priority, expected: list[Recipient]
) -> None:
    # Located in Enschede; contracted by Hengelo and Assen (another region).
    provider = relations(locations=(ENSCHEDE,), contracting=(HENGELO, ASSEN))

    routes = route(assessed(outcome, priority, ENSCHEDE), provider, POLICY)

    assert recipients(routes) == expected
    assert all(r.related for r in routes)


def test_a_criminal_referral_reaches_the_signals_region_not_every_region_of_the_provider() -> None:
    provider = relations(locations=(ENSCHEDE, ASSEN), contracting=())

    routes = route(assessed(Outcome.CRIMINAL_REFERRAL, municipality=ASSEN), provider, POLICY)

    assert recipients(routes) == [
        Recipient.casus_table("riec-noord-zorgfraude"),
        Recipient.supervisors("nmd"),
    ]


def test_a_criminal_referral_about_a_location_outside_the_regions_goes_to_the_providers() -> None:
    provider = relations(locations=(UTRECHT,), contracting=(HENGELO,))

    routes = route(assessed(Outcome.CRIMINAL_REFERRAL, municipality=UTRECHT), provider, POLICY)

    assert recipients(routes) == [RIEC_ON, SUPERVISORS_TWENTE]


def test_an_out_of_region_signal_is_forwarded_to_the_municipality_where_the_provider_is() -> None:
    routes = route(assessed(Outcome.OUT_OF_REGION, Priority.P4, UTRECHT), None, POLICY)

    assert recipients(routes) == [m(UTRECHT)]
    assert routes[0].rule_id == "assessed-out-of-region"


def test_a_municipality_both_location_and_contractor_is_told_once_under_the_first_group() -> None:
    provider = relations(locations=(ENSCHEDE,), contracting=(ENSCHEDE, HENGELO))

    routes = route(assessed(Outcome.INVESTIGATE, Priority.P1, ENSCHEDE), provider, POLICY)

    assert recipients(routes) == [m(ENSCHEDE), m(HENGELO)]


def test_the_signals_own_municipality_counts_when_the_registry_has_not_caught_up() -> None:
    provider = relations(locations=(HENGELO,), contracting=())

    routes = route(assessed(Outcome.INVESTIGATE, Priority.P1, ENSCHEDE), provider, POLICY)

    assert recipients(routes) == [m(ENSCHEDE)]


def test_without_relations_only_what_the_signal_itself_supports_is_routed() -> None:
    criminal = route(assessed(Outcome.CRIMINAL_REFERRAL, municipality=ENSCHEDE), None, POLICY)
    p1 = route(assessed(Outcome.INVESTIGATE, Priority.P1, ENSCHEDE), None, POLICY)
    igj = route(assessed(Outcome.REFER_TO_IGJ, Priority.P3, ENSCHEDE), None, POLICY)

    assert recipients(criminal) == [RIEC_ON, SUPERVISORS_TWENTE]
    assert recipients(p1) == [m(ENSCHEDE)]  # contracting municipalities are unknown
    assert recipients(igj) == [Recipient.igj(), m(ENSCHEDE)]  # the location, no contractors


def test_the_default_routing_is_2025_2() -> None:
    assert POLICY == ROUTING_2025_2


INFORM_EN = (
    "For information: a signal was referred to IGJ, which supervises youth-care quality; "
    "the municipality of the location concerned and the contracting municipalities are informed."
)
INFORM_NL = (
    "Ter informatie: een signaal is doorverwezen naar de IGJ, die toezicht houdt op de "
    "kwaliteit van jeugdhulp; de gemeente van de betrokken locatie en de contracterende "
    "gemeenten worden geïnformeerd."
)


def test_under_2025_2_a_referral_to_igj_informs_the_location_and_contracting_municipalities() -> (
    None
):
    # Located in Enschede; contracted by Hengelo and Assen (another region).
    provider = relations(locations=(ENSCHEDE,), contracting=(HENGELO, ASSEN))

    routes = route(assessed(Outcome.REFER_TO_IGJ, Priority.P3, ENSCHEDE), provider, ROUTING_2025_2)

    assert [(r.recipient, r.rule_id, r.related) for r in routes] == [
        (Recipient.igj(), "assessed-refer-to-igj", True),
        (m(ENSCHEDE), "assessed-refer-to-igj-inform-municipalities", True),
        (m(ASSEN), "assessed-refer-to-igj-inform-municipalities", True),
        (m(HENGELO), "assessed-refer-to-igj-inform-municipalities", True),
    ]
    igj, *municipalities = routes
    assert "referred to IGJ" in igj.reason_en
    assert {(r.reason_en, r.reason_nl) for r in municipalities} == {(INFORM_EN, INFORM_NL)}
    assert {r.policy_version for r in routes} == {"2025.2"}


def test_under_2025_1_a_referral_to_igj_still_goes_to_igj_only() -> None:
    provider = relations(locations=(ENSCHEDE,), contracting=(HENGELO, ASSEN))

    routes = route(assessed(Outcome.REFER_TO_IGJ, Priority.P3, ENSCHEDE), provider, ROUTING_2025_1)

    assert [(r.recipient, r.rule_id) for r in routes] == [
        (Recipient.igj(), "assessed-refer-to-igj")
    ]
    assert routes[0].policy_version == "2025.1"


@pytest.mark.parametrize("outcome", [o for o in Outcome if o is not Outcome.REFER_TO_IGJ])
def test_2025_2_routes_every_other_outcome_as_2025_1(outcome: Outcome) -> None:
    provider = relations(locations=(ENSCHEDE,), contracting=(HENGELO, ASSEN))
    event = assessed(outcome, Priority.P1, ENSCHEDE)

    assert [(r.recipient, r.rule_id) for r in route(event, provider, ROUTING_2025_1)] == [
        (r.recipient, r.rule_id) for r in route(event, provider, ROUTING_2025_2)
    ]


@pytest.mark.parametrize(
    ("level", "previous", "expected_rule", "expected"),
    [
        (RiskLevel.ORANGE, RiskLevel.GREEN, "risk-rise-orange", [m(ENSCHEDE), m(HENGELO)]),
        (RiskLevel.ORANGE, None, "risk-rise-orange", [m(ENSCHEDE), m(HENGELO)]),
        (
            RiskLevel.RED,
            RiskLevel.ORANGE,
            "risk-rise-red",
            [m(ENSCHEDE), m(HENGELO), CCT_TWENTE],
        ),
        (RiskLevel.RED, RiskLevel.GREEN, "risk-rise-red", [m(ENSCHEDE), m(HENGELO), CCT_TWENTE]),
        (RiskLevel.RED, None, "risk-rise-red", [m(ENSCHEDE), m(HENGELO), CCT_TWENTE]),
        (RiskLevel.GREEN, None, None, []),
        (RiskLevel.ORANGE, RiskLevel.ORANGE, None, []),
        (RiskLevel.RED, RiskLevel.RED, None, []),
    ],
)
def test_a_rise_to_orange_or_red_goes_to_related_municipalities_and_red_also_to_the_table(
    level: RiskLevel,
    previous: RiskLevel | None,
    expected_rule: str | None,
    expected: list[Recipient],
) -> None:
    routes = route(risk_changed(level, previous), relations(), POLICY)

    assert recipients(routes) == expected
    assert {r.rule_id for r in routes} == ({expected_rule} if expected_rule else set())


def test_a_rise_to_red_reaches_the_coordination_table_of_every_related_region() -> None:
    provider = relations(locations=(ENSCHEDE,), contracting=(ASSEN,))

    routes = route(risk_changed(RiskLevel.RED, RiskLevel.ORANGE), provider, POLICY)

    assert recipients(routes) == [m(ASSEN), m(ENSCHEDE), CCT_TWENTE, RTO_DRENTHE]


def test_a_rise_ignores_who_was_told_before() -> None:
    told = frozenset({Recipient.municipality("GM0141")})

    routes = route(risk_changed(RiskLevel.ORANGE, RiskLevel.GREEN), relations(), POLICY, told)

    assert m("GM0141") not in recipients(routes)


def test_a_rise_of_a_provider_unknown_to_notify_reaches_nobody() -> None:
    assert route(risk_changed(RiskLevel.RED, RiskLevel.GREEN), None, POLICY) == ()


@pytest.mark.parametrize(
    ("level", "previous"),
    [
        (RiskLevel.ORANGE, RiskLevel.RED),
        (RiskLevel.GREEN, RiskLevel.RED),
        (RiskLevel.GREEN, RiskLevel.ORANGE),
    ],
)
def test_a_fall_goes_to_exactly_those_told_of_the_rise(
    level: RiskLevel, previous: RiskLevel
) -> None:
    # Almelo was told when it still contracted the provider; it no longer does.
    told = frozenset({CCT_TWENTE, m(ENSCHEDE), m("GM0141")})

    routes = route(risk_changed(level, previous), relations(), POLICY, told)

    assert sorted(recipients(routes), key=lambda r: r.sort_key) == sorted(
        told, key=lambda r: r.sort_key
    )
    assert {r.rule_id for r in routes} == {"risk-fall"}
    assert {r.recipient.id: r.related for r in routes} == {
        "cct-twente": True,
        ENSCHEDE: True,
        "GM0141": False,
    }


def test_a_fall_nobody_was_told_of_reaches_nobody() -> None:
    assert route(risk_changed(RiskLevel.GREEN, RiskLevel.ORANGE), relations(), POLICY) == ()


def test_routing_is_deterministic_whatever_the_order_sets_were_built_in() -> None:
    one = relations(locations=(ENSCHEDE, HENGELO, "GM0141"), contracting=(ASSEN, "GM1730"))
    other = relations(locations=("GM0141", HENGELO, ENSCHEDE), contracting=("GM1730", ASSEN))
    event = risk_changed(RiskLevel.RED, RiskLevel.GREEN)

    assert route(event, one, POLICY) == route(event, other, POLICY)


def test_a_recipient_named_by_two_rules_is_routed_once_under_the_first() -> None:
    policy = load_routing(
        """\
version: "test.1"
rules:
  - id: first
    event: signal_assessed
    when: {outcome: investigate}
    recipients: [supervisors]
    reason_en: Every investigation goes to the supervisors.
    reason_nl: Elk onderzoek gaat naar de toezichthouders.
  - id: second
    event: signal_assessed
    when: {outcome: investigate, priority: [P1, P2]}
    recipients: [location_municipality, supervisors]
    reason_en: Urgent investigations also go to the municipality.
    reason_nl: Urgente onderzoeken gaan ook naar de gemeente.
""",
        origin="test.yaml",
    )

    routes = route(assessed(Outcome.INVESTIGATE, Priority.P2, ENSCHEDE), relations(), policy)

    assert [(r.recipient, r.rule_id) for r in routes] == [
        (SUPERVISORS_TWENTE, "first"),
        (m(ENSCHEDE), "second"),
    ]
    assert routes[0].reason_nl == "Elk onderzoek gaat naar de toezichthouders."
    assert {r.policy_version for r in routes} == {"test.1"}


def test_every_route_carries_the_rules_reason_in_english_and_dutch() -> None:
    routes = route(assessed(Outcome.CRIMINAL_REFERRAL), relations(), POLICY)

    rule = next(r for r in POLICY.rules if r.id == "assessed-criminal-referral")
    assert {(r.reason_en, r.reason_nl, r.policy_version) for r in routes} == {
        (rule.reason_en, rule.reason_nl, POLICY.version)
    }


def test_relations_of_another_provider_are_refused() -> None:
    with pytest.raises(ValueError, match="another provider"):
        route(assessed(), relations(provider_id="zp-test-999"), POLICY)
