"""Access and neighbourhood teams' CSV uploads (docs/partners/access-team.md) to signal drafts.

A readable file gives one result per data row: a draft, or the row's refusal naming the
column at fault. Only a file intake cannot read as agreed is refused whole.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Final

from zicht_intake.domain.codelists import access_team_codes
from zicht_intake.domain.csvfiles import CsvRecord, read_csv
from zicht_intake.domain.drafts import CsvRow, PartnerContact, ProviderHint, SignalDraft
from zicht_intake.domain.limits import MAX_ACCESS_TEAM_CSV_BYTES, MAX_ACCESS_TEAM_CSV_ROWS
from zicht_intake.domain.moments import parse_dmy, require_aware, start_of_day, today_in_amsterdam
from zicht_intake.domain.names import normalise_postcode, resolve_municipality
from zicht_intake.domain.privacy import Pseudonymiser, is_valid_bsn, mask_free_text
from zicht_intake.domain.problems import (
    Detail,
    Refusal,
    Rejection,
    pointer_tokens,
    unknown_municipality,
)
from zicht_intake.domain.validation import PartnerFormat, keyword_problems
from zicht_schemas.codes import RejectionCode, Source
from zicht_schemas.events.intake import ShortcomingFinding
from zicht_schemas.values import looks_like_bsn

__all__ = ["ACCESS_TEAM_COLUMNS", "TEAM_PATTERN", "parse_access_team_csv"]

ACCESS_TEAM_COLUMNS: Final = (
    "kenmerk",
    "datum",
    "BSN",
    "aanbieder",
    "AGB-code",
    "postcode",
    "gemeente",
    "voorziening",
    "signaal",
    "ernst",
    "toelichting",
    "team",
)
"""The agreed columns, spelled as access-team.md spells them (header matching ignores case)."""

_LOWER_CASED: Final = ("voorziening", "signaal", "ernst")
TEAM_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
"""The team named by an API key: the first part of every ``<team>/<kenmerk>`` reference."""
_KENMERK = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.-]{0,39}")
_NINE_DIGITS = re.compile(r"[0-9]{9}")
_DMY_SHAPE = re.compile(r"[0-9]{2}-[0-9]{2}-[0-9]{4}")


def _normalised(cells: dict[str, str]) -> dict[str, str]:
    """A row as the row schema reads it: empty cells left out, codes lower-cased."""
    row = {name: value for name, value in cells.items() if value}
    for name in _LOWER_CASED:
        if name in row:
            row[name] = row[name].lower()
    if "postcode" in row:
        row["postcode"] = row["postcode"].upper()
    return row


def _reference(team: str, kenmerk: str | None) -> str | None:
    if kenmerk is None or not _KENMERK.fullmatch(kenmerk) or looks_like_bsn(kenmerk):
        return None
    return f"{team}/{kenmerk}"


def _schema_rejections(row: dict[str, str], number: int) -> list[Rejection]:
    found: list[Rejection] = []
    for problem in keyword_problems(PartnerFormat.ACCESS_TEAM, row):
        if problem.fields:
            column: str | None = ", ".join(problem.fields)
        else:
            tokens = pointer_tokens(problem.pointer)
            column = tokens[0] if tokens else None
        found.append(Rejection(problem.code, problem.detail, row=number, column=column))
    return found


def _rules(row: dict[str, str], number: int, today_date: date, seen: set[str]) -> list[Rejection]:
    """The rules beyond the row schema (access-team.md, "Validation and the per-row result")."""
    found: list[Rejection] = []
    bsn = row.get("BSN")
    if bsn is not None and _NINE_DIGITS.fullmatch(bsn) and not is_valid_bsn(bsn):
        found.append(
            Rejection(RejectionCode.INVALID_VALUE, Detail.BSN_11_CHECK, row=number, column="BSN")
        )
    datum = row.get("datum")
    if datum is not None and _DMY_SHAPE.fullmatch(datum):
        day = parse_dmy(datum)
        if day is None:
            found.append(
                Rejection(
                    RejectionCode.INVALID_VALUE, Detail.NOT_A_DATE, row=number, column="datum"
                )
            )
        elif day > today_date:
            found.append(
                Rejection(
                    RejectionCode.OCCURRED_IN_FUTURE,
                    Detail.DATE_IN_FUTURE,
                    row=number,
                    column="datum",
                )
            )
    kenmerk = row.get("kenmerk")
    if kenmerk is not None:
        if looks_like_bsn(kenmerk):
            # A reference travels in events and status answers: it must never be a BSN.
            found.append(
                Rejection(
                    RejectionCode.PERSONAL_DATA_NOT_ALLOWED,
                    Detail.REFERENCE_IS_BSN,
                    row=number,
                    column="kenmerk",
                )
            )
        if kenmerk in seen:
            found.append(
                Rejection(
                    RejectionCode.DUPLICATE_REFERENCE,
                    Detail.DUPLICATE_KENMERK,
                    row=number,
                    column="kenmerk",
                )
            )
        seen.add(kenmerk)
    return found


def parse_access_team_csv(
    data: bytes, *, received_at: datetime, pseudonymiser: Pseudonymiser, team: str
) -> Refusal | tuple[CsvRow, ...]:
    """An access team's CSV file: a result per data row, or the refusal of the whole file.

    Args:
        data: The file as received (HTTP body or Kafka message value).
        received_at: When intake received it: "now" for "not after today".
        pseudonymiser: Replaces each BSN by its keyed hash.
        team: The team the API key (or Kafka principal) names; partner references are
            ``<team>/<kenmerk>``.

    Returns:
        One :class:`CsvRow` per non-empty data row, in file order; or a refusal when the file
        cannot be read as agreed (``malformed_payload``) or has too many rows
        (``invalid_value``).

    Raises:
        ValueError: ``team`` does not fit a partner reference, or ``received_at`` is naive
            (both errors of the caller, not of the partner).
    """
    received = require_aware(received_at)
    if not TEAM_PATTERN.fullmatch(team):
        raise ValueError("the team must be 1-64 of A-Z a-z 0-9 . _ : - (it prefixes references)")
    records = read_csv(
        data,
        columns=ACCESS_TEAM_COLUMNS,
        max_bytes=MAX_ACCESS_TEAM_CSV_BYTES,
        max_rows=MAX_ACCESS_TEAM_CSV_ROWS,
    )
    if isinstance(records, Refusal):
        return records
    today_date = today_in_amsterdam(received)
    seen: set[str] = set()
    return tuple(_row(record, team, today_date, seen, pseudonymiser) for record in records)


def _row(
    record: CsvRecord,
    team: str,
    today_date: date,
    seen: set[str],
    pseudonymiser: Pseudonymiser,
) -> CsvRow:
    if record.problem is not None:
        return CsvRow(record.row, None, Refusal.of(record.problem))
    row = _normalised(record.cells)
    reference = _reference(team, row.get("kenmerk"))
    rejections = _schema_rejections(row, record.row)
    for rule in _rules(row, record.row, today_date, seen):
        if not any(existing.column == rule.column for existing in rejections):
            rejections.append(rule)
    if rejections:
        return CsvRow(record.row, reference, Refusal(tuple(rejections)))
    if reference is None:  # pragma: no cover - a kenmerk that is no reference is refused above
        refusal = Refusal.of(
            Rejection(
                RejectionCode.INVALID_VALUE, Detail.pattern(None), row=record.row, column="kenmerk"
            )
        )
        return CsvRow(record.row, None, refusal)
    return CsvRow(record.row, reference, _draft(row, record.row, reference, pseudonymiser))


def _draft(
    row: dict[str, str], number: int, reference: str, pseudonymiser: Pseudonymiser
) -> SignalDraft | Refusal:
    """The draft of a row that passed the row schema and the rules."""
    codes = access_team_codes()
    provision = codes.provisions[row["voorziening"]]
    kind = codes.signals[row["signaal"]]
    severity = codes.severities[row["ernst"]] if "ernst" in row else kind.default_severity
    day = parse_dmy(row["datum"])
    if day is None:  # pragma: no cover - the rules refuse it
        return Refusal.of(
            Rejection(RejectionCode.INVALID_VALUE, Detail.NOT_A_DATE, row=number, column="datum")
        )
    bsn = row.get("BSN")
    postcode = normalise_postcode(row["postcode"]) if "postcode" in row else None
    municipality = resolve_municipality(row["gemeente"])
    warnings = () if municipality else (unknown_municipality(row=number, column="gemeente"),)
    toelichting = row.get("toelichting")
    return SignalDraft(
        source=Source.ACCESS_TEAM,
        partner_reference=reference,
        occurred_at=start_of_day(day),
        reported_at=None,
        law=provision.law,
        category=kind.category,
        severity=severity,
        vulnerable_group=provision.vulnerable_group,
        minor_involved=False,
        crime_indicators=(kind.crime_indicator,) if kind.crime_indicator else (),
        fraud_suspected=False,
        administrative_error=kind.administrative_error,
        shortcomings=(
            (ShortcomingFinding(code=kind.shortcoming, kind=kind.shortcoming.kind),)
            if kind.shortcoming
            else ()
        ),
        client_pseudonyms=(pseudonymiser.pseudonym(bsn),) if bsn else (),
        # One client when the row names one by BSN; a row without BSN may concern no client.
        clients_involved=1 if bsn else 0,
        provider=ProviderHint(
            name=row["aanbieder"],
            kvk=None,
            agb=row.get("AGB-code"),
            postcode=postcode,
            house_number=None,
            house_number_addition=None,
        ),
        location_postcode=postcode,
        location_municipality=municipality,
        free_text=mask_free_text(toelichting) if toelichting else None,
        warnings=warnings,
        contact=PartnerContact(role=None, team=row["team"]),
    )
