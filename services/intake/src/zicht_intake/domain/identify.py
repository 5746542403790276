"""Which registered provider (and location) a signal is about, and the finished signal event.

Identification follows each format's mapping, in one fixed order (a stronger key always wins):

1. KvK number (``kvk``);
2. AGB code (``agb``);
3. the registry location at the hint's postcode and house number, and addition when the
   partner gives one (``name_and_postcode``, as police.md names it);
4. the provider name (folded, :func:`names.provider_name_key`) among providers with a location
   at the hint's postcode (``name_and_postcode``).

When several providers match one step, the tie is broken deterministically: by a location at
the hint's address, then at its postcode, then by name, then the lowest provider id. At step 3
two different providers at one address that the name does not tell apart are not guessed: the
step matches nothing and identification goes on with step 4 (and otherwise leaves the signal
*needs provider* for an operator).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from zicht_intake.domain.codelists import (
    VULNERABLE_PRECEDENCE,
    first_by_precedence,
    registry_codes,
)
from zicht_intake.domain.drafts import ProviderHint, SignalDraft
from zicht_intake.domain.moments import require_aware
from zicht_intake.domain.names import normalise_house_number_addition, provider_name_key
from zicht_schemas.codes import CareService, Law, ProviderMatch, Source, VulnerableGroup
from zicht_schemas.events.intake import SignalLocation, SignalProvider, SignalReceivedV1

__all__ = [
    "Identification",
    "RegistryLocation",
    "RegistryProvider",
    "complete",
    "derive_law",
    "derive_vulnerable_group",
    "identify",
]


@dataclass(frozen=True, slots=True)
class RegistryLocation:
    """A registered care location, as identification needs it."""

    location_id: str
    postcode: str
    house_number: int | None
    house_number_addition: str | None
    municipality_code: str
    services: tuple[CareService, ...]


@dataclass(frozen=True, slots=True)
class RegistryProvider:
    """A registered provider with its locations, as identification needs it."""

    provider_id: str
    name: str
    kvk: str | None
    agb: str | None
    locations: tuple[RegistryLocation, ...]


@dataclass(frozen=True, slots=True)
class Identification:
    """The provider a signal is about, the location when one matched, and how it was found."""

    provider: RegistryProvider
    location: RegistryLocation | None
    matched_by: ProviderMatch


# --- matching ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Address:
    number: int | None
    addition: str | None


def _at_postcode(location: RegistryLocation, postcode: str | None) -> bool:
    return postcode is not None and location.postcode == postcode


def _at_address(location: RegistryLocation, hint_postcode: str | None, hint: _Address) -> bool:
    if not _at_postcode(location, hint_postcode) or hint.number is None:
        return False
    if location.house_number != hint.number:
        return False
    if hint.addition is None:
        return True
    return normalise_house_number_addition(location.house_number_addition) == hint.addition


def _location(
    provider: RegistryProvider, postcode: str | None, address: _Address
) -> RegistryLocation | None:
    """The provider's location the signal is about: at the address, else at the postcode."""
    locations = sorted(provider.locations, key=lambda location: location.location_id)
    exact = [location for location in locations if _at_address(location, postcode, address)]
    if exact:
        return exact[0]
    same_number = [
        location
        for location in locations
        if _at_postcode(location, postcode)
        and address.number is not None
        and location.house_number == address.number
    ]
    if same_number:
        return same_number[0]
    return next((location for location in locations if _at_postcode(location, postcode)), None)


def _preferred(
    providers: Iterable[RegistryProvider], postcode: str | None, address: _Address, name: str
) -> RegistryProvider | None:
    """The deterministic choice among providers matching one step (see the module doc)."""

    def rank(provider: RegistryProvider) -> tuple[bool, bool, bool, str]:
        return (
            not any(_at_address(loc, postcode, address) for loc in provider.locations),
            not any(_at_postcode(loc, postcode) for loc in provider.locations),
            not (name and provider_name_key(provider.name) == name),
            provider.provider_id,
        )

    return min(providers, key=rank, default=None)


def identify(hint: ProviderHint, candidates: Sequence[RegistryProvider]) -> Identification | None:
    """The registered provider a signal is about, or None when none can be identified.

    Args:
        hint: How the partner named provider and location (:class:`drafts.ProviderHint`).
        candidates: Every registered provider sharing the hint's KvK or AGB, or with a location
            at the hint's postcode (more do no harm).

    Returns:
        The identification by the first step of the module's order that matches; None when no
        step does (the signal then waits as *needs provider*).
    """
    providers = sorted(
        {provider.provider_id: provider for provider in candidates}.values(),
        key=lambda provider: provider.provider_id,
    )
    postcode = hint.postcode
    addition = normalise_house_number_addition(hint.house_number_addition)
    address = _Address(hint.house_number, addition)
    name = provider_name_key(hint.name) if hint.name else ""
    for number, match in ((hint.kvk, ProviderMatch.KVK), (hint.agb, ProviderMatch.AGB)):
        if number is None:
            continue
        same = [
            provider
            for provider in providers
            if (provider.kvk if match is ProviderMatch.KVK else provider.agb) == number
        ]
        chosen = _preferred(same, postcode, address, name)
        if chosen is not None:
            return Identification(chosen, _location(chosen, postcode, address), match)
    at_address = [
        provider
        for provider in providers
        if any(_at_address(location, postcode, address) for location in provider.locations)
    ]
    if len(at_address) > 1:
        at_address = [p for p in at_address if name and provider_name_key(p.name) == name]
    if len(at_address) == 1:
        (chosen,) = at_address
        return Identification(
            chosen, _location(chosen, postcode, address), ProviderMatch.NAME_AND_POSTCODE
        )
    if name and postcode is not None:
        named = [
            provider
            for provider in providers
            if provider_name_key(provider.name) == name
            and any(_at_postcode(location, postcode) for location in provider.locations)
        ]
        chosen = _preferred(named, postcode, address, name)
        if chosen is not None:
            return Identification(
                chosen, _location(chosen, postcode, address), ProviderMatch.NAME_AND_POSTCODE
            )
    return None


# --- deriving law and target group ---------------------------------------------------------


def derive_law(location: RegistryLocation | None) -> Law:
    """police.md: only Wmo services -> ``wmo``; only youth -> ``jeugdwet``; else ``unknown``."""
    if location is None:
        return Law.UNKNOWN
    codes = registry_codes()
    laws = {codes.service(service).law for service in location.services}
    return laws.pop() if len(laws) == 1 else Law.UNKNOWN


def derive_vulnerable_group(location: RegistryLocation | None) -> VulnerableGroup:
    """The target group of a location's services, by the README's precedence; else ``none``."""
    if location is None:
        return VulnerableGroup.NONE
    codes = registry_codes()
    groups = (codes.service(service).vulnerable_group for service in location.services)
    return first_by_precedence(groups, VULNERABLE_PRECEDENCE) or VulnerableGroup.NONE


# For the police the matched registry location decides the municipality and the place name is
# the fallback (police.md); for the others the partner's own municipality comes first
# (igj.md, access-team.md) and the registry location fills it in when it is unknown.
_REGISTRY_MUNICIPALITY_FIRST: Final = frozenset({Source.POLICE})


def _municipality(draft: SignalDraft, identification: Identification) -> str | None:
    location = identification.location
    registry = location.municipality_code if location is not None else None
    if draft.source in _REGISTRY_MUNICIPALITY_FIRST:
        chosen = registry or draft.location_municipality
    else:
        chosen = draft.location_municipality or registry
    if chosen is not None:
        return chosen
    # No location matched and the partner's municipality is unknown: the provider's own
    # locations decide only when they all lie in one municipality; otherwise routing the signal
    # would be a guess, and it waits for an operator instead.
    everywhere = {loc.municipality_code for loc in identification.provider.locations}
    return everywhere.pop() if len(everywhere) == 1 else None


def complete(
    draft: SignalDraft,
    identification: Identification | None,
    *,
    signal_id: UUID,
    submission_id: UUID,
    partner_id: str,
    received_at: datetime,
) -> SignalReceivedV1 | None:
    """The published signal, or None while its provider (or municipality) is not known.

    Law and vulnerable group left open by the draft (police) are derived from the matched
    location's services (police.md); the municipality is chosen as described at
    ``_municipality``. None means the signal waits as *needs provider*: an operator names the
    provider (``ProviderMatch.REGISTRY_ID``), best with the location, and calls this again.
    """
    if identification is None:
        return None
    municipality = _municipality(draft, identification)
    if municipality is None:
        return None
    location = identification.location
    provider = identification.provider
    vulnerable = (
        derive_vulnerable_group(location)
        if draft.vulnerable_group is None
        else draft.vulnerable_group
    )
    return SignalReceivedV1(
        signal_id=signal_id,
        submission_id=submission_id,
        source=draft.source,
        partner_id=partner_id,
        partner_reference=draft.partner_reference,
        received_at=require_aware(received_at),
        occurred_at=draft.occurred_at,
        provider=SignalProvider(
            provider_id=provider.provider_id,
            name=provider.name,
            kvk=provider.kvk,
            agb=provider.agb,
            matched_by=identification.matched_by,
        ),
        location=SignalLocation(
            postcode=draft.location_postcode or (location.postcode if location else None),
            municipality_code=municipality,
            location_id=location.location_id if location else None,
        ),
        law=derive_law(location) if draft.law is None else draft.law,
        category=draft.category,
        severity=draft.severity,
        vulnerable_group=vulnerable,
        crime_indicators=draft.crime_indicators,
        fraud_suspected=draft.fraud_suspected,
        administrative_error=draft.administrative_error,
        shortcomings=draft.shortcomings,
        client_pseudonyms=draft.client_pseudonyms,
        clients_involved=max(draft.clients_involved, len(draft.client_pseudonyms)),
    )
