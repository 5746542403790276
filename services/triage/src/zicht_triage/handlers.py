"""Kafka subscriptions of the triage service: each translates one event into one call.

A batch's events are handed over one after the other (:func:`zicht_runtime.consumer.each`).
"""

from __future__ import annotations

from zicht_runtime.consumer import Received, each
from zicht_runtime.db import DbConnection
from zicht_runtime.kit import ConsumerSpec
from zicht_schemas import ProviderRegisteredV1, SignalReceivedV1, topics
from zicht_triage.service import TriageService

__all__ = ["build_consumers"]


def build_consumers(service: TriageService) -> list[ConsumerSpec]:
    """Signals to assess, and the provider registry that gives them context."""

    async def on_signal(conn: DbConnection, received: Received[SignalReceivedV1]) -> None:
        await service.assess_signal(conn, received.event)

    async def on_provider(conn: DbConnection, received: Received[ProviderRegisteredV1]) -> None:
        await service.record_provider(conn, received.event.data)

    return [
        ConsumerSpec(topics.PROVIDER_REGISTERED, ProviderRegisteredV1, each(on_provider)),
        ConsumerSpec(topics.SIGNAL_RECEIVED, SignalReceivedV1, each(on_signal)),
    ]
