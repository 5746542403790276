"""The one error a consumer gets for a message that is not a valid Zicht event."""

from collections.abc import Sequence
from enum import StrEnum

from pydantic import ValidationError

__all__ = ["InvalidEventError", "InvalidEventKind", "describe_validation_error"]

# How many field errors a message lists before it says "and N more": enough to fix a
# producer, short enough for a log line and a dead-letter reason.
_MAX_DETAILS = 10


class InvalidEventKind(StrEnum):
    """What is wrong with a message; stable, so it can label metrics and dead letters."""

    MISSING_ATTRIBUTE = "missing_attribute"
    """A required CloudEvents attribute (ce_* header or structured field) is absent."""
    INVALID_ATTRIBUTE = "invalid_attribute"
    """An attribute is present but malformed (not UTF-8, not a URN, not RFC 3339, ...)."""
    UNSUPPORTED_SPECVERSION = "unsupported_specversion"
    """The specversion is not 1.0."""
    UNKNOWN_TYPE = "unknown_type"
    """The type names no Zicht event."""
    UNEXPECTED_TYPE = "unexpected_type"
    """The type is a Zicht event, but not the one the consumer expects."""
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    """The data is not application/json."""
    INVALID_JSON = "invalid_json"
    """The payload is not JSON (or not a JSON object)."""
    INVALID_DATA = "invalid_data"
    """The data is JSON but fails the event's model."""


class InvalidEventError(ValueError):
    """A message is not a valid Zicht CloudEvent; the message says precisely why.

    The message and ``details`` name fields and rules, never field values: an event may hold
    pseudonyms, and what failed validation may be personal data sent by mistake.

    Attributes:
        kind: What is wrong, as a stable code.
        reason: The one-line summary.
        details: One line per failing field, at most ten.
        event_type: The CloudEvents type, when it could be read.
        event_id: The CloudEvents id, when it could be read.
    """

    def __init__(
        self,
        reason: str,
        *,
        kind: InvalidEventKind,
        details: Sequence[str] = (),
        event_type: str | None = None,
        event_id: str | None = None,
    ) -> None:
        self.kind = kind
        self.reason = reason
        self.details = tuple(details)
        self.event_type = event_type
        self.event_id = event_id
        super().__init__(self._message())

    def _message(self) -> str:
        context = ", ".join(
            part
            for part in (
                f"type {self.event_type}" if self.event_type else "",
                f"id {self.event_id}" if self.event_id else "",
            )
            if part
        )
        text = f"{self.reason} ({context})" if context else self.reason
        if self.details:
            text += ": " + "; ".join(self.details)
        return text


def _location(loc: Sequence[int | str], prefix: str) -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(root)"


def describe_validation_error(error: ValidationError, *, prefix: str = "") -> tuple[str, ...]:
    """One line per field error of ``error``: where, what rule, never the offending value.

    Args:
        error: A pydantic validation error.
        prefix: Put before each location, e.g. ``data``.

    Returns:
        At most ten lines, plus a count of the rest.
    """
    errors = error.errors(include_url=False, include_input=False, include_context=False)
    lines: list[str] = []
    for item in errors[:_MAX_DETAILS]:
        message = item["msg"]
        # A few pydantic parsers quote a character of the input ("found `x` at 3"); cut it.
        message = message.split(", found `", 1)[0]
        if item["type"] == "uuid_parsing":
            message = "Input should be a valid UUID"
        lines.append(f"{_location(item['loc'], prefix)}: {message}")
    if len(errors) > _MAX_DETAILS:
        lines.append(f"and {len(errors) - _MAX_DETAILS} more")
    return tuple(lines)
