"""Kafka subscriptions of the notify service: each translates one event into one call.

A batch's events are handed over one after the other (:func:`zicht_runtime.consumer.each`).
"""

from __future__ import annotations

from zicht_notify.service import NotifyService
from zicht_runtime.consumer import Received, each
from zicht_runtime.db import DbConnection
from zicht_runtime.kit import ConsumerSpec
from zicht_schemas import ProviderRegisteredV1, ProviderRiskChangedV1, SignalAssessedV1, topics

__all__ = ["build_consumers"]


def build_consumers(service: NotifyService) -> list[ConsumerSpec]:
    """The registry (relations), assessments and risk changes to route."""

    async def on_provider(conn: DbConnection, received: Received[ProviderRegisteredV1]) -> None:
        await service.record_provider(conn, received.event.data)

    async def on_assessed(conn: DbConnection, received: Received[SignalAssessedV1]) -> None:
        await service.route_event(conn, received.event)

    async def on_risk(conn: DbConnection, received: Received[ProviderRiskChangedV1]) -> None:
        await service.route_event(conn, received.event)

    return [
        ConsumerSpec(topics.PROVIDER_REGISTERED, ProviderRegisteredV1, each(on_provider)),
        ConsumerSpec(topics.SIGNAL_ASSESSED, SignalAssessedV1, each(on_assessed)),
        ConsumerSpec(topics.PROVIDER_RISK_CHANGED, ProviderRiskChangedV1, each(on_risk)),
    ]
