"""Comparing what partners write: provider names, postcodes and municipalities.

Partners spell the same provider differently ("Zorggroep De Proefhoeve B.V." by contract
management, "zorggroep de proefhoeve bv" by an officer); intake compares folded keys, never the
raw text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from zicht_schemas.regions import regions

__all__ = [
    "LEGAL_FORM_WORDS",
    "normalise_house_number_addition",
    "normalise_postcode",
    "provider_name_key",
    "resolve_municipality",
]

LEGAL_FORM_WORDS: Final = frozenset(
    {
        "bv",
        "nv",
        "cv",
        "vof",
        "stichting",
        "stg",
        "vereniging",
        "cooperatie",
        "ua",
        "ba",
        "wa",
        "maatschap",
        "eenmanszaak",
    }
)
"""Legal-form words ignored in provider names (after folding; ``B.V.`` folds to ``bv``)."""

_PARENTHESISED = re.compile(r"\([^()]*\)")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_POSTCODE = re.compile(r"([1-9][0-9]{3})\s*([A-Za-z]{2})")
_MUNICIPALITY_CODE = re.compile(r"GM[0-9]{4}")


def _fold(text: str) -> str:
    """Lower case ASCII: diacritics dropped (Coöperatie -> cooperatie)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()


def provider_name_key(name: str) -> str:
    """A provider name folded for comparison.

    Case, diacritics, punctuation, spacing, legal-form words (``B.V.``, ``BV``, ``N.V.``,
    ``Stichting``, ``V.O.F.``, ``Coöperatie``, ``U.A.``, ...) and remarks in parentheses (an
    officer's "(woonlocatie)") are ignored. A name of legal-form words only gives ``""``, which
    matches nothing.
    """
    folded = _fold(_PARENTHESISED.sub(" ", name))
    # Dots join the letters of an abbreviation: B.V. -> bv, V.O.F. -> vof.
    words = _NOT_WORD.sub(" ", folded.replace(".", "")).split()
    return "".join(word for word in words if word not in LEGAL_FORM_WORDS)


def normalise_postcode(text: str) -> str | None:
    """A Dutch postcode as Zicht writes it (``7512 cd`` -> ``7512CD``); None if it is none."""
    match = _POSTCODE.fullmatch(text.strip())
    return None if match is None else (match.group(1) + match.group(2)).upper()


def normalise_house_number_addition(text: str | None) -> str | None:
    """A house-number addition folded for comparison (``-a``, `` A`` -> ``A``); None if empty."""
    if text is None:
        return None
    folded = re.sub(r"[\s\-/.]", "", text).upper()
    return folded or None


def resolve_municipality(text: str) -> str | None:
    """The CBS code of a municipality given as code or name; None when it cannot be resolved.

    A ``GMnnnn`` code is returned as is, also when it lies outside the reference regions (a
    location may be anywhere in the country); a name is looked up in the reference regions
    (case, diacritics, hyphens, spaces and a leading "gemeente" ignored).
    """
    stripped = text.strip()
    if _MUNICIPALITY_CODE.fullmatch(stripped.upper()):
        return stripped.upper()
    if not stripped:
        return None
    found = regions().municipality_by_name(stripped)
    return found.code if found is not None else None
