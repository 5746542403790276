"""The normalised signal before its provider is identified, and helpers its normalisers share.

A :class:`SignalDraft` is what intake makes of a partner's signal on arrival: Zicht's codes,
UTC moments, pseudonyms instead of BSNs, masked free text, and a :class:`ProviderHint` saying
how the partner named the provider. ``identify.complete`` turns it into the published
``SignalReceivedV1`` once the provider is known.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from zicht_intake.domain.problems import Detail, IntakeWarning, Refusal, Rejection
from zicht_intake.domain.validation import PartnerFormat, keyword_problems, parse_json
from zicht_schemas.codes import (
    Category,
    CrimeIndicator,
    Law,
    RejectionCode,
    Severity,
    Source,
    VulnerableGroup,
)
from zicht_schemas.events.intake import ShortcomingFinding

__all__ = [
    "CsvRow",
    "InvolvedPerson",
    "PartnerContact",
    "ProviderHint",
    "SignalDraft",
    "add_rule",
    "read_json_document",
    "unique_in_order",
]

_T = TypeVar("_T", bound=Hashable)


@dataclass(frozen=True, slots=True)
class ProviderHint:
    """How the partner named the provider and the location: what identification starts from."""

    name: str | None
    kvk: str | None
    agb: str | None
    postcode: str | None
    house_number: int | None
    house_number_addition: str | None


@dataclass(frozen=True, slots=True)
class PartnerContact:
    """Who at the partner can answer questions about the signal: a role and a team, no name."""

    role: str | None
    team: str | None
    mailbox: str | None = None


@dataclass(frozen=True, slots=True)
class InvolvedPerson:
    """A person in a police registration: a role, whether a minor, and a pseudonym if known."""

    role: str
    minor: bool | None
    pseudonym: str | None


@dataclass(frozen=True, slots=True)
class SignalDraft:
    """A partner's signal, normalised and pseudonymised, before its provider is identified.

    ``law`` and ``vulnerable_group`` are None when the partner does not say and intake derives
    them from the matched registry location (police). ``free_text`` is already masked and stays
    in intake. ``contact`` and ``persons`` are kept in intake only, for questions and for
    linking signals; no event carries them.
    """

    source: Source
    partner_reference: str
    occurred_at: datetime
    reported_at: datetime | None
    law: Law | None
    category: Category
    severity: Severity
    vulnerable_group: VulnerableGroup | None
    minor_involved: bool
    crime_indicators: tuple[CrimeIndicator, ...]
    fraud_suspected: bool
    administrative_error: bool
    shortcomings: tuple[ShortcomingFinding, ...]
    client_pseudonyms: tuple[str, ...]
    clients_involved: int
    provider: ProviderHint
    location_postcode: str | None
    location_municipality: str | None
    free_text: str | None
    warnings: tuple[IntakeWarning, ...]
    contact: PartnerContact | None = None
    persons: tuple[InvolvedPerson, ...] = ()


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row of an access-team CSV file and what became of it.

    ``partner_reference`` is ``<team>/<kenmerk>`` when the row's kenmerk is readable.
    """

    row: int
    partner_reference: str | None
    result: SignalDraft | Refusal


def unique_in_order(items: Iterable[_T]) -> tuple[_T, ...]:
    """``items`` without repeats, first occurrence kept."""
    return tuple(dict.fromkeys(items))


def read_json_document(
    partner_format: PartnerFormat, body: bytes, max_bytes: int
) -> Refusal | tuple[dict[str, Any], list[Rejection]]:
    """A JSON body as an object with its schema rejections, or the refusal of the whole body."""
    if len(body) > max_bytes:
        return Refusal.of(Rejection(RejectionCode.MALFORMED_PAYLOAD, Detail.too_large(max_bytes)))
    document = parse_json(body)
    if isinstance(document, Refusal):
        return document
    if not isinstance(document, dict):
        return Refusal.of(Rejection(RejectionCode.MALFORMED_PAYLOAD, Detail.NOT_AN_OBJECT))
    problems = keyword_problems(partner_format, document)
    return document, [problem.rejection() for problem in problems]


def add_rule(rejections: list[Rejection], found: Rejection | None) -> None:
    """Add a rule's rejection unless the field it concerns is refused already (by the schema)."""
    if found is None:
        return
    if any(
        found.pointer is not None
        and existing.pointer is not None
        and (existing.pointer == found.pointer or found.pointer.startswith(existing.pointer + "/"))
        for existing in rejections
    ):
        return
    rejections.append(found)
