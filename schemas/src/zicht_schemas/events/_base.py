"""Base classes of every wire model: frozen, documented, tolerant of fields added later."""

from collections.abc import Iterable
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["EventData", "WebhookData", "WireModel", "unique"]

_T = TypeVar("_T")


class WireModel(BaseModel):
    """A value on the wire: immutable, and unknown fields are ignored (forward compatible)."""

    # extra="ignore": a consumer on an older minor version of a model must accept events
    # carrying optional fields added since (DESIGN.md: consumers ignore what they do not know).
    model_config = ConfigDict(frozen=True, extra="ignore")


class EventData(WireModel):
    """The ``data`` of one CloudEvent type; subclasses name their type, topic and key."""

    EVENT_TYPE: ClassVar[str]
    """The CloudEvents ``type``: reverse-DNS, domain-named, one version suffix."""
    TOPIC: ClassVar[str]
    """The Kafka topic the event is published on (see :mod:`zicht_schemas.topics`)."""

    def about_provider(self) -> str | None:
        """The provider id this event is about: the CloudEvent ``subject``; None if none."""
        provider_id = getattr(self, "provider_id", None)
        return provider_id if isinstance(provider_id, str) else None

    def partition_key(self) -> bytes | None:
        """The Kafka key (UTF-8): the provider id, unless the event's contract says otherwise."""
        provider_id = self.about_provider()
        return provider_id.encode() if provider_id is not None else None

    def kafka_topic(self) -> str:
        """The topic this event goes to; constant per type except for dead letters."""
        return self.TOPIC


class WebhookData(WireModel):
    """The ``data`` of a CloudEvent notify POSTs to a subscriber's webhook; never on Kafka.

    Not an :class:`EventData`: it has no topic and no partition key, so nothing that publishes
    or consumes Kafka records can mistake it for an event of a topic.
    """

    EVENT_TYPE: ClassVar[str]
    """The CloudEvents ``type``: reverse-DNS, domain-named, one version suffix."""

    def about_provider(self) -> str | None:
        """The provider id this payload is about: the CloudEvent ``subject``; None if none."""
        return None


def unique(values: Iterable[_T], what: str) -> None:
    """Raise ``ValueError`` naming ``what`` when ``values`` holds a value twice.

    The message names no value: these lists may hold pseudonyms.
    """
    seen: set[_T] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} must not repeat a value")
        seen.add(value)
