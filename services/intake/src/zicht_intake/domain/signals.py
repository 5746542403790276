"""Partner signals to normalised, pre-identification drafts: IGJ, police and access teams.

The normalisers live in one module per format (:mod:`igj`, :mod:`police`,
:mod:`access_team`); this module gathers them with the draft types and reads a partner's own
reference from a raw body, for idempotency and for rejection events.
"""

from __future__ import annotations

import re
from typing import Final

from zicht_intake.domain.access_team import ACCESS_TEAM_COLUMNS, parse_access_team_csv
from zicht_intake.domain.drafts import (
    CsvRow,
    InvolvedPerson,
    PartnerContact,
    ProviderHint,
    SignalDraft,
)
from zicht_intake.domain.igj import normalise_igj
from zicht_intake.domain.limits import MAX_JSON_SIGNAL_BYTES
from zicht_intake.domain.police import normalise_police
from zicht_intake.domain.validation import PartnerFormat, parse_json

__all__ = [
    "ACCESS_TEAM_COLUMNS",
    "CsvRow",
    "InvolvedPerson",
    "PartnerContact",
    "ProviderHint",
    "SignalDraft",
    "normalise_igj",
    "normalise_police",
    "parse_access_team_csv",
    "reference_of",
]

# The reference member of each JSON signal format, with the schema's pattern: a reference read
# from a refused body goes into a rejection event only when it has the agreed form (so never a
# BSN or other text a partner put in the wrong place).
_REFERENCES: Final = {
    PartnerFormat.IGJ: ("zaaknummer", re.compile(r"IGJ-[0-9]{4}-[0-9]{6}")),
    PartnerFormat.POLICE: ("registrationNumber", re.compile(r"PL[0-9]{4}-[0-9]{10}")),
}


def reference_of(partner_format: PartnerFormat, body: bytes) -> str | None:
    """The partner's own reference in a raw JSON signal body, if it can be read; never raises.

    Only IGJ (``zaaknummer``) and police (``registrationNumber``) bodies carry one: a CSV file's
    references are per row (:class:`CsvRow`), a registry entry is named by the path, and an
    indicator report by provider, source and period (re-posting one overwrites, it is no
    duplicate), so those give None.
    """
    found = _REFERENCES.get(partner_format)
    if found is None or len(body) > MAX_JSON_SIGNAL_BYTES:
        return None
    name, pattern = found
    document = parse_json(body)
    if not isinstance(document, dict):
        return None
    value = document.get(name)
    if isinstance(value, str) and pattern.fullmatch(value):
        return value
    return None
