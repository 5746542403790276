"""Constrained value types shared by the event models: ids, Dutch register numbers, times.

Patterns spell digits ``[0-9]``: pydantic's regex engine reads the digit class escape as any
Unicode digit, so it would accept Arabic-Indic digits in a KvK number.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    FiniteFloat,
    StringConstraints,
)

__all__ = [
    "IDENTIFIER_PATTERN",
    "AgbCode",
    "CloudEventId",
    "EventType",
    "Explanation",
    "FieldPath",
    "Identifier",
    "KafkaTopicName",
    "KvkNumber",
    "Label",
    "MunicipalityCode",
    "PartnerReference",
    "Points",
    "PolicyVersion",
    "Postcode",
    "ProviderId",
    "Pseudonym",
    "RiskScore",
    "RuleId",
    "RuleInputName",
    "RuleText",
    "UtcDateTime",
    "is_rfc3339",
    "looks_like_bsn",
]

IDENTIFIER_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"

# BSN eleven-test weights (elfproef): 9..2 for the first eight digits, -1 for the last.
_BSN_WEIGHTS: Final = (9, 8, 7, 6, 5, 4, 3, 2, -1)
_BSN_SEPARATORS = re.compile(r"[ .-]")
_BSN_SHAPE = re.compile(r"^[ .-]*(?:[0-9][ .-]*){8,9}$")
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_NAIVE_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$"
)


def looks_like_bsn(value: str) -> bool:
    """Whether ``value`` looks like a BSN (citizen service number, burgerservicenummer).

    A BSN is nine digits passing the eleven-test; people also write it with dots, spaces or
    dashes, or drop a leading zero. Zicht refuses such values wherever an id travels, because
    the NL GOV profile forbids personal data in context attributes and a BSN never leaves intake.

    Args:
        value: Any text.

    Returns:
        True when the digits of ``value`` (separators removed) form a valid BSN.
    """
    # The shape test fails fast on ordinary ids (this runs on every id of every event).
    if _BSN_SHAPE.fullmatch(value) is None:
        return False
    digits = _BSN_SEPARATORS.sub("", value).zfill(9)
    checksum = sum(int(d) * w for d, w in zip(digits, _BSN_WEIGHTS, strict=True))
    return checksum % 11 == 0 and digits != "000000000"


def is_rfc3339(value: str) -> bool:
    """Whether ``value`` is an RFC 3339 date-time with a UTC offset (as CloudEvents requires)."""
    return _RFC3339.fullmatch(value) is not None


def _refuse_bsn(value: object) -> object:
    # Runs before the pattern so the error says why, without repeating the value.
    if isinstance(value, str) and looks_like_bsn(value):
        raise ValueError("looks like a BSN (citizen service number); personal data is refused here")
    return value


def _refuse_bsn_pseudonym(value: object) -> object:
    # Any 8 or 9 digits, eleven-test or not: a pseudonym is never that short.
    if isinstance(value, str) and _BSN_SHAPE.fullmatch(value.strip()):
        raise ValueError(
            "looks like a BSN (citizen service number), not a pseudonym; "
            "send the keyed hash (HMAC-SHA256, hex) instead"
        )
    return value


def _require_aware_text(value: object) -> object:
    # pydantic would read a number (or numeric text) as a Unix time, and a time without offset
    # as naive; the wire format is RFC 3339 with an offset, nothing else.
    if isinstance(value, bool | int | float):
        # ValueError, not TypeError: pydantic turns only ValueError into a validation error.
        raise ValueError("must be an RFC 3339 date-time text with a UTC offset, not a number")  # noqa: TRY004
    if isinstance(value, str) and not is_rfc3339(value):
        if _NAIVE_RFC3339.fullmatch(value):
            raise ValueError("naive date-time refused: give a UTC offset, e.g. 'Z'")
        raise ValueError(
            "must be an RFC 3339 date-time with a UTC offset, e.g. 2025-03-04T10:15:00Z"
        )
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _one_decimal(value: float) -> float:
    return round(value, 1)


# Validators come after the type and its constraints in every Annotated below: a
# BeforeValidator placed first hides the constraints from the generated JSON Schema.
UtcDateTime = Annotated[
    AwareDatetime, AfterValidator(_to_utc), BeforeValidator(_require_aware_text)
]
"""A timezone-aware moment, normalised to UTC; naive times and Unix numbers are refused."""

Identifier = Annotated[
    str, StringConstraints(pattern=IDENTIFIER_PATTERN), BeforeValidator(_refuse_bsn)
]
"""An opaque id: a letter or digit, then up to 63 of letters, digits, '.', '_', ':' or '-'."""

ProviderId = Identifier
"""Zicht's own provider id (registry id); never a BSN-like number."""

PartnerReference = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}$"),
    BeforeValidator(_refuse_bsn),
]
"""A partner's own case reference, e.g. ``IGJ-2025/00123``; never a BSN-like number."""

KvkNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{8}$")]
"""Chamber of Commerce number (KvK-nummer): 8 digits."""

AgbCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{8}$")]
"""Care-provider code (AGB-code, Vektis): 8 digits."""

MunicipalityCode = Annotated[str, StringConstraints(pattern=r"^GM[0-9]{4}$")]
"""CBS municipality code (gemeentecode), e.g. GM0153 for Enschede."""

Postcode = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{3}[A-Z]{2}$")]
"""Dutch postcode without space, upper case, e.g. 7511AB."""

Pseudonym = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-f]{64}$"), BeforeValidator(_refuse_bsn_pseudonym)
]
"""A client pseudonym: HMAC-SHA256 of the BSN under the region's secret, 64 lower-case hex."""

PolicyVersion = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,31}$")]
"""A version of a policy file (assessment framework, risk model), e.g. ``2025.1``."""

RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
"""The id of a rule in the assessment framework, e.g. ``R4``."""

RuleInputName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""The snake_case name of an input a rule looked at, e.g. ``signals_12_months``."""

EventType = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(\.[a-z0-9-]+)+\.v[0-9]+$", max_length=200)
]
"""A CloudEvents type: reverse-DNS named after the domain with one version suffix."""

CloudEventId = Annotated[
    str,
    StringConstraints(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ),
]
"""A CloudEvent id: a UUID in its 8-4-4-4-12 hex form."""

KafkaTopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,249}$")]
"""A legal Kafka topic name."""

_NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]+$"

Label = Annotated[str, StringConstraints(pattern=_NO_CONTROL_CHARACTERS, max_length=200)]
"""A registered name of an organisation or location: one line, at most 200 characters."""

RuleText = Annotated[str, StringConstraints(pattern=_NO_CONTROL_CHARACTERS, max_length=500)]
"""A fixed text from a policy file (a rule's reason); never text a partner wrote."""

Explanation = Annotated[str, StringConstraints(pattern=_NO_CONTROL_CHARACTERS, max_length=500)]
"""A generated one-line explanation; never client data or text a partner wrote."""

FieldPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.$@\[\]/-]{1,200}$")]
"""Where in a submission: dotted field names, list indexes in brackets; ``$`` is the whole."""

RiskScore = Annotated[FiniteFloat, Field(ge=0, le=100), AfterValidator(_one_decimal)]
"""A risk score from 0 to 100, rounded to one decimal."""

Points = Annotated[FiniteFloat, Field(ge=-100, le=100)]
"""Points a contribution adds to a score (negative when it takes points away)."""
