"""Kafka subscriptions of the intake service: each translates one record into one call.

Partners that publish on Kafka send their own format to ``partner.<source>.v1``; those
records go through the same normalisers as HTTP submissions. A partner's bad input is a
rejection (a ``signal.rejected`` event and a rejected submission), not a dead letter: the
dead-letter topic is for what intake cannot process through its own fault.
Triage's events come back so a signaller can see what became of its signal.
"""

from __future__ import annotations

from zicht_intake.config import IntakeSettings
from zicht_intake.domain import PartnerFormat
from zicht_intake.service import Incoming, IntakeService
from zicht_runtime.consumer import RawRecord, Received, each
from zicht_runtime.db import DbConnection
from zicht_runtime.kit import ConsumerSpec, RecordConsumerSpec
from zicht_schemas import InvestigationChangedV1, SignalAssessedV1, Source, topics

__all__ = ["build_consumers", "build_record_consumers"]


def build_consumers(service: IntakeService) -> list[ConsumerSpec]:
    """Triage's decisions and investigation changes, kept for the signaller's status."""

    async def on_assessed(conn: DbConnection, received: Received[SignalAssessedV1]) -> None:
        await service.record_assessment(conn, received.event.data)

    async def on_investigation(
        conn: DbConnection, received: Received[InvestigationChangedV1]
    ) -> None:
        await service.record_investigation(conn, received.event.data)

    return [
        # What became of a submission's signals, for the partner's status view.
        ConsumerSpec(topics.SIGNAL_ASSESSED, SignalAssessedV1, each(on_assessed)),
        ConsumerSpec(topics.INVESTIGATION_CHANGED, InvestigationChangedV1, each(on_investigation)),
    ]


def _incoming(record: RawRecord, partner_id: str, source: Source) -> Incoming:
    headers = dict(record.headers)
    key = record.key.decode("utf-8", "replace")[:200] if record.key else None
    return Incoming(
        partner_id=partner_id,
        source=source,
        channel="kafka",
        body=record.value,
        content_type=headers.get("content-type", b"").decode("latin-1"),
        idempotency_key=None,
        team=partner_id,
        kafka_topic=record.topic,
        kafka_partition=record.partition,
        kafka_offset=record.offset,
        kafka_key=key,
    )


def build_record_consumers(
    service: IntakeService, settings: IntakeSettings
) -> list[RecordConsumerSpec]:
    """The partner topics: the same formats as over HTTP, through the same normalisers."""

    async def on_igj(conn: DbConnection, record: RawRecord) -> None:
        incoming = _incoming(record, settings.kafka_igj_partner, Source.IGJ)
        await service.submit_signal(conn, incoming, PartnerFormat.IGJ)

    async def on_police(conn: DbConnection, record: RawRecord) -> None:
        incoming = _incoming(record, settings.kafka_police_partner, Source.POLICE)
        await service.submit_signal(conn, incoming, PartnerFormat.POLICE)

    async def on_access_team(conn: DbConnection, record: RawRecord) -> None:
        # The topic's max.message.bytes (1 MiB) bounds a file; the parser bounds its rows.
        incoming = _incoming(record, settings.kafka_access_team_partner, Source.ACCESS_TEAM)
        await service.submit_access_team_csv(conn, incoming)

    return [
        RecordConsumerSpec(topics.PARTNER_IGJ, each(on_igj)),
        RecordConsumerSpec(topics.PARTNER_POLICE, each(on_police)),
        RecordConsumerSpec(topics.PARTNER_ACCESS_TEAM, each(on_access_team)),
    ]
