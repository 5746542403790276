"""The dead-letter envelope: a message a consumer cannot process, kept with its reason.

The original value is copied as is. On the partner topics that can be personal data, so
dead-letter topics get the ACLs and retention of the topic they shadow.
"""

import base64
import binascii
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Self

from pydantic import Field, StringConstraints, model_validator

from zicht_schemas import topics
from zicht_schemas.codes import PayloadEncoding
from zicht_schemas.events._base import EventData, WireModel
from zicht_schemas.values import Identifier, KafkaTopicName, UtcDateTime

__all__ = ["DeadLetteredV1", "EncodedBytes", "OriginalHeader"]

_ErrorType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,199}$")]
_ConsumerGroup = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,249}$")]
_HeaderName = Annotated[str, StringConstraints(min_length=1, max_length=255)]


def _encode(raw: bytes) -> tuple[PayloadEncoding, str]:
    try:
        return PayloadEncoding.UTF8, raw.decode("utf-8")
    except UnicodeDecodeError:
        return PayloadEncoding.BASE64, base64.b64encode(raw).decode("ascii")


def _decode(encoding: PayloadEncoding, value: str) -> bytes:
    if encoding is PayloadEncoding.UTF8:
        return value.encode("utf-8")
    return base64.b64decode(value, validate=True)


def _check_base64(encoding: PayloadEncoding, value: str) -> None:
    if encoding is PayloadEncoding.BASE64:
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError("value is not valid base64") from None


class EncodedBytes(WireModel):
    """Raw bytes as text: the UTF-8 text when they are valid UTF-8, else base64."""

    encoding: PayloadEncoding = Field(description="utf-8 when value is the text, else base64.")
    value: str = Field(description="The bytes, as text or in standard base64 (RFC 4648).")

    @classmethod
    def of(cls, raw: bytes) -> Self:
        """Encode ``raw`` as text when it is UTF-8, else as base64."""
        encoding, value = _encode(raw)
        return cls(encoding=encoding, value=value)

    def to_bytes(self) -> bytes:
        """The original bytes."""
        return _decode(self.encoding, self.value)

    @model_validator(mode="after")
    def _valid(self) -> Self:
        _check_base64(self.encoding, self.value)
        return self


class OriginalHeader(WireModel):
    """One header of the original Kafka record, in its original order."""

    name: _HeaderName = Field(description="The header name, e.g. ce_type or traceparent.")
    encoding: PayloadEncoding = Field(description="utf-8 when value is the text, else base64.")
    value: str = Field(description="The header value, as text or in standard base64.")

    @classmethod
    def of(cls, name: str, raw: bytes) -> Self:
        """Encode one header, as text when its value is UTF-8, else as base64."""
        encoding, value = _encode(raw)
        return cls(name=name, encoding=encoding, value=value)

    def to_bytes(self) -> bytes:
        """The original header value."""
        return _decode(self.encoding, self.value)

    @model_validator(mode="after")
    def _valid(self) -> Self:
        _check_base64(self.encoding, self.value)
        return self


class DeadLetteredV1(EventData):
    """A message a consumer could not process (poison message), on ``<topic>.dlq``.

    Key: the original key, bytes for bytes. Transient faults are retried, never dead-lettered.
    """

    EVENT_TYPE: ClassVar[str] = "nl.zorgtoezicht.message.dead-lettered.v1"
    TOPIC: ClassVar[str] = topics.DEAD_LETTER_TOPIC_PATTERN
    """Not one topic: a regular expression matching every ``<topic>.dlq``; see kafka_topic()."""

    original_topic: KafkaTopicName = Field(description="The topic the message was read from.")
    original_partition: int = Field(ge=0, description="Its partition.")
    original_offset: int = Field(ge=0, description="Its offset in that partition.")
    original_timestamp: UtcDateTime | None = Field(
        default=None, description="The record's Kafka timestamp (UTC), if it had one."
    )
    original_key: EncodedBytes | None = Field(
        default=None, description="The record's key; absent when the record had none."
    )
    original_headers: tuple[OriginalHeader, ...] = Field(
        default=(), description="Every header of the record, in order, duplicates kept."
    )
    original_value: EncodedBytes | None = Field(
        default=None, description="The record's value; absent for a null value (tombstone)."
    )
    error_type: _ErrorType = Field(
        description="The class name of the error, e.g. InvalidEventError or PoisonMessageError."
    )
    reason: str = Field(
        max_length=2000,
        description="The error message, for operators; never echoes personal data.",
    )
    consumer_group: _ConsumerGroup = Field(description="The consumer group that gave up.")
    service: Identifier = Field(description="The service that gave up, e.g. triage.")
    attempts: int = Field(default=1, ge=1, description="How often processing was attempted.")
    dead_lettered_at: UtcDateTime = Field(description="When it was dead-lettered (UTC).")

    @classmethod
    def for_record(
        cls,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: Iterable[tuple[str, bytes]],
        error: BaseException,
        reason: str,
        consumer_group: str,
        service: str,
        timestamp_ms: int | None = None,
        attempts: int = 1,
        dead_lettered_at: datetime | None = None,
    ) -> Self:
        """Build the dead letter of one consumed record.

        Args:
            topic: The topic the record was read from.
            partition: Its partition.
            offset: Its offset.
            key: Its key, or None.
            value: Its value, or None for a tombstone.
            headers: Its headers, as (name, value) pairs in order.
            error: The error that made it poison; its class name is recorded.
            reason: The message to record, already free of personal data.
            consumer_group: The consumer group that gave up.
            service: The service that gave up.
            timestamp_ms: The record's Kafka timestamp in milliseconds, if known.
            attempts: How often processing was attempted.
            dead_lettered_at: When; now (UTC) by default.

        Returns:
            The dead-letter event data; publish it with ``to_kafka_record``.
        """
        return cls(
            original_topic=topic,
            original_partition=partition,
            original_offset=offset,
            original_timestamp=(
                datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
                if timestamp_ms is not None
                else None
            ),
            original_key=EncodedBytes.of(key) if key is not None else None,
            original_headers=tuple(OriginalHeader.of(name, raw) for name, raw in headers),
            original_value=EncodedBytes.of(value) if value is not None else None,
            error_type=type(error).__name__,
            reason=reason if len(reason) <= 2000 else reason[:1997] + "...",  # noqa: PLR2004
            consumer_group=consumer_group,
            service=service,
            attempts=attempts,
            dead_lettered_at=dead_lettered_at or datetime.now(UTC),
        )

    def partition_key(self) -> bytes | None:
        """The original key, so the dead letters of one provider stay in order."""
        return self.original_key.to_bytes() if self.original_key is not None else None

    def kafka_topic(self) -> str:
        """``<original topic>.dlq``."""
        return topics.dead_letter_topic(self.original_topic)

    @model_validator(mode="after")
    def _not_a_dead_letter_itself(self) -> Self:
        if topics.is_dead_letter_topic(self.original_topic):
            raise ValueError("a dead-letter topic's messages are never dead-lettered again")
        return self
