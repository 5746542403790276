"""A screen for text that must never carry personal data: pseudonyms and BSNs.

Webhook payloads copy a few texts from upstream (a provider's registered name, rule texts,
score explanations). The contracts say none of them holds client data; this screen is the
second line. It lives with the contracts because the alert model refuses any text that fails
it, so a subscriber parsing an alert with ``zicht_schemas`` applies the same screen notify
applied when it built the alert.
"""

import re
from typing import Final

from zicht_schemas.values import looks_like_bsn

__all__ = ["carries_personal_data"]

# A pseudonym is 64 hex characters (HMAC-SHA256); any long hex run is refused, because a
# truncated pseudonym links a client just as well. UUIDs (runs of at most 12) pass.
_HEX_RUN: Final = re.compile(r"[0-9A-Fa-f]{24,}")
# Digits with the separators people write a BSN with (dots, spaces, dashes).
_DIGIT_RUN: Final = re.compile(r"[0-9](?:[ .-]?[0-9])*")
_SEPARATORS: Final = re.compile(r"[ .-]")
_BSN_LENGTHS: Final = (8, 9)  # nine digits, or eight when a leading zero was dropped


def carries_personal_data(text: str) -> bool:
    """Whether ``text`` looks like it carries a client pseudonym or a BSN.

    Args:
        text: Any text about to go into (or read from) a webhook payload.

    Returns:
        True when ``text`` holds a run of 24 or more hex characters (a pseudonym or part of
        one) or a number of 8 or 9 digits (separators allowed) that passes the BSN
        eleven-test. Conservative: an innocent number that passes the test is withheld too.
    """
    if _HEX_RUN.search(text):
        return True
    for run in _DIGIT_RUN.finditer(text):
        digits = _SEPARATORS.sub("", run.group())
        if len(digits) in _BSN_LENGTHS and looks_like_bsn(digits):
            return True
    return False
