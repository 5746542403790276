"""Kafka subscriptions of the triage service: each translates one event into one call."""

from __future__ import annotations

from zicht_runtime.kit import ConsumerSpec
from zicht_triage.service import TriageService

__all__ = ["build_consumers"]


def build_consumers(service: TriageService) -> list[ConsumerSpec]:
    """The subscriptions of this service, built from its use cases (none before its issue)."""
    del service
    return []
