"""Webhook secrets sealed at rest: encrypted and authenticated under notify's own keys.

A subscription's signing secrets are what a forger of alerts needs, so ``subscriptions``
keeps them sealed: a database dump, a backup or a read-only leak shows ciphertext only.
The keys come from notify's settings (``ZICHT_WEBHOOK_SECRET_KEYS``) and never reach
Postgres.

The construction uses the standard library alone (``cryptography`` is not in this
project's lock): HMAC-SHA256 in counter mode as the key stream (a PRF in counter mode, the
shape of CTR encryption), then HMAC-SHA256 over everything (encrypt-then-MAC), with
separate encryption and MAC keys derived from the configured key, a random 128-bit nonce
per seal, and the subscription id as associated data so a sealed value cannot be moved to
another row. A sealed value is ``zsb1 | len(key id) | key id | nonce | ciphertext | tag``:
the key id travels with the ciphertext, so a rotated-out key still opens old rows while the
current one seals new ones. A later format (AES-GCM, say) gets a new prefix and the reseal
command moves rows to it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "MIN_KEY_BYTES",
    "SealingError",
    "SecretBox",
    "SecretKeyError",
    "parse_keys",
]

MIN_KEY_BYTES: Final = 32
_FORMAT: Final = b"zsb1"
_NONCE_BYTES: Final = 16
_TAG_BYTES: Final = 32
_BLOCK: Final = hashlib.sha256().digest_size
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
_SEPARATOR: Final = "\n"  # secrets are whsec_ + base64: no line breaks inside


class SecretKeyError(ValueError):
    """Notify has no usable key for its webhook secrets: missing, malformed or short."""


class SealingError(ValueError):
    """A sealed value that cannot be opened: an unknown key id, or tampered with."""


def _decode_key(text: str, key_id: str) -> bytes:
    normal = text.strip().translate(str.maketrans("-_", "+/"))
    try:
        key = base64.b64decode(normal + "=" * (-len(normal) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SecretKeyError(f"key {key_id!r} is not base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise SecretKeyError(
            f"key {key_id!r} has {len(key)} bytes; it needs at least {MIN_KEY_BYTES} "
            "(openssl rand -base64 32)"
        )
    return key


def parse_keys(value: str) -> list[tuple[str, bytes]]:
    """``id:base64key[,id:base64key...]``, the current key first, into ``(id, key)`` pairs.

    Raises:
        SecretKeyError: An entry without an id, a bad id, a key that is not base64 or is
            shorter than 32 bytes, or an id given twice.
    """
    keys: list[tuple[str, bytes]] = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        key_id, colon, text = entry.partition(":")
        if not colon or not _KEY_ID.match(key_id):
            raise SecretKeyError(
                "each entry is <key id>:<base64 key>, the id of letters, digits, '.', '_' or "
                "'-' (up to 40)"
            )
        if key_id in dict(keys):
            raise SecretKeyError(f"key id {key_id!r} is given twice")
        keys.append((key_id, _decode_key(text, key_id)))
    if not keys:
        raise SecretKeyError("no key given")
    return keys


def _derive(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, b"zicht notify webhook secrets/" + purpose, hashlib.sha256).digest()


def _stream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + _BLOCK - 1) // _BLOCK
    return b"".join(
        hmac.new(key, nonce + n.to_bytes(4, "big"), hashlib.sha256).digest() for n in range(blocks)
    )[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


@dataclass(frozen=True)
class _Key:
    key_id: str
    encryption: bytes = field(repr=False)
    authentication: bytes = field(repr=False)

    @classmethod
    def of(cls, key_id: str, key: bytes) -> _Key:
        return cls(key_id, _derive(key, b"encrypt"), _derive(key, b"authenticate"))

    def tag(self, header: bytes, nonce: bytes, ciphertext: bytes, context: bytes) -> bytes:
        message = header + nonce + len(context).to_bytes(4, "big") + context + ciphertext
        return hmac.new(self.authentication, message, hashlib.sha256).digest()


class SecretBox:
    """Seals a subscription's secrets under the current key; opens them under any known key."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise SecretKeyError("no key given")
        self._keys = {key_id: _Key.of(key_id, key) for key_id, key in keys}
        self.current_key_id: str = keys[0][0]
        """The id of the key new seals use; the others only open."""

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        """The box of the ``ZICHT_WEBHOOK_SECRET_KEYS`` setting's value."""
        return cls(parse_keys(value))

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key id this box can open."""
        return frozenset(self._keys)

    def seal(self, values: Sequence[str], context: bytes) -> bytes:
        """``values`` (a subscription's secrets, newest first) sealed for the row ``context``."""
        if any(_SEPARATOR in value for value in values):
            raise ValueError("a secret holds a line break")
        key = self._keys[self.current_key_id]
        plain = _SEPARATOR.join(values).encode()
        header = _FORMAT + bytes([len(key.key_id)]) + key.key_id.encode()
        nonce = secrets.token_bytes(_NONCE_BYTES)
        ciphertext = _xor(plain, _stream(key.encryption, nonce, len(plain)))
        return header + nonce + ciphertext + key.tag(header, nonce, ciphertext, context)

    def key_id_of(self, sealed: bytes) -> str:
        """The id of the key ``sealed`` was sealed under."""
        if not sealed.startswith(_FORMAT) or len(sealed) <= len(_FORMAT):
            raise SealingError("not a sealed value of a known format")
        size = sealed[len(_FORMAT)]
        return sealed[len(_FORMAT) + 1 : len(_FORMAT) + 1 + size].decode(errors="replace")

    def open(self, sealed: bytes, context: bytes) -> list[str]:
        """The secrets sealed in ``sealed`` for the row ``context``.

        Raises:
            SealingError: The key id is not among this box's keys, or the value was changed
                or belongs to another row.
        """
        key_id = self.key_id_of(sealed)
        key = self._keys.get(key_id)
        if key is None:
            raise SealingError(
                f"sealed under key {key_id!r}, which ZICHT_WEBHOOK_SECRET_KEYS does not hold"
            )
        start = len(_FORMAT) + 1 + len(key_id.encode())
        header, nonce = sealed[:start], sealed[start : start + _NONCE_BYTES]
        ciphertext, tag = sealed[start + _NONCE_BYTES : -_TAG_BYTES], sealed[-_TAG_BYTES:]
        if len(nonce) != _NONCE_BYTES or len(sealed) < start + _NONCE_BYTES + _TAG_BYTES:
            raise SealingError("a sealed value cut short")
        if not hmac.compare_digest(tag, key.tag(header, nonce, ciphertext, context)):
            raise SealingError("a sealed value that was changed, or belongs to another row")
        plain = _xor(ciphertext, _stream(key.encryption, nonce, len(ciphertext)))
        return plain.decode().split(_SEPARATOR)
