"""Contract management's barrier-model indicator reports (docs/partners/indicators.md).

A report is identified by provider, source and ``period_end``. In a CSV import each row is one
value and is accepted or refused on its own (a report merges per indicator, so an accepted row
never depends on another); the accepted rows of one report travel together.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from uuid import UUID

from zicht_intake.domain.codelists import indicator_codes
from zicht_intake.domain.csvfiles import CsvRecord, read_csv
from zicht_intake.domain.drafts import add_rule, read_json_document
from zicht_intake.domain.limits import (
    MAX_IMPORT_CSV_BYTES,
    MAX_IMPORT_CSV_ROWS,
    MAX_INDICATORS_BYTES,
)
from zicht_intake.domain.moments import parse_iso_date, require_aware, today_in_amsterdam
from zicht_intake.domain.problems import Detail, Refusal, Rejection, pointer_of, pointer_tokens
from zicht_intake.domain.registry import provider_id_rules, shown_provider_id
from zicht_intake.domain.validation import PartnerFormat, keyword_problems
from zicht_schemas.codes import IndicatorCode, IndicatorSource, IndicatorValueKind, RejectionCode
from zicht_schemas.events.intake import IndicatorsReportedV1, IndicatorValue

__all__ = [
    "INDICATOR_CSV_COLUMNS",
    "SUPERVISION_INDICATORS",
    "IndicatorReport",
    "IndicatorsCsvReport",
    "normalise_indicators",
    "parse_indicators_csv",
]

SUPERVISION_INDICATORS: Final = frozenset(
    {IndicatorCode.DIPLOMA_FRAUD, IndicatorCode.CERTIFICATION_AND_INSURANCE_MISSING}
)
"""The findings supervisors establish: the only indicators source ``supervision`` reports."""

# IndicatorsReportedV1.period_year accepts these years.
_FIRST_YEAR: Final = 2000
_LAST_YEAR: Final = 2100


@dataclass(frozen=True, slots=True)
class IndicatorReport:
    """One indicator report of a provider: source, the moment described, and the values."""

    source: IndicatorSource
    period_year: int
    reported_at: datetime
    values: tuple[IndicatorValue, ...]
    period_end: date | None = None

    def to_event(self, report_id: UUID, provider_id: str) -> IndicatorsReportedV1:
        """The report as ``intake.indicators-reported.v1``."""
        return IndicatorsReportedV1(
            report_id=report_id,
            provider_id=provider_id,
            source=self.source,
            period_year=self.period_year,
            reported_at=self.reported_at,
            indicators=self.values,
        )


def _finite(value: object) -> float | None:
    """A JSON number as a float, or None when no float can hold it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _period_rules(text: object, today: date) -> Rejection | None:
    period_end = parse_iso_date(text) if isinstance(text, str) else None
    if period_end is None:
        return None
    if period_end > today:
        return Rejection(RejectionCode.INVALID_VALUE, Detail.PERIOD_IN_FUTURE, "/period_end")
    if not _FIRST_YEAR <= period_end.year <= _LAST_YEAR:
        return Rejection(RejectionCode.INVALID_VALUE, Detail.PERIOD_YEAR, "/period_end")
    return None


def _rules(document: dict[str, Any], provider_id: str | None, today: date) -> list[Rejection]:
    """indicators.md's rules beyond the schema; pointer None means the provider id (the path)."""
    found: list[Rejection] = []
    if provider_id is not None:
        found.extend(provider_id_rules(provider_id, RejectionCode.PROVIDER_NOT_IDENTIFIED))
    period = _period_rules(document.get("period_end"), today)
    if period is not None:
        found.append(period)
    values = document.get("values")
    codes = indicator_codes().indicators
    supervision = document.get("source") == IndicatorSource.SUPERVISION.value
    for code, value in values.items() if isinstance(values, dict) else ():
        info = codes.get(code)
        if info is None:
            continue
        pointer = pointer_of(["values", code])
        if supervision and info.code not in SUPERVISION_INDICATORS:
            found.append(Rejection(RejectionCode.INVALID_VALUE, Detail.SUPERVISION_ONLY, pointer))
        elif (
            info.kind is not IndicatorValueKind.FLAG
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and _finite(value) is None
        ):
            found.append(Rejection(RejectionCode.INVALID_VALUE, Detail.NOT_FINITE_NUMBER, pointer))
    return found


def _value(code: str, value: object) -> IndicatorValue:
    info = indicator_codes().indicators[code]
    if info.kind is IndicatorValueKind.FLAG:
        return IndicatorValue(code=info.code, value=bool(value))
    number = _finite(value)
    if number is None:  # pragma: no cover - the rules refuse it
        raise ValueError("the indicator value passed the schema and the rules")
    return IndicatorValue(code=info.code, value=number)


def _report(document: dict[str, Any], reported_at: datetime) -> IndicatorReport:
    period_end = parse_iso_date(document["period_end"])
    if period_end is None:  # pragma: no cover - the schema's format refuses it
        raise ValueError("period_end passed the schema, so it is a date")
    return IndicatorReport(
        source=IndicatorSource(document["source"]),
        period_year=period_end.year,
        reported_at=reported_at,
        values=tuple(_value(code, value) for code, value in document["values"].items()),
        period_end=period_end,
    )


def normalise_indicators(
    body: bytes, *, provider_id: str, received_at: datetime
) -> IndicatorReport | Refusal:
    """A ``POST /v1/providers/{id}/indicators`` body as a report, or its refusal as a whole.

    Args:
        body: The JSON body as received.
        provider_id: The ``{id}`` of the path; whether the registry knows it is the service's
            check (``provider_not_identified``), its form is checked here.
        received_at: When intake received it: the report's ``reported_at`` and "now" for
            "period_end is not after today".

    Returns:
        The report, or a refusal listing every schema keyword and rule the body fails.
    """
    received = require_aware(received_at)
    read = read_json_document(PartnerFormat.INDICATORS, body, MAX_INDICATORS_BYTES)
    if isinstance(read, Refusal):
        return read
    document, rejections = read
    for rule in _rules(document, provider_id, today_in_amsterdam(received)):
        add_rule(rejections, rule)
    if rejections:
        return Refusal(tuple(rejections))
    return _report(document, received)


# --- CSV import ----------------------------------------------------------------------------

INDICATOR_CSV_COLUMNS: Final = ("provider_id", "source", "period_end", "indicator", "value")
"""The agreed columns of the indicator CSV import (indicators.md, "CSV import")."""

_FLAGS: Final = {"ja": True, "nee": False}
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_DECIMAL = re.compile(r"-?[0-9]{1,300}(?:[.,][0-9]{1,300})?")


@dataclass(frozen=True, slots=True)
class IndicatorsCsvReport:
    """A part of an indicator CSV import: the accepted rows of one report, or one refused row.

    ``result`` is the report made of the accepted rows of one provider, source and period end,
    or the refusal of a single row (``rows`` then holds that row only).
    """

    provider_id: str
    rows: tuple[int, ...]
    result: IndicatorReport | Refusal


def _cell_value(code: str, text: str) -> tuple[object, str | None]:
    """The JSON value of a value cell for the indicator's type, or the rule it breaks."""
    info = indicator_codes().indicators.get(code)
    if info is None:
        return text, None  # an unknown indicator: the schema refuses its name
    if info.kind is IndicatorValueKind.FLAG:
        flag = _FLAGS.get(text.casefold())
        return (flag, None) if flag is not None else (text, Detail.NOT_JA_NEE)
    if info.kind is IndicatorValueKind.COUNT:
        return (int(text), None) if _INTEGER.fullmatch(text) else (text, Detail.NOT_AN_INTEGER)
    if _DECIMAL.fullmatch(text):
        return float(text.replace(",", ".")), None
    return text, Detail.NOT_A_NUMBER


def _column_of(pointer: str | None) -> str:
    """The CSV column a one-value report's pointer points into."""
    if pointer is None:
        return "provider_id"
    tokens = pointer_tokens(pointer)
    if not tokens:
        return "indicator"
    if tokens[0] == "values":
        return "value" if len(tokens) > 1 else "indicator"
    return tokens[0]


@dataclass
class _Row:
    record: CsvRecord
    key: tuple[str, str, str]
    rejections: list[Rejection]
    value: object = None


def _check_row(record: CsvRecord, today: date) -> _Row:
    cells = record.cells
    key = (cells.get("provider_id", ""), cells.get("source", ""), cells.get("period_end", ""))
    row = _Row(record, key, [])
    if record.problem is not None:
        row.rejections.append(record.problem)
        return row
    missing = [column for column in INDICATOR_CSV_COLUMNS if not cells[column]]
    row.rejections.extend(
        Rejection(
            RejectionCode.MISSING_FIELD, Detail.required(column), row=record.row, column=column
        )
        for column in missing
    )
    document: dict[str, Any] = {
        name: cells[name] for name in ("source", "period_end") if cells[name]
    }
    broken: str | None = None
    if cells["indicator"] and cells["value"]:
        row.value, broken = _cell_value(cells["indicator"], cells["value"])
        if broken is not None:
            row.rejections.append(
                Rejection(RejectionCode.INVALID_VALUE, broken, row=record.row, column="value")
            )
        else:
            document["values"] = {cells["indicator"]: row.value}
    found = [
        problem.rejection()
        for problem in keyword_problems(PartnerFormat.INDICATORS, document)
        # Missing cells are reported above, each in its own column.
        if problem.keyword not in {"required", "minProperties"}
    ]
    # An empty provider id is reported above as missing; the rule on its form needs one.
    for rule in _rules(document, cells["provider_id"] or None, today):
        add_rule(found, rule)
    row.rejections.extend(
        Rejection(
            rejection.code, rejection.detail, row=record.row, column=_column_of(rejection.pointer)
        )
        for rejection in found
    )
    return row


def parse_indicators_csv(
    data: bytes, *, received_at: datetime
) -> Refusal | tuple[IndicatorsCsvReport, ...]:
    """An indicator CSV import: its accepted reports and refused rows, or the file's refusal.

    Rows with the same ``provider_id``, ``source`` and ``period_end`` form one report. Each row
    is checked on its own as a one-value report; an indicator appearing twice in one report
    refuses every row of it (Zicht cannot tell which is right).

    Args:
        data: The file as received.
        received_at: When intake received it: ``reported_at`` of every report and "now" for
            "period_end is not after today".

    Returns:
        Per report, one :class:`IndicatorsCsvReport` of its accepted rows (when any), and one
        per refused row; ordered by their first row. Or a refusal when the file cannot be read
        as agreed.
    """
    received = require_aware(received_at)
    records = read_csv(
        data,
        columns=INDICATOR_CSV_COLUMNS,
        max_bytes=MAX_IMPORT_CSV_BYTES,
        max_rows=MAX_IMPORT_CSV_ROWS,
    )
    if isinstance(records, Refusal):
        return records
    today = today_in_amsterdam(received)
    rows = [_check_row(record, today) for record in records]
    counts: dict[tuple[tuple[str, str, str], str], int] = {}
    for row in rows:
        indicator = row.record.cells.get("indicator", "")
        counts[row.key, indicator] = counts.get((row.key, indicator), 0) + 1
    for row in rows:
        indicator = row.record.cells.get("indicator", "")
        if indicator and counts[row.key, indicator] > 1:
            row.rejections.append(
                Rejection(
                    RejectionCode.INVALID_VALUE,
                    Detail.DUPLICATE_INDICATOR,
                    row=row.record.row,
                    column="indicator",
                )
            )
    return _parts(rows, received)


def _parts(rows: list[_Row], received: datetime) -> tuple[IndicatorsCsvReport, ...]:
    parts: list[tuple[int, IndicatorsCsvReport]] = []
    accepted: dict[tuple[str, str, str], list[_Row]] = {}
    for row in rows:
        if row.rejections:
            refusal = Refusal(tuple(row.rejections))
            part = IndicatorsCsvReport(shown_provider_id(row.key[0]), (row.record.row,), refusal)
            parts.append((row.record.row, part))
        else:
            accepted.setdefault(row.key, []).append(row)
    for (provider_id, source, period_end), group in accepted.items():
        document = {
            "source": source,
            "period_end": period_end,
            "values": {row.record.cells["indicator"]: row.value for row in group},
        }
        report = _report(document, received)
        rows_of = tuple(row.record.row for row in group)
        parts.append((rows_of[0], IndicatorsCsvReport(provider_id, rows_of, report)))
    return tuple(part for _, part in sorted(parts, key=lambda item: item[0]))
