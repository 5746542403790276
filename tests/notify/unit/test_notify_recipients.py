from __future__ import annotations

import pytest

from notify.unit.notify_builders import (
    ASSEN,
    ENSCHEDE,
    HENGELO,
    KVK,
    NAME,
    PROVIDER,
    registered,
    relations,
)
from zicht_notify.domain import ProviderRelations, Recipient
from zicht_schemas import SubscriberKind

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("kind", "party_id"),
    [
        (SubscriberKind.MUNICIPALITY, "Enschede"),
        (SubscriberKind.MUNICIPALITY, "0153"),
        (SubscriberKind.IGJ, "IGJ"),
        (SubscriberKind.SUPERVISORS, "twente"),
        (SubscriberKind.SUPERVISORS, "supervisors-"),
        (SubscriberKind.CASUS_TABLE, "not a table id"),
    ],
)
def test_a_recipient_with_an_id_that_cannot_name_its_kind_is_refused(
    kind: SubscriberKind, party_id: str
) -> None:
    with pytest.raises(ValueError, match="named"):
        Recipient(kind, party_id)


def test_recipients_are_named_as_the_brief_says() -> None:
    assert Recipient.municipality("GM0153") == Recipient(SubscriberKind.MUNICIPALITY, "GM0153")
    assert Recipient.casus_table("riec-on-zorgfraude").id == "riec-on-zorgfraude"
    assert Recipient.igj() == Recipient(SubscriberKind.IGJ, "igj")
    assert Recipient.supervisors("twente").id == "supervisors-twente"


def test_relations_from_the_registry_hold_locations_contracts_and_their_regions() -> None:
    found = ProviderRelations.from_event(registered())

    assert (found.provider_id, found.name, found.kvk) == (PROVIDER, NAME, KVK)
    assert found.location_municipalities == {ENSCHEDE, HENGELO}
    assert found.contracting_municipalities == {ENSCHEDE, ASSEN}
    assert found.related_municipalities == {ENSCHEDE, HENGELO, ASSEN}
    assert found.regions == {"twente", "nmd"}


def test_an_inactive_provider_keeps_its_relations() -> None:
    found = ProviderRelations.from_event(registered(active=False))

    assert found.related_municipalities == {ENSCHEDE, HENGELO, ASSEN}


def test_a_municipality_outside_every_region_adds_no_region() -> None:
    found = relations(locations=("GM0344",), contracting=())

    assert found.regions == frozenset()


@pytest.mark.parametrize(
    ("recipient", "related"),
    [
        (Recipient.municipality(ENSCHEDE), True),  # a location there
        (Recipient.municipality(HENGELO), True),  # a contract with it
        (Recipient.municipality("GM0141"), False),  # Almelo: same region, no relation
        (Recipient.casus_table("riec-on-zorgfraude"), True),
        (Recipient.casus_table("cct-twente"), True),
        (Recipient.casus_table("riec-noord-zorgfraude"), False),  # another region's table
        (Recipient.casus_table("no-such-table"), False),
        (Recipient.supervisors("twente"), True),
        (Recipient.supervisors("nmd"), False),
        (Recipient.igj(), True),
    ],
)
def test_only_parties_related_by_location_contract_or_region_are_related(
    recipient: Recipient, related: bool
) -> None:
    assert relations().is_related(recipient) is related


def test_relations_refuse_a_municipality_that_is_no_cbs_code() -> None:
    with pytest.raises(ValueError, match="CBS code"):
        relations(locations=("Enschede",))
