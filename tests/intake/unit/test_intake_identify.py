"""Identifying the provider of a signal, deriving law and group, and completing the event."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from intake.unit.partner_docs import RECEIVED_AT, example_bytes, pseudonymiser
from zicht_intake.domain import (
    Identification,
    ProviderHint,
    RegistryLocation,
    RegistryProvider,
    SignalDraft,
    complete,
    derive_law,
    derive_vulnerable_group,
    identify,
    normalise_igj,
    normalise_police,
)
from zicht_schemas.codes import CareService, Law, ProviderMatch, Source, VulnerableGroup
from zicht_schemas.events.intake import SignalReceivedV1

pytestmark = pytest.mark.unit

CS = CareService


def location(
    location_id: str,
    postcode: str = "7511AB",
    number: int | None = 5,
    addition: str | None = None,
    *,
    municipality: str = "GM0153",
    services: tuple[CareService, ...] = (CS.GUIDANCE,),
) -> RegistryLocation:
    return RegistryLocation(location_id, postcode, number, addition, municipality, services)


def provider(
    provider_id: str,
    name: str = "Stichting Testzorg",
    kvk: str | None = None,
    agb: str | None = None,
    locations: tuple[RegistryLocation, ...] = (),
) -> RegistryProvider:
    return RegistryProvider(provider_id, name, kvk, agb, locations)


def hint(
    name: str | None = None,
    kvk: str | None = None,
    agb: str | None = None,
    postcode: str | None = None,
    *,
    number: int | None = None,
    addition: str | None = None,
) -> ProviderHint:
    return ProviderHint(name, kvk, agb, postcode, number, addition)


BY_KVK = provider("p-kvk", "Kvk Zorg", kvk="99000011", locations=(location("a", "1111AA"),))
BY_AGB = provider("p-agb", "Agb Zorg", agb="98990011", locations=(location("b", "2222BB"),))
AT_ADDRESS = provider("p-address", "Adres Zorg", locations=(location("c", "7551AB", 12, "A"),))
BY_NAME = provider("p-name", "Naam Zorg B.V.", locations=(location("d", "7551AB", 40),))
EVERYONE = [BY_NAME, AT_ADDRESS, BY_AGB, BY_KVK]


@pytest.mark.parametrize(
    ("given", "expected", "matched_by"),
    [
        (
            hint("Naam Zorg", "99000011", "98990011", "7551AB", number=12, addition="a"),
            "p-kvk",
            ProviderMatch.KVK,
        ),
        (
            hint("Naam Zorg", None, "98990011", "7551AB", number=12, addition="a"),
            "p-agb",
            ProviderMatch.AGB,
        ),
        (
            hint("Naam Zorg", None, None, "7551AB", number=12, addition="A"),
            "p-address",
            ProviderMatch.NAME_AND_POSTCODE,
        ),
        (
            hint("naam zorg bv", None, None, "7551AB", number=99),
            "p-name",
            ProviderMatch.NAME_AND_POSTCODE,
        ),
        (hint("Onbekend", None, None, "7551AB", number=99), None, None),
        (hint("Naam Zorg", "12345678", None, "9999ZZ"), None, None),
    ],
)
def test_kvk_wins_over_agb_wins_over_address_wins_over_name(
    given: ProviderHint, expected: str | None, matched_by: ProviderMatch | None
) -> None:
    found = identify(given, EVERYONE)

    assert (found.provider.provider_id if found else None) == expected
    assert (found.matched_by if found else None) == matched_by


def test_address_addition_must_agree_when_the_partner_gives_one() -> None:
    assert identify(hint(None, postcode="7551AB", number=12, addition="B"), EVERYONE) is None
    found = identify(hint(None, postcode="7551AB", number=12), EVERYONE)
    assert found is not None
    assert found.provider is AT_ADDRESS


def test_two_providers_at_one_address_are_told_apart_by_name_or_not_guessed() -> None:
    here = location("x", "7551AB", 12)
    one = provider("p-1", "Eerste Zorg", locations=(here,))
    two = provider("p-2", "Tweede Zorg", locations=(replace(here, location_id="y"),))

    named = identify(hint("Tweede Zorg B.V.", postcode="7551AB", number=12), [one, two])
    unnamed = identify(hint("Derde", postcode="7551AB", number=12), [one, two])

    assert named is not None
    assert named.provider is two
    assert unnamed is None


def test_several_providers_with_one_kvk_prefer_a_location_at_the_signals_postcode() -> None:
    far = provider("p-a", kvk="99000011", locations=(location("a", "1111AA"),))
    near = provider("p-b", kvk="99000011", locations=(location("b", "7511AB"),))

    found = identify(hint(kvk="99000011", postcode="7511AB"), [far, near])
    found_reversed = identify(hint(kvk="99000011", postcode="7511AB"), [near, far])

    assert found == found_reversed
    assert found is not None
    assert (found.provider, found.location) == (near, near.locations[0])


def test_identical_candidates_give_the_lowest_provider_id() -> None:
    first = provider("p-1", kvk="99000011")
    second = provider("p-2", kvk="99000011")

    found = identify(hint(kvk="99000011"), [second, first])

    assert found is not None
    assert found.provider is first
    assert found.location is None


def test_identified_location_is_the_one_at_the_address_else_at_the_postcode() -> None:
    entry = provider(
        "p",
        kvk="99000011",
        locations=(location("z-other", "7511AB", 7), location("a-other", "7511AB", 9)),
    )

    at_number = identify(hint(kvk="99000011", postcode="7511AB", number=7), [entry])
    at_postcode = identify(hint(kvk="99000011", postcode="7511AB"), [entry])
    elsewhere = identify(hint(kvk="99000011", postcode="9999ZZ"), [entry])

    assert at_number is not None
    assert at_postcode is not None
    assert elsewhere is not None
    assert at_number.location is entry.locations[0]
    assert at_postcode.location is entry.locations[1]  # lowest location id
    assert elsewhere.location is None


@pytest.mark.parametrize(
    ("services", "law", "group"),
    [
        ((CS.SHELTERED_HOUSING,), Law.WMO, VulnerableGroup.SHELTERED_HOUSING),
        ((CS.GUIDANCE, CS.DAY_CARE, CS.HOUSEHOLD_HELP), Law.WMO, VulnerableGroup.NONE),
        ((CS.YOUTH,), Law.JEUGDWET, VulnerableGroup.YOUTH),
        ((CS.YOUTH, CS.SHELTERED_HOUSING), Law.UNKNOWN, VulnerableGroup.YOUTH),
        ((CS.GUIDANCE, CS.SHELTERED_HOUSING), Law.WMO, VulnerableGroup.SHELTERED_HOUSING),
        ((), Law.UNKNOWN, VulnerableGroup.NONE),
    ],
)
def test_law_and_group_follow_the_services_of_the_location(
    services: tuple[CareService, ...], law: Law, group: VulnerableGroup
) -> None:
    here = location("x", services=services)

    assert (derive_law(here), derive_vulnerable_group(here)) == (law, group)


def test_no_location_means_unknown_law_and_no_group() -> None:
    assert (derive_law(None), derive_vulnerable_group(None)) == (Law.UNKNOWN, VulnerableGroup.NONE)


def police_draft() -> SignalDraft:
    draft = normalise_police(
        example_bytes("police.json"), received_at=RECEIVED_AT, pseudonymiser=pseudonymiser()
    )
    assert isinstance(draft, SignalDraft)
    return draft


def igj_draft() -> SignalDraft:
    draft = normalise_igj(
        example_bytes("igj.json"), received_at=RECEIVED_AT, pseudonymiser=pseudonymiser()
    )
    assert isinstance(draft, SignalDraft)
    return draft


def completed(draft: SignalDraft, found: Identification | None) -> SignalReceivedV1 | None:
    return complete(
        draft,
        found,
        signal_id=uuid4(),
        submission_id=uuid4(),
        partner_id="partner-1",
        received_at=RECEIVED_AT,
    )


def test_signal_without_identified_provider_waits() -> None:
    assert completed(police_draft(), None) is None


def test_police_municipality_comes_from_the_registry_location_before_the_place_name() -> None:
    here = location("x", "7551AB", 12, "A", municipality="GM0153")
    entry = provider("p", locations=(here,))

    event = completed(police_draft(), Identification(entry, here, ProviderMatch.NAME_AND_POSTCODE))

    assert event is not None
    assert event.location.municipality_code == "GM0153"  # not Hengelo, the place name


def test_igj_municipality_comes_from_the_partner_before_the_registry_location() -> None:
    here = location("x", "7512CD", municipality="GM0141")
    entry = provider("p", kvk="99000022", locations=(here,))

    event = completed(igj_draft(), Identification(entry, here, ProviderMatch.KVK))

    assert event is not None
    assert event.location.municipality_code == "GM0153"  # Enschede, as IGJ says


def test_unknown_municipality_is_filled_from_the_registry_location() -> None:
    draft = replace(igj_draft(), location_municipality=None)
    here = location("x", "7512CD", municipality="GM0141")

    event = completed(
        draft, Identification(provider("p", locations=(here,)), here, ProviderMatch.KVK)
    )

    assert event is not None
    assert event.location.municipality_code == "GM0141"


def test_without_location_the_providers_only_municipality_is_used_else_it_waits() -> None:
    draft = replace(police_draft(), location_municipality=None)
    one_place = provider("p", locations=(location("a"), location("b", "7512CD")))
    two_places = provider("p", locations=(location("a"), location("b", municipality="GM0164")))

    single = completed(draft, Identification(one_place, None, ProviderMatch.REGISTRY_ID))
    ambiguous = completed(draft, Identification(two_places, None, ProviderMatch.REGISTRY_ID))

    assert single is not None
    assert single.location.municipality_code == "GM0153"
    assert single.provider.matched_by is ProviderMatch.REGISTRY_ID
    assert ambiguous is None


def test_operator_named_provider_completes_a_waiting_police_signal() -> None:
    here = location("x", "7551AB", 12, "A", municipality="GM0164", services=(CS.YOUTH,))
    entry = provider("ozjt-000999", "Testzorg", kvk="99000099", locations=(here,))

    event = completed(police_draft(), Identification(entry, here, ProviderMatch.REGISTRY_ID))

    assert event is not None
    assert event.source is Source.POLICE
    assert (event.law, event.vulnerable_group) == (Law.JEUGDWET, VulnerableGroup.YOUTH)
    assert event.provider.model_dump() == {
        "provider_id": "ozjt-000999",
        "name": "Testzorg",
        "kvk": "99000099",
        "agb": None,
        "matched_by": ProviderMatch.REGISTRY_ID,
    }
    assert event.location.location_id == "x"
    assert event.clients_involved >= len(event.client_pseudonyms)
