"""Kafka subscriptions of the intake service: each translates one event into one call."""

from __future__ import annotations

from zicht_intake.service import IntakeService
from zicht_runtime.kit import ConsumerSpec

__all__ = ["build_consumers"]


def build_consumers(service: IntakeService) -> list[ConsumerSpec]:
    """The subscriptions of this service, built from its use cases (none before its issue)."""
    del service
    return []
