"""Personal data on arrival: the BSN 11-check, keyed pseudonyms, and masking free text.

A BSN (burgerservicenummer) never travels past intake: it is checked, then replaced by an
HMAC-SHA256 under a secret only intake holds (with a key id, so the secret can rotate). Free
text stays in intake, with BSNs, e-mail addresses and phone numbers masked before it is stored
in the normalised record.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "BSN_MASK",
    "EMAIL_MASK",
    "PHONE_MASK",
    "Pseudonymiser",
    "is_valid_bsn",
    "mask_free_text",
    "normalise_bsn",
]

BSN_MASK: Final = "[BSN]"
EMAIL_MASK: Final = "[E-MAIL]"
PHONE_MASK: Final = "[TELEFOON]"

# The elfproef for BSNs (access-team.md): weights 9..2, and -1 for the last digit.
_BSN_WEIGHTS: Final = (9, 8, 7, 6, 5, 4, 3, 2, -1)
_NINE_DIGITS = re.compile(r"[0-9]{9}")
_BSN_SEPARATORS = re.compile(r"[\s.-]")


def is_valid_bsn(value: str) -> bool:
    """Whether ``value`` is exactly nine ASCII digits passing the BSN 11-check.

    ``000000000`` passes the arithmetic but is refused; an 8-digit value (a spreadsheet
    dropping a leading zero) is refused, never padded.
    """
    if _NINE_DIGITS.fullmatch(value) is None or value == "000000000":
        return False
    total = sum(int(digit) * weight for digit, weight in zip(value, _BSN_WEIGHTS, strict=True))
    return total % 11 == 0


def normalise_bsn(value: str) -> str:
    """A BSN without the spaces, dots or dashes people write in it."""
    return _BSN_SEPARATORS.sub("", value)


@dataclass(frozen=True, slots=True)
class Pseudonymiser:
    """Replaces a BSN by its keyed hash: HMAC-SHA256 under intake's secret, 64 hex characters.

    The same BSN gives the same pseudonym under the same key, so signals about one client link
    up inside intake; without the key the pseudonym cannot be traced back to the BSN.
    """

    key: bytes = field(repr=False)
    key_id: str

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("the pseudonym key must not be empty")

    def pseudonym(self, bsn: str) -> str:
        """The pseudonym of a valid BSN (separators ignored).

        Raises:
            ValueError: ``bsn`` is not a valid BSN; callers check it first (the message never
                repeats the value).
        """
        normalised = normalise_bsn(bsn)
        if not is_valid_bsn(normalised):
            raise ValueError("not a valid BSN; refusing to pseudonymise it")
        return hmac.new(self.key, normalised.encode("ascii"), hashlib.sha256).hexdigest()


_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Dutch phone numbers: 10 digits starting with 0 (06-12345678, 053-1234567, 0541 123456,
# (020) 123 4567), or +31 / 0031 followed by 9 digits, optionally with "(0)"; a single space,
# dash or dot may separate any two digits. Not preceded or followed by a letter or digit, so
# parts of longer numbers (IBANs, ids) are left alone, and never a date (01-02-2026 03:00 also
# has ten digits starting with 0).
_PHONE = re.compile(
    r"(?<![0-9A-Za-z+])"
    r"(?:"
    r"(?:\+|00)31[ .-]?(?:\(0\)[ .-]?)?[1-9](?:[ .-]?[0-9]){8}"
    r"|"
    r"(?![0-9]{1,2}[-./][0-9]{1,2}[-./][0-9]{2,4}(?![0-9]))"
    r"\(?0[1-9](?:(?:[ .-]|\) ?)?[0-9]){8}"
    r")"
    r"(?![0-9A-Za-z])"
)
# A BSN: nine digits in a row, or written 1234.56.789 / 123 456 789 / 123-45-6789 style.
_BSN_LIKE = re.compile(
    r"(?<![0-9])(?:[0-9]{9}|[0-9]{4}[ .-][0-9]{2}[ .-][0-9]{3}|[0-9]{3}[ .-][0-9]{3}[ .-][0-9]{3}"
    r"|[0-9]{3}[ .-][0-9]{2}[ .-][0-9]{4})(?![0-9])"
)


def _mask_bsn(match: re.Match[str]) -> str:
    return BSN_MASK if is_valid_bsn(normalise_bsn(match.group())) else match.group()


def mask_free_text(text: str) -> str:
    """``text`` with BSNs, e-mail addresses and Dutch phone numbers replaced by markers.

    A nine-digit number is masked as ``[BSN]`` only when it passes the 11-check, so amounts,
    dates, KvK numbers and case numbers stay readable. Names cannot be detected; partners must
    not put them in free text.
    """
    masked = _EMAIL.sub(EMAIL_MASK, text)
    masked = _BSN_LIKE.sub(_mask_bsn, masked)
    return _PHONE.sub(PHONE_MASK, masked)
