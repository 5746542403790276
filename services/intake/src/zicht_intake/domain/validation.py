"""Reading a JSON body and checking it against the partner's published JSON Schema.

The schemas are the copies in ``zicht_intake/formats/`` of ``docs/partners/*.schema.json``
(a unit test keeps them byte-identical). Each failing schema keyword becomes one rejection with
the code the README's table "Schema keyword to rejection code" gives it, and an RFC 6901
pointer. Formats are asserted with intake's own checkers: ``jsonschema`` checks ``date-time``
only when ``rfc3339-validator`` is installed, and a date a partner gets wrong must never slip
through because a package is missing.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Final, cast

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from zicht_intake.domain.limits import MAX_JSON_DEPTH
from zicht_intake.domain.problems import Detail, Refusal, Rejection, pointer_of
from zicht_schemas.codes import RejectionCode

__all__ = [
    "PERSONAL_DATA_NAMES",
    "KeywordProblem",
    "PartnerFormat",
    "canonical_json",
    "format_checker",
    "format_schema",
    "is_personal_data_name",
    "keyword_problems",
    "parse_json",
    "validate_json",
]


class PartnerFormat(StrEnum):
    """A partner format with its own published JSON Schema (docs/partners/)."""

    IGJ = "igj"
    POLICE = "police"
    ACCESS_TEAM = "access_team"
    REGISTRY = "registry"
    INDICATORS = "indicators"

    @property
    def schema_file(self) -> str:
        """The schema's file name in ``docs/partners/`` and ``zicht_intake/formats/``."""
        return _SCHEMA_FILES[self]


_SCHEMA_FILES: Final = {
    PartnerFormat.IGJ: "igj.schema.json",
    PartnerFormat.POLICE: "police.schema.json",
    PartnerFormat.ACCESS_TEAM: "access-team.row.schema.json",
    PartnerFormat.REGISTRY: "registry.schema.json",
    PartnerFormat.INDICATORS: "indicators.schema.json",
}

# README: names of personal data, compared case-insensitively ignoring '-', '_' and spaces.
PERSONAL_DATA_NAMES: Final = frozenset(
    {
        "naam",
        "name",
        "voornaam",
        "achternaam",
        "firstname",
        "lastname",
        "fullname",
        "geboortedatum",
        "dateofbirth",
        "birthdate",
        "bsn",
        "adres",
        "address",
        "telefoon",
        "telefoonnummer",
        "phone",
        "email",
    }
)
_NAME_NOISE = re.compile(r"[-_\s]")


def is_personal_data_name(name: str) -> bool:
    """Whether a field name names personal data (README, "Schema keyword to rejection code")."""
    return _NAME_NOISE.sub("", name).casefold() in PERSONAL_DATA_NAMES


# --- formats -------------------------------------------------------------------------------

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_EMAIL = re.compile(r"[^@\s\x00-\x1f]+@[^@\s\x00-\x1f.]+(\.[^@\s\x00-\x1f.]+)+")


def _check_date(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _DATE.fullmatch(instance):
        return False
    try:
        date.fromisoformat(instance)
    except ValueError:
        return False
    return True


def _check_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _DATE_TIME.fullmatch(instance):
        return False
    try:
        datetime.fromisoformat(instance.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _check_email(instance: object) -> bool:
    return not isinstance(instance, str) or _EMAIL.fullmatch(instance) is not None


def format_checker() -> FormatChecker:
    """The format checker intake validates with: ``date``, ``date-time`` and ``email`` assert."""
    checker = FormatChecker(formats=())
    checker.checks("date")(_check_date)
    checker.checks("date-time")(_check_date_time)
    checker.checks("email")(_check_email)
    return checker


# --- schemas -------------------------------------------------------------------------------


@cache
def _schema(partner_format: PartnerFormat) -> dict[str, Any]:
    text = (
        resources.files("zicht_intake")
        .joinpath("formats", partner_format.schema_file)
        .read_text("utf-8")
    )
    return cast("dict[str, Any]", json.loads(text))


@cache
def _validator(partner_format: PartnerFormat) -> Draft202012Validator:
    return Draft202012Validator(_schema(partner_format), format_checker=format_checker())


def format_schema(partner_format: PartnerFormat) -> dict[str, Any]:
    """The published JSON Schema of a format (a copy: e.g. for the OpenAPI document)."""
    return copy.deepcopy(_schema(partner_format))


# --- reading JSON --------------------------------------------------------------------------

# Strings are matched whole so brackets inside them do not count towards the depth.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENING: Final = ("[", "{")
_CLOSING: Final = ("]", "}")


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError
        result[key] = value
    return result


def _no_constants(name: str) -> object:
    # NaN and Infinity are not JSON (RFC 8259), though Python's parser accepts them.
    raise ValueError(name)


def _too_deep(text: str) -> bool:
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        bracket = match.group()
        if bracket in _OPENING:
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif bracket in _CLOSING:
            depth -= 1
    return False


def _encodable(value: object) -> bool:
    """No lone surrogates (from JSON escapes such as a lone high surrogate): no UTF-8 for them."""
    try:
        if isinstance(value, str):
            value.encode("utf-8")
        elif isinstance(value, dict):
            return all(_encodable(key) and _encodable(item) for key, item in value.items())
        elif isinstance(value, list):
            return all(_encodable(item) for item in value)
    except UnicodeEncodeError:
        return False
    return True


def _nul_pointer(value: object, tokens: tuple[str | int, ...] = ()) -> str | None:
    """Where the first text (member name or string) holding U+0000 is, or None."""
    if isinstance(value, str):
        return pointer_of(tokens) if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return pointer_of(tokens)
            found = _nul_pointer(item, (*tokens, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_pointer(item, (*tokens, index))
            if found is not None:
                return found
    return None


def parse_json(body: bytes) -> object | Refusal:
    """The JSON document in ``body``, or a ``malformed_payload`` refusal saying why not.

    Refused: bytes that are not UTF-8, text that is not JSON (also ``NaN``, ``Infinity`` and
    integers beyond Python's digit limit), an object repeating a member name (which value
    would count is undefined), nesting deeper than ``MAX_JSON_DEPTH``, and text holding the NUL
    character (``\u0000``: Postgres text cannot hold it; the raw body is kept as bytes).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal.of(Rejection(RejectionCode.MALFORMED_PAYLOAD, Detail.NOT_UTF8))
    # RFC 8259 forbids a byte-order mark but allows parsers to ignore one; partners' tools add it.
    text = text.removeprefix("\ufeff")
    if _too_deep(text):
        return Refusal.of(Rejection(RejectionCode.MALFORMED_PAYLOAD, Detail.TOO_DEEP))
    try:
        document: object = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants
        )
    except _DuplicateKeyError:
        return Refusal.of(Rejection(RejectionCode.MALFORMED_PAYLOAD, Detail.DUPLICATE_KEY))
    except ValueError:
        return Refusal.of(Rejection(RejectionCode.MALFORMED_PAYLOAD, Detail.NOT_JSON))
    return _storable(document)


def _storable(document: object) -> object | Refusal:
    """The parsed document, unless it holds text Postgres cannot store (as UTF-8 without NUL)."""
    if not _encodable(document):
        return Refusal.of(Rejection(RejectionCode.MALFORMED_PAYLOAD, Detail.NOT_UTF8))
    nul = _nul_pointer(document)
    if nul is not None:
        return Refusal.of(
            Rejection(RejectionCode.MALFORMED_PAYLOAD, Detail.NUL_CHARACTER, pointer=nul)
        )
    return document


def canonical_json(body: bytes) -> bytes | None:
    """The JSON document in ``body`` written one fixed way, or None when it is no document.

    Members sorted by name, no insignificant whitespace, text as UTF-8: two bodies that differ
    only in how they were serialised (key order, spacing, escapes) give the same bytes, so a
    partner's re-serialised retry is recognised as the same submission.
    """
    document = parse_json(body)
    if isinstance(document, Refusal):
        return None
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


# --- schema errors to rejections -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeywordProblem:
    """One failing schema keyword: where (RFC 6901), which keyword, and its rejection.

    For ``required`` the pointer names the missing member itself; for ``anyOf``,
    ``additionalProperties`` and ``propertyNames`` it names the object; ``fields`` lists the
    alternatives of an ``anyOf``.
    """

    keyword: str
    pointer: str
    code: RejectionCode
    detail: str
    fields: tuple[str, ...] = ()

    def rejection(self) -> Rejection:
        """The problem as a rejection pointing into a JSON body."""
        return Rejection(self.code, self.detail, pointer=self.pointer)


_KEYWORD_CODES: Final = {
    "required": RejectionCode.MISSING_FIELD,
    "enum": RejectionCode.UNKNOWN_CODE,
    "type": RejectionCode.INVALID_VALUE,
    "pattern": RejectionCode.INVALID_VALUE,
    "format": RejectionCode.INVALID_VALUE,
    "minimum": RejectionCode.INVALID_VALUE,
    "maximum": RejectionCode.INVALID_VALUE,
    "minLength": RejectionCode.INVALID_VALUE,
    "maxLength": RejectionCode.INVALID_VALUE,
    "minItems": RejectionCode.INVALID_VALUE,
    "maxItems": RejectionCode.INVALID_VALUE,
    "uniqueItems": RejectionCode.INVALID_VALUE,
    "minProperties": RejectionCode.MISSING_FIELD,
    "anyOf": RejectionCode.PROVIDER_NOT_IDENTIFIED,
    "propertyNames": RejectionCode.UNKNOWN_CODE,
}

# The agreed form of the patterned fields, for the partner reading a rejection.
_FORMS: Final = {
    "zaaknummer": "IGJ-jjjj-nnnnnn",
    "kvkNummer": "8 digits",
    "agbCode": "8 digits",
    "kvk": "8 digits",
    "agb": "8 digits",
    "AGB-code": "8 digits",
    "postcode": "4 digits and 2 capitals (9999 AA)",
    "postalCode": "4 digits and 2 capitals (9999 AA)",
    "gemeente": "a CBS code GMnnnn or a municipality name",
    "municipality_code": "a CBS code GMnnnn",
    "contracting_municipalities": "a CBS code GMnnnn",
    "datumMelding": "an ISO 8601 date-time with UTC offset or Z",
    "incidentDateTime": "an ISO 8601 date-time with UTC offset or Z",
    "exportDateTime": "an ISO 8601 date-time with UTC offset or Z",
    "registrationNumber": "PLnnnn-nnnnnnnnnn",
    "bsn": "9 digits",
    "BSN": "9 digits",
    "datum": "dd-mm-jjjj",
    "kenmerk": "1 to 40 of A-Z a-z 0-9 / _ . -, starting with a letter or digit",
    "location_id": "lower-case letters, digits and '-'",
    "code": "capitals and digits in up to four parts separated by '-'",
}
_REQUIRED_MESSAGE = re.compile(r"'(?P<name>[^']+)' is a required property")


def _missing_member(error: ValidationError) -> str:
    match = _REQUIRED_MESSAGE.fullmatch(error.message)
    if match is not None:
        return match.group("name")
    required = cast("Sequence[str]", error.validator_value)
    instance = error.instance if isinstance(error.instance, dict) else {}
    return next((name for name in required if name not in instance), "")


def _any_of_fields(options: object) -> tuple[str, ...]:
    if not isinstance(options, list):
        return ()
    fields: list[str] = []
    for option in options:
        if isinstance(option, dict) and isinstance(option.get("required"), list):
            fields.extend(str(name) for name in option["required"])
    return tuple(fields)


def _unknown_members(error: ValidationError) -> list[str]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = schema.get("properties", {})
    return [str(name) for name in instance if name not in known]


def _problem(error: ValidationError) -> KeywordProblem:
    keyword = str(error.validator)
    path = list(error.absolute_path)
    pointer = pointer_of(path)
    value = error.validator_value
    last = str(path[-1]) if path else ""
    if keyword == "required":
        name = _missing_member(error)
        return KeywordProblem(
            keyword, pointer_of([*path, name]), RejectionCode.MISSING_FIELD, Detail.required(name)
        )
    if keyword == "additionalProperties":
        if any(is_personal_data_name(name) for name in _unknown_members(error)):
            code, detail = RejectionCode.PERSONAL_DATA_NOT_ALLOWED, Detail.PERSONAL_DATA_FIELD
        else:
            code, detail = RejectionCode.MALFORMED_PAYLOAD, Detail.UNKNOWN_FIELD
        return KeywordProblem(keyword, pointer, code, detail)
    if keyword == "anyOf":
        fields = _any_of_fields(value)
        return KeywordProblem(
            keyword, pointer, RejectionCode.PROVIDER_NOT_IDENTIFIED, Detail.any_of(fields), fields
        )
    detail = _detail(keyword, value, last)
    return KeywordProblem(
        keyword, pointer, _KEYWORD_CODES.get(keyword, RejectionCode.INVALID_VALUE), detail
    )


def _detail(keyword: str, value: Any, field: str) -> str:  # noqa: PLR0911 # one line per keyword
    if keyword == "enum":
        return Detail.unknown_code(cast("Sequence[object]", value))
    if keyword == "type":
        return Detail.wrong_type(value)
    if keyword == "pattern":
        # List items have a numeric last token; their form is the list's.
        return Detail.pattern(_FORMS.get(field))
    if keyword == "format":
        return Detail.bad_format(value)
    if keyword == "minimum":
        return Detail.minimum(value)
    if keyword == "maximum":
        return Detail.maximum(value)
    if keyword == "minLength":
        return Detail.min_length(value)
    if keyword == "maxLength":
        return Detail.max_length(value)
    if keyword == "minItems":
        return Detail.min_items(value)
    if keyword == "maxItems":
        return Detail.max_items(value)
    if keyword == "uniqueItems":
        return Detail.UNIQUE_ITEMS
    if keyword == "minProperties":
        return Detail.min_properties(value)
    return Detail.SCHEMA_OTHER


def keyword_problems(partner_format: PartnerFormat, document: object) -> tuple[KeywordProblem, ...]:
    """Every failing schema keyword of ``document``, in the validator's (stable) order."""
    problems: list[KeywordProblem] = []
    for error in _validator(partner_format).iter_errors(document):
        problem = _problem(error)
        if problem.keyword == "pattern" and problem.detail == Detail.PATTERN and error.path:
            # An item of a list (e.g. contracting_municipalities/2): name the list's form.
            parent = [token for token in error.absolute_path if isinstance(token, str)]
            if parent:
                problem = KeywordProblem(
                    problem.keyword,
                    problem.pointer,
                    problem.code,
                    Detail.pattern(_FORMS.get(parent[-1])),
                )
        if problem not in problems:
            problems.append(problem)
    return tuple(problems)


def validate_json(partner_format: PartnerFormat, document: object) -> tuple[Rejection, ...]:
    """Rejections for every schema keyword ``document`` fails; empty when it is valid.

    A body that is not a JSON object is ``malformed_payload`` as a whole: it is not a
    submission of the agreed format at all.
    """
    if not isinstance(document, dict):
        return (Rejection(RejectionCode.MALFORMED_PAYLOAD, Detail.NOT_AN_OBJECT),)
    return tuple(problem.rejection() for problem in keyword_problems(partner_format, document))
