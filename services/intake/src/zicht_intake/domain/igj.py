"""IGJ's findings (docs/partners/igj.md) to a normalised signal draft."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from zicht_intake.domain.codelists import igj_codes
from zicht_intake.domain.drafts import (
    PartnerContact,
    ProviderHint,
    SignalDraft,
    add_rule,
    read_json_document,
    unique_in_order,
)
from zicht_intake.domain.limits import CLOCK_SKEW, MAX_JSON_SIGNAL_BYTES
from zicht_intake.domain.moments import (
    AMSTERDAM,
    parse_iso_date,
    parse_moment,
    require_aware,
    start_of_day,
    today_in_amsterdam,
)
from zicht_intake.domain.names import normalise_postcode, resolve_municipality
from zicht_intake.domain.privacy import Pseudonymiser, mask_free_text
from zicht_intake.domain.problems import Detail, Refusal, Rejection, unknown_municipality
from zicht_intake.domain.validation import PartnerFormat
from zicht_schemas.codes import Law, RejectionCode, Source, VulnerableGroup
from zicht_schemas.events.intake import ShortcomingFinding

__all__ = ["normalise_igj"]


def _text(document: dict[str, Any], *path: str) -> str | None:
    value: Any = document
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value if isinstance(value, str) else None


def _established(document: dict[str, Any]) -> date | None:
    text = _text(document, "datumVaststelling")
    return parse_iso_date(text) if text is not None else None


def _rules(
    document: dict[str, Any], received_at: datetime, kafka_key: str | None
) -> list[Rejection]:
    """IGJ's rules beyond the schema (igj.md, "Validation: what is refused")."""
    found: list[Rejection] = []
    established = _established(document)
    if established is not None and established > today_in_amsterdam(received_at):
        # Refused for this; comparing the report date with it would only repeat the problem.
        established = None
        found.append(
            Rejection(RejectionCode.OCCURRED_IN_FUTURE, Detail.DATE_IN_FUTURE, "/datumVaststelling")
        )
    reported_text = _text(document, "datumMelding")
    if reported_text is not None:
        reported = parse_moment(reported_text)
        if reported is None:
            found.append(
                Rejection(RejectionCode.INVALID_VALUE, Detail.NOT_A_MOMENT, "/datumMelding")
            )
        elif reported > received_at + CLOCK_SKEW:
            found.append(
                Rejection(
                    RejectionCode.OCCURRED_IN_FUTURE, Detail.MOMENT_IN_FUTURE, "/datumMelding"
                )
            )
        elif established is not None and reported.astimezone(AMSTERDAM).date() < established:
            found.append(
                Rejection(
                    RejectionCode.INVALID_VALUE,
                    Detail.REPORTED_BEFORE_ESTABLISHED,
                    "/datumMelding",
                )
            )
    reference = _text(document, "zaaknummer")
    if kafka_key is not None and reference is not None and kafka_key != reference:
        found.append(
            Rejection(RejectionCode.INVALID_VALUE, Detail.KAFKA_KEY_MISMATCH, "/zaaknummer")
        )
    return found


def normalise_igj(
    body: bytes,
    *,
    received_at: datetime,
    pseudonymiser: Pseudonymiser,
    kafka_key: str | None = None,
) -> SignalDraft | Refusal:
    """One IGJ finding as a signal draft, or the refusal of the whole finding.

    Args:
        body: The JSON body as received (HTTP body or Kafka message value).
        received_at: When intake received it: "now" for the rules about the future.
        pseudonymiser: Unused (IGJ sends no BSN); taken so every signal format is called alike.
        kafka_key: The Kafka message key, when the finding came from Kafka; it must equal
            ``zaaknummer``.

    Returns:
        The draft, or a refusal listing every schema keyword and rule the body fails.
    """
    del pseudonymiser  # IGJ's format has no place for a BSN
    received = require_aware(received_at)
    read = read_json_document(PartnerFormat.IGJ, body, MAX_JSON_SIGNAL_BYTES)
    if isinstance(read, Refusal):
        return read
    document, rejections = read
    for rule in _rules(document, received, kafka_key):
        add_rule(rejections, rule)
    if rejections:
        return Refusal(tuple(rejections))
    established = _established(document)
    reported = parse_moment(document["datumMelding"])
    if established is None or reported is None:  # pragma: no cover - the schema and rules refuse
        return Refusal.of(Rejection(RejectionCode.INVALID_VALUE, Detail.NOT_A_MOMENT))
    return _draft(document, established, reported)


def _draft(document: dict[str, Any], established: date, reported: datetime) -> SignalDraft:
    """The draft of a finding that passed the schema and the rules."""
    codes = igj_codes()
    finding = codes.findings[document["soortBevinding"]]
    law = codes.laws[document["wet"]]
    # The schema's integer also admits 3.0; the code list is keyed by the digit.
    severity = codes.severities[str(int(document["ernst"]))]
    target_group = document.get("doelgroep")
    if target_group is not None:
        vulnerable = codes.target_groups[target_group]
    else:
        vulnerable = VulnerableGroup.YOUTH if law is Law.JEUGDWET else VulnerableGroup.NONE
    shortcomings = unique_in_order(
        codes.shortcomings[code] for code in document.get("tekortkomingen", ())
    )
    provider = document["zorgaanbieder"]
    location = document["locatie"]
    postcode = normalise_postcode(location["postcode"])
    municipality = resolve_municipality(location["gemeente"])
    warnings = () if municipality else (unknown_municipality(pointer="/locatie/gemeente"),)
    contact = document["contact"]
    return SignalDraft(
        source=Source.IGJ,
        partner_reference=document["zaaknummer"],
        occurred_at=start_of_day(established),
        reported_at=reported,
        law=law,
        category=finding.category,
        severity=severity,
        vulnerable_group=vulnerable,
        minor_involved=False,
        crime_indicators=unique_in_order(
            indicator for indicator in (finding.crime_indicator,) if indicator is not None
        ),
        fraud_suspected=False,
        administrative_error=False,
        shortcomings=tuple(ShortcomingFinding(code=s, kind=s.kind) for s in shortcomings),
        client_pseudonyms=(),
        clients_involved=0,
        provider=ProviderHint(
            name=provider["naam"],
            kvk=provider.get("kvkNummer"),
            agb=provider.get("agbCode"),
            postcode=postcode,
            house_number=None,
            house_number_addition=None,
        ),
        location_postcode=postcode,
        location_municipality=municipality,
        free_text=mask_free_text(document["omschrijving"]),
        warnings=warnings,
        contact=PartnerContact(
            role=contact["rol"], team=contact["team"], mailbox=contact.get("functioneleMailbox")
        ),
    )
