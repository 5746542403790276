"""Webhook signatures per the Standard Webhooks specification (HMAC-SHA256, ``v1``).

The signed content is ``"{webhook-id}.{webhook-timestamp}.{body}"``; the signature header holds
one ``v1,<base64>`` per active secret, space-separated, so a receiver still holding the previous
secret keeps verifying while a rotation overlaps. Secrets are ``whsec_`` + base64 of the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as random_secrets
from collections.abc import Sequence
from typing import Final

__all__ = [
    "SECRET_PREFIX",
    "WEBHOOK_ID_HEADER",
    "WEBHOOK_SIGNATURE_HEADER",
    "WEBHOOK_TIMESTAMP_HEADER",
    "generate_secret",
    "sign",
    "signature",
]

SECRET_PREFIX: Final = "whsec_"  # noqa: S105  # the spec's prefix, not a secret
WEBHOOK_ID_HEADER: Final = "webhook-id"
WEBHOOK_TIMESTAMP_HEADER: Final = "webhook-timestamp"
WEBHOOK_SIGNATURE_HEADER: Final = "webhook-signature"

_SECRET_BYTES: Final = 32
# The specification allows keys of 24 to 64 bytes.
_MIN_KEY_BYTES: Final = 24
_MAX_KEY_BYTES: Final = 64
# As notify's WebhookId, without '.': the id is followed by '.' in the signed content.
_WEBHOOK_ID: Final = re.compile(r"^[A-Za-z0-9_:-]{1,128}$")


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(_SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a signing secret starts with {SECRET_PREFIX!r}")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        # Tolerate missing padding, as the reference library does.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("a signing secret is whsec_ followed by base64") from None
    if not _MIN_KEY_BYTES <= len(key) <= _MAX_KEY_BYTES:
        raise ValueError(f"a signing key is {_MIN_KEY_BYTES} to {_MAX_KEY_BYTES} bytes")
    return key


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64 HMAC-SHA256>`` signature of a message under ``secret``."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign(secrets: Sequence[str], webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery attempt.

    Args:
        secrets: The subscription's active secrets, newest first; during a rotation the
            previous one too. Repeats are signed once.
        webhook_id: The alert's ``webhook-id`` (the same on every attempt).
        timestamp: Seconds since the Unix epoch, at the time of this attempt.
        body: The exact bytes POSTed.

    Returns:
        ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (one ``v1,...`` per
        secret, space-separated), as a new dict the caller may add headers to.

    Raises:
        ValueError: When there is no secret, a secret is malformed, the id is not a
            webhook id, or the timestamp is negative.
    """
    unique = list(dict.fromkeys(secrets))
    if not unique:
        raise ValueError("at least one signing secret is needed")
    if not _WEBHOOK_ID.fullmatch(webhook_id):
        raise ValueError("a webhook id is 1 to 128 letters, digits, '_', ':' or '-'")
    if isinstance(timestamp, bool) or timestamp < 0:
        raise ValueError("the timestamp is seconds since the Unix epoch")
    return {
        WEBHOOK_ID_HEADER: webhook_id,
        WEBHOOK_TIMESTAMP_HEADER: str(timestamp),
        WEBHOOK_SIGNATURE_HEADER: " ".join(
            signature(secret, webhook_id, timestamp, body) for secret in unique
        ),
    }
