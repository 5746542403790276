"""The police's incident exports (docs/partners/police.md) to a normalised signal draft.

The police do not say which law the care falls under, nor the target group: the draft leaves
both open (None) for ``identify.complete`` to derive from the matched registry location, except
that a minor victim or otherwise involved person makes the vulnerable group ``youth`` at once.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from zicht_intake.domain.codelists import (
    CATEGORY_PRECEDENCE,
    first_by_precedence,
    highest_severity,
    police_codes,
)
from zicht_intake.domain.drafts import (
    InvolvedPerson,
    PartnerContact,
    ProviderHint,
    SignalDraft,
    add_rule,
    read_json_document,
    unique_in_order,
)
from zicht_intake.domain.limits import CLOCK_SKEW, MAX_JSON_SIGNAL_BYTES
from zicht_intake.domain.moments import parse_moment, require_aware
from zicht_intake.domain.names import (
    normalise_house_number_addition,
    normalise_postcode,
    resolve_municipality,
)
from zicht_intake.domain.privacy import Pseudonymiser, is_valid_bsn, mask_free_text
from zicht_intake.domain.problems import (
    Detail,
    Refusal,
    Rejection,
    pointer_of,
    unknown_municipality,
)
from zicht_intake.domain.validation import PartnerFormat
from zicht_schemas.codes import RejectionCode, Source, VulnerableGroup

__all__ = ["normalise_police"]

_NINE_DIGITS = re.compile(r"[0-9]{9}")


def _moment_rule(document: dict[str, Any], name: str) -> tuple[datetime | None, Rejection | None]:
    value = document.get(name)
    if not isinstance(value, str):
        return None, None
    moment = parse_moment(value)
    if moment is None:
        return None, Rejection(RejectionCode.INVALID_VALUE, Detail.NOT_A_MOMENT, "/" + name)
    return moment, None


def _rules(
    document: dict[str, Any], received_at: datetime, kafka_key: str | None
) -> list[Rejection]:
    """The police's rules beyond the schema (police.md, "Validation: what is refused")."""
    found: list[Rejection] = []
    persons = document.get("involvedPersons")
    for index, person in enumerate(persons if isinstance(persons, list) else ()):
        bsn = person.get("bsn") if isinstance(person, dict) else None
        # Only nine digits reach the 11-check; anything else already fails the schema pattern.
        if isinstance(bsn, str) and _NINE_DIGITS.fullmatch(bsn) and not is_valid_bsn(bsn):
            pointer = pointer_of(["involvedPersons", index, "bsn"])
            found.append(Rejection(RejectionCode.INVALID_VALUE, Detail.BSN_11_CHECK, pointer))
    incident, problem = _moment_rule(document, "incidentDateTime")
    if problem is not None:
        found.append(problem)
    elif incident is not None and incident > received_at + CLOCK_SKEW:
        found.append(
            Rejection(
                RejectionCode.OCCURRED_IN_FUTURE, Detail.MOMENT_IN_FUTURE, "/incidentDateTime"
            )
        )
    export, problem = _moment_rule(document, "exportDateTime")
    if problem is not None:
        found.append(problem)
    elif export is not None and incident is not None and export < incident:
        found.append(
            Rejection(RejectionCode.INVALID_VALUE, Detail.EXPORT_BEFORE_INCIDENT, "/exportDateTime")
        )
    reference = document.get("registrationNumber")
    if kafka_key is not None and isinstance(reference, str) and kafka_key != reference:
        found.append(
            Rejection(RejectionCode.INVALID_VALUE, Detail.KAFKA_KEY_MISMATCH, "/registrationNumber")
        )
    return found


def normalise_police(
    body: bytes,
    *,
    received_at: datetime,
    pseudonymiser: Pseudonymiser,
    kafka_key: str | None = None,
) -> SignalDraft | Refusal:
    """One police incident as a signal draft, or the refusal of the whole incident.

    Args:
        body: The JSON body as received (HTTP body or Kafka message value).
        received_at: When intake received it: "now" for the rules about the future.
        pseudonymiser: Replaces each involved person's BSN by its keyed hash.
        kafka_key: The Kafka message key, when the incident came from Kafka; it must equal
            ``registrationNumber``.

    Returns:
        The draft, or a refusal listing every schema keyword and rule the body fails.
    """
    received = require_aware(received_at)
    read = read_json_document(PartnerFormat.POLICE, body, MAX_JSON_SIGNAL_BYTES)
    if isinstance(read, Refusal):
        return read
    document, rejections = read
    for rule in _rules(document, received, kafka_key):
        add_rule(rejections, rule)
    if rejections:
        return Refusal(tuple(rejections))
    occurred = parse_moment(document["incidentDateTime"])
    exported = parse_moment(document["exportDateTime"])
    if occurred is None or exported is None:  # pragma: no cover - the rules refuse these
        return Refusal.of(Rejection(RejectionCode.INVALID_VALUE, Detail.NOT_A_MOMENT))
    return _draft(document, occurred, exported, pseudonymiser)


def _draft(
    document: dict[str, Any],
    occurred: datetime,
    exported: datetime,
    pseudonymiser: Pseudonymiser,
) -> SignalDraft:
    """The draft of an incident that passed the schema and the rules."""
    codes = police_codes()
    incidents = [codes.incidents[code] for code in document["incidentCodes"]]
    category = first_by_precedence((i.category for i in incidents), CATEGORY_PRECEDENCE)
    severity = highest_severity(i.severity for i in incidents)
    if category is None or severity is None:  # pragma: no cover - minItems is 1
        raise ValueError("an incident has at least one code")
    persons = tuple(
        InvolvedPerson(
            role=person["role"],
            minor=person.get("minor"),
            pseudonym=pseudonymiser.pseudonym(person["bsn"]) if "bsn" in person else None,
        )
        for person in document.get("involvedPersons", ())
    )
    # Victims and otherwise involved persons are the clients of the care location; suspects,
    # witnesses, complainants and callers are not counted as clients (their pseudonyms stay
    # with the persons, inside intake).
    clients = [person for person in persons if person.role in codes.roles_counting_for_youth]
    minor_involved = any(person.minor is True for person in clients)
    address = document["incidentAddress"]
    postcode = normalise_postcode(address["postalCode"])
    municipality = resolve_municipality(address["city"])
    warnings = () if municipality else (unknown_municipality(pointer="/incidentAddress/city"),)
    unit = document["reportingUnit"]
    return SignalDraft(
        source=Source.POLICE,
        partner_reference=document["registrationNumber"],
        occurred_at=occurred,
        reported_at=exported,
        law=None,
        category=category,
        severity=severity,
        vulnerable_group=VulnerableGroup.YOUTH if minor_involved else None,
        minor_involved=minor_involved,
        crime_indicators=unique_in_order(
            i.crime_indicator for i in incidents if i.crime_indicator is not None
        ),
        fraud_suspected=False,
        administrative_error=False,
        shortcomings=(),
        client_pseudonyms=unique_in_order(
            person.pseudonym for person in clients if person.pseudonym is not None
        ),
        clients_involved=len(clients),
        provider=ProviderHint(
            name=document["organisationName"],
            kvk=document.get("kvk"),
            agb=None,
            postcode=postcode,
            house_number=int(address["houseNumber"]),
            house_number_addition=normalise_house_number_addition(
                address.get("houseNumberAddition")
            ),
        ),
        location_postcode=postcode,
        location_municipality=municipality,
        free_text=mask_free_text(document["summary"]),
        warnings=warnings,
        contact=PartnerContact(role=None, team=f"{unit['name']} ({unit['code']})"),
        persons=persons,
    )
