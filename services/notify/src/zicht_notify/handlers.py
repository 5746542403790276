"""Kafka subscriptions of the notify service: each translates one event into one call."""

from __future__ import annotations

from zicht_notify.service import NotifyService
from zicht_runtime.kit import ConsumerSpec

__all__ = ["build_consumers"]


def build_consumers(service: NotifyService) -> list[ConsumerSpec]:
    """The subscriptions of this service, built from its use cases (none before its issue)."""
    del service
    return []
