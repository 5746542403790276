"""Why intake refuses (part of) a submission, and what it accepts with a warning.

Every text a partner reads back comes from the catalogue below (:class:`Detail`,
:class:`WarningCode`): fixed sentences, at most filled in with names and limits taken from the
agreed format, never with the refused value. A problem response or a rejection event thus never
echoes a BSN, a name or anything else the partner should not have sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from zicht_schemas.codes import RejectionCode
from zicht_schemas.events.intake import RejectionReason

__all__ = [
    "Detail",
    "IntakeWarning",
    "Refusal",
    "Rejection",
    "WarningCode",
    "pointer_of",
    "pointer_tokens",
    "unknown_municipality",
]

_FIELD_PATH_MAX = 200
_RULE_TEXT_MAX = 500
# FieldPath (zicht_schemas.values) allows letters, digits and _ . $ @ [ ] / -; anything else a
# pointer token might hold is replaced so the path stays valid.
_NOT_IN_FIELD_PATH = re.compile(r"[^A-Za-z0-9_.$@\[\]/-]")
_LIST_SEPARATOR = re.compile(r"\s*,\s*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def pointer_of(tokens: Iterable[str | int]) -> str:
    """An RFC 6901 JSON Pointer from its reference tokens (``""`` is the whole document)."""
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in tokens)


def pointer_tokens(pointer: str) -> list[str]:
    """The reference tokens of an RFC 6901 JSON Pointer, unescaped."""
    if not pointer:
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer.split("/")[1:]]


def _clean(text: str, limit: int) -> str:
    return _CONTROL.sub(" ", text)[:limit]


@dataclass(frozen=True, slots=True)
class Rejection:
    """One reason (part of) a submission was refused: a code, a fixed detail, and where.

    ``pointer`` is an RFC 6901 JSON Pointer into a JSON body; ``row`` and ``column`` name a CSV
    cell (rows numbered as a spreadsheet shows them, the header is row 1); ``header`` names an
    HTTP request header (``Idempotency-Key``). None set means the submission as a whole.
    """

    code: RejectionCode
    detail: str
    pointer: str | None = None
    row: int | None = None
    column: str | None = None
    header: str | None = None

    def field_path(self) -> str:
        """Where, as ``FieldPath``: ``locatie.postcode``, ``tekortkomingen[2]``, ``row[3].BSN``."""
        if self.header is not None:
            path = "header." + self.header
        elif self.row is not None:
            path = f"row[{self.row}]"
            if self.column:
                path += "." + _LIST_SEPARATOR.sub("/", self.column.strip())
        elif self.pointer:
            path = ""
            for token in pointer_tokens(self.pointer):
                if token.isascii() and token.isdigit():
                    path += f"[{token}]"
                else:
                    path += ("." if path else "") + (token or "_")
        else:
            path = "$"
        return _NOT_IN_FIELD_PATH.sub("_", path)[:_FIELD_PATH_MAX] or "$"

    def to_reason(self) -> RejectionReason:
        """The rejection as it travels in ``intake.signal-rejected.v1``."""
        return RejectionReason(
            field=self.field_path(),
            code=self.code,
            message=_clean(self.detail, _RULE_TEXT_MAX),
        )


@dataclass(frozen=True, slots=True)
class IntakeWarning:
    """Something intake accepted but could not resolve, e.g. an unknown municipality name."""

    code: str
    detail: str
    pointer: str | None = None
    row: int | None = None
    column: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused submission (or CSV row, registry provider, indicator report); never empty."""

    rejections: tuple[Rejection, ...]

    def __post_init__(self) -> None:
        if not self.rejections:
            raise ValueError("a refusal needs at least one rejection")

    @property
    def codes(self) -> tuple[RejectionCode, ...]:
        """The rejection codes, in order."""
        return tuple(rejection.code for rejection in self.rejections)

    @classmethod
    def of(cls, *rejections: Rejection) -> Refusal:
        """A refusal for the given rejections."""
        return cls(tuple(rejections))


class WarningCode:
    """Codes of the warnings intake attaches to accepted signals."""

    UNKNOWN_MUNICIPALITY: Final = "unknown_municipality"
    """The municipality (name or place) could not be resolved to a CBS code."""


def unknown_municipality(
    *, pointer: str | None = None, row: int | None = None, column: str | None = None
) -> IntakeWarning:
    """The warning for a municipality intake could not resolve (accepted nevertheless)."""
    return IntakeWarning(
        WarningCode.UNKNOWN_MUNICIPALITY,
        "the municipality is not known by this name; the registry location matched by "
        "postcode supplies it where it can",
        pointer=pointer,
        row=row,
        column=column,
    )


def _listing(values: Sequence[object], limit: int = 400) -> str | None:
    text = ", ".join(str(value) for value in values)
    return text if len(text) <= limit else None


class Detail:
    """The catalogue of fixed detail texts; parameters come from the format, never the value."""

    # --- the submission as a whole ---------------------------------------------------------
    NOT_UTF8: Final = "the body is not valid UTF-8 text"
    NOT_JSON: Final = "the body is not valid JSON"
    DUPLICATE_KEY: Final = "the JSON body repeats a member name within one object"
    NOT_AN_OBJECT: Final = "the body must be one JSON object"
    TOO_DEEP: Final = "the JSON body is nested deeper than intake accepts"
    NOT_FINITE: Final = "a number is too large to be represented"
    NUL_CHARACTER: Final = "a text value contains the NUL character (U+0000)"

    @staticmethod
    def too_large(limit_bytes: int) -> str:
        """The body exceeds the agreed size."""
        return f"the body is larger than the agreed limit of {limit_bytes} bytes"

    # --- CSV files -------------------------------------------------------------------------
    CSV_UNREADABLE: Final = "the file is not readable as ';'-separated CSV"
    CSV_EMPTY: Final = "the file has no header row"
    CSV_NO_ROWS: Final = "the file has no data rows"
    CSV_WRONG_SEPARATOR: Final = (
        "the header row is not ';'-separated (the separator is ';', the Dutch Excel default)"
    )
    CSV_DUPLICATE_COLUMN: Final = "the header names this column twice"
    CSV_MISSING_COLUMN: Final = "the header lacks this required column"
    CSV_ROW_CELLS: Final = "the row does not have as many cells as the header has columns"

    @staticmethod
    def csv_unknown_column(position: int) -> str:
        """An unknown column refuses the whole file."""
        return (
            f"column {position} of the header is not an agreed column; unknown columns are "
            "refused because they may hold personal data"
        )

    @staticmethod
    def csv_too_many_rows(limit: int) -> str:
        """More data rows than agreed."""
        return f"the file has more than {limit} data rows; split it, each part with the header"

    # --- schema keywords -------------------------------------------------------------------
    @staticmethod
    def required(name: str) -> str:
        """A required field is absent."""
        return f"required field '{name}' is missing"

    @staticmethod
    def unknown_code(allowed: Sequence[object]) -> str:
        """A value outside a code list."""
        listing = _listing(allowed)
        return f"not one of: {listing}" if listing else "not a code of the agreed list"

    @staticmethod
    def wrong_type(expected: str | Sequence[str]) -> str:
        """A value of the wrong JSON type."""
        names = [expected] if isinstance(expected, str) else list(expected)
        return "must be " + " or ".join(_TYPE_NAMES.get(name, name) for name in names)

    PATTERN: Final = "does not have the agreed form"

    @staticmethod
    def pattern(form: str | None) -> str:
        """A text not matching the agreed pattern, with the form it should have when known."""
        return f"does not have the agreed form: {form}" if form else Detail.PATTERN

    @staticmethod
    def bad_format(name: object) -> str:
        """A text not in the agreed format (date, date-time, e-mail address)."""
        return _FORMAT_TEXTS.get(str(name), "not in the agreed format")

    @staticmethod
    def minimum(limit: object) -> str:
        """A number below the agreed range."""
        return f"below the minimum of {limit}"

    @staticmethod
    def maximum(limit: object) -> str:
        """A number above the agreed range."""
        return f"above the maximum of {limit}"

    @staticmethod
    def min_length(limit: object) -> str:
        """A text shorter than agreed."""
        return "must not be empty" if limit == 1 else f"shorter than {limit} characters"

    @staticmethod
    def max_length(limit: object) -> str:
        """A text longer than agreed."""
        return f"longer than {limit} characters"

    @staticmethod
    def min_items(limit: object) -> str:
        """A list shorter than agreed."""
        return f"fewer than {limit} items"

    @staticmethod
    def max_items(limit: object) -> str:
        """A list longer than agreed."""
        return f"more than {limit} items"

    UNIQUE_ITEMS: Final = "the list repeats an item"

    @staticmethod
    def min_properties(limit: object) -> str:
        """An object with too few members."""
        return f"needs at least {limit} member(s)"

    @staticmethod
    def any_of(fields: Sequence[str]) -> str:
        """None of the alternatives that identify the provider is given."""
        if fields:
            return f"none of {' / '.join(fields)} is given: the provider cannot be identified"
        return "the provider cannot be identified"

    UNKNOWN_FIELD: Final = "a field the agreed format does not have; unknown fields are refused"
    PERSONAL_DATA_FIELD: Final = (
        "personal data is not part of the agreed format (persons are never named; no names, "
        "dates of birth, addresses, phone numbers or e-mail addresses)"
    )
    SCHEMA_OTHER: Final = "does not match the agreed format"

    # --- rules beyond the schema -------------------------------------------------------------
    BSN_11_CHECK: Final = "not a valid BSN (11-check)"
    NOT_A_DATE: Final = "not a calendar date"
    NOT_A_MOMENT: Final = "not a real moment (month, day, hour, minute, second or UTC offset)"
    DATE_IN_FUTURE: Final = "lies after today (Europe/Amsterdam)"
    MOMENT_IN_FUTURE: Final = "lies more than 5 minutes after intake received the submission"
    REPORTED_BEFORE_ESTABLISHED: Final = "the report date lies before the date of the finding"
    EXPORT_BEFORE_INCIDENT: Final = "the export lies before the start of the incident"
    DUPLICATE_KENMERK: Final = "this kenmerk is already used by an earlier row of the file"
    REFERENCE_IS_BSN: Final = "a reference must not be a BSN"
    ID_IS_BSN: Final = "an id must not be a BSN"
    KAFKA_KEY_MISMATCH: Final = "the message key differs from the reference in the body"
    PROVIDER_ID: Final = "the provider id does not have the agreed form ^[a-z0-9][a-z0-9-]{2,63}$"
    FOUNDED_IN_FUTURE: Final = "the founding date lies after today"
    DUPLICATE_LOCATION_ID: Final = "this location id is already used by an earlier location"
    NOT_A_REGION_MUNICIPALITY: Final = "not a municipality of the deployment's regions"
    CONTROL_CHARACTERS: Final = "contains control characters (line breaks, tabs)"
    PROVIDER_COLUMNS_DIFFER: Final = (
        "differs from the provider's first row; provider columns must be identical on every row"
    )
    HOUSE_NUMBER_DIGITS: Final = "must be digits only"
    PERIOD_IN_FUTURE: Final = "the period end lies after today"
    PERIOD_YEAR: Final = "the period end must lie in the years 2000 to 2100"
    SUPERVISION_ONLY: Final = (
        "source 'supervision' reports only diploma_fraud and certification_and_insurance_missing"
    )
    NOT_A_NUMBER: Final = "not a number: write a decimal with '.' or ',' and no '%'"
    NOT_AN_INTEGER: Final = "not a whole number"
    NOT_JA_NEE: Final = "neither 'ja' nor 'nee'"
    NOT_FINITE_NUMBER: Final = "the number is out of range"
    DUPLICATE_INDICATOR: Final = "the indicator appears more than once in this report"


_TYPE_NAMES: Final = {
    "object": "a JSON object",
    "array": "a JSON array",
    "string": "a text (JSON string)",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}

_FORMAT_TEXTS: Final = {
    "date": "not a calendar date in the form jjjj-mm-dd",
    "date-time": "not an RFC 3339 date-time with a UTC offset",
    "email": "not an e-mail address",
}
