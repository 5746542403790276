"""Who may be told about a provider: recipients of alerts and a provider's relations.

A provider is related to the municipality of each of its locations, to every municipality that
contracts it, and to the regions those municipalities belong to (policy.md section 3). Casus
tables and supervisors are related through their region. IGJ, the national inspectorate, is
related to every provider; the routing policy only ever sends it ``refer_to_igj`` (and
``out_of_scope``) signals, and :func:`~zicht_notify.domain.routing.load_routing` refuses a policy
that would send it more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from zicht_schemas import ProviderRegisteredV1, SubscriberKind
from zicht_schemas.regions import regions
from zicht_schemas.values import IDENTIFIER_PATTERN

__all__ = [
    "IGJ_ID",
    "SUPERVISORS_PREFIX",
    "ProviderRelations",
    "Recipient",
    "check_party",
    "is_related_to",
    "regions_of",
]

IGJ_ID: Final = "igj"
"""The one id of IGJ as a recipient and subscriber."""

SUPERVISORS_PREFIX: Final = "supervisors-"
"""A region's supervisors are ``supervisors-<region id>``, e.g. ``supervisors-twente``."""

_MUNICIPALITY_CODE = re.compile(r"^GM[0-9]{4}$")
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


def check_party(kind: SubscriberKind, party_id: str) -> None:
    """Refuse an id that cannot name a party of ``kind`` (shape only, not existence).

    Args:
        kind: What kind of party.
        party_id: A CBS code for a municipality, a casus-table id from regions.json, ``igj``
            for IGJ, ``supervisors-<region id>`` for a region's supervisors.

    Raises:
        ValueError: When the id does not have the shape its kind requires.
    """
    if kind is SubscriberKind.MUNICIPALITY:
        if not _MUNICIPALITY_CODE.fullmatch(party_id):
            raise ValueError("a municipality is named by its CBS code, e.g. GM0153")
    elif kind is SubscriberKind.IGJ:
        if party_id != IGJ_ID:
            raise ValueError(f"IGJ is named {IGJ_ID!r}")
    elif kind is SubscriberKind.SUPERVISORS:
        region_id = party_id.removeprefix(SUPERVISORS_PREFIX)
        if region_id == party_id or not _IDENTIFIER.fullmatch(region_id):
            raise ValueError(f"supervisors are named {SUPERVISORS_PREFIX}<region id>")
    elif not _IDENTIFIER.fullmatch(party_id):
        raise ValueError("a casus table is named by its id from regions.json")


@dataclass(frozen=True, slots=True)
class Recipient:
    """A party an alert is for: a municipality, a casus table, IGJ or a region's supervisors."""

    kind: SubscriberKind
    id: str

    def __post_init__(self) -> None:
        check_party(self.kind, self.id)

    @classmethod
    def municipality(cls, code: str) -> Recipient:
        """A municipality by its CBS code (``GM0153``)."""
        return cls(SubscriberKind.MUNICIPALITY, code)

    @classmethod
    def casus_table(cls, table_id: str) -> Recipient:
        """A casus table by its id in regions.json (``riec-on-zorgfraude``)."""
        return cls(SubscriberKind.CASUS_TABLE, table_id)

    @classmethod
    def igj(cls) -> Recipient:
        """The Health and Youth Care Inspectorate."""
        return cls(SubscriberKind.IGJ, IGJ_ID)

    @classmethod
    def supervisors(cls, region_id: str) -> Recipient:
        """The supervisors of a region (``supervisors-twente``)."""
        return cls(SubscriberKind.SUPERVISORS, f"{SUPERVISORS_PREFIX}{region_id}")

    @property
    def sort_key(self) -> tuple[str, str]:
        """A stable order: by kind, then id."""
        return (self.kind.value, self.id)


def regions_of(municipality_codes: Iterable[str]) -> frozenset[str]:
    """The ids of the regions the given municipalities belong to (those outside are skipped)."""
    catalogue = regions()
    found = (catalogue.region_of(code) for code in municipality_codes)
    return frozenset(region.id for region in found if region is not None)


def is_related_to(
    recipient: Recipient, municipalities: frozenset[str], region_ids: frozenset[str]
) -> bool:
    """Whether ``recipient`` is related to a provider with these municipalities and regions."""
    kind = recipient.kind
    if kind is SubscriberKind.IGJ:
        return True
    if kind is SubscriberKind.MUNICIPALITY:
        return recipient.id in municipalities
    if kind is SubscriberKind.SUPERVISORS:
        return recipient.id.removeprefix(SUPERVISORS_PREFIX) in region_ids
    table = regions().casus_table(recipient.id)
    return table is not None and table.region_id in region_ids


@dataclass(frozen=True, slots=True)
class ProviderRelations:
    """What notify knows of a provider from the registry: its name and related municipalities."""

    provider_id: str
    name: str
    kvk: str | None
    location_municipalities: frozenset[str]
    """CBS codes of the municipalities where the provider has a location."""
    contracting_municipalities: frozenset[str]
    """CBS codes of the municipalities that contract the provider."""

    def __post_init__(self) -> None:
        for code in self.location_municipalities | self.contracting_municipalities:
            if not _MUNICIPALITY_CODE.fullmatch(code):
                raise ValueError("municipalities are named by their CBS code, e.g. GM0153")

    @classmethod
    def from_event(cls, event: ProviderRegisteredV1) -> ProviderRelations:
        """The relations in a registry event; an inactive provider keeps them.

        Relations are kept when a provider leaves (``active = false``) so that a later fall of
        its risk still reaches those told of the rise.
        """
        return cls(
            provider_id=event.provider_id,
            name=event.name,
            kvk=event.kvk,
            location_municipalities=frozenset(loc.municipality_code for loc in event.locations),
            contracting_municipalities=frozenset(event.contracting_municipalities),
        )

    @property
    def related_municipalities(self) -> frozenset[str]:
        """Every municipality related by a location or a contract."""
        return self.location_municipalities | self.contracting_municipalities

    @property
    def regions(self) -> frozenset[str]:
        """Ids of the regions the related municipalities belong to."""
        return regions_of(self.related_municipalities)

    def is_related(self, recipient: Recipient) -> bool:
        """Whether ``recipient`` may hear about this provider.

        A municipality by a location or a contract; a casus table or supervisors when their
        region is one of the provider's; IGJ always (see the module docstring).
        """
        return is_related_to(recipient, self.related_municipalities, self.regions)
