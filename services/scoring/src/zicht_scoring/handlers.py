"""Kafka subscriptions of the scoring service: each translates one event into one call.

A batch's events are handed over one after the other (:func:`zicht_runtime.consumer.each`).
"""

from __future__ import annotations

from zicht_runtime.consumer import Received, each
from zicht_runtime.db import DbConnection
from zicht_runtime.kit import ConsumerSpec
from zicht_schemas import (
    IndicatorsReportedV1,
    InvestigationChangedV1,
    ProviderRegisteredV1,
    SignalAssessedV1,
    topics,
)
from zicht_scoring.service import ScoringService

__all__ = ["build_consumers"]


def build_consumers(service: ScoringService) -> list[ConsumerSpec]:
    """The registry, indicators, assessments and investigation decisions."""

    async def on_provider(conn: DbConnection, received: Received[ProviderRegisteredV1]) -> None:
        await service.record_provider(conn, received.event.data)

    async def on_indicators(conn: DbConnection, received: Received[IndicatorsReportedV1]) -> None:
        await service.record_indicators(conn, received.event.data, received.event.id)

    async def on_assessed(conn: DbConnection, received: Received[SignalAssessedV1]) -> None:
        await service.record_assessment(conn, received.event.data, received.event.id)

    async def on_investigation(
        conn: DbConnection, received: Received[InvestigationChangedV1]
    ) -> None:
        await service.record_investigation(conn, received.event.data, received.event.id)

    return [
        ConsumerSpec(topics.PROVIDER_REGISTERED, ProviderRegisteredV1, each(on_provider)),
        ConsumerSpec(topics.INDICATORS_REPORTED, IndicatorsReportedV1, each(on_indicators)),
        ConsumerSpec(topics.SIGNAL_ASSESSED, SignalAssessedV1, each(on_assessed)),
        ConsumerSpec(topics.INVESTIGATION_CHANGED, InvestigationChangedV1, each(on_investigation)),
    ]
