"""Helpers of intake's connected tests: the running service, registry entries, events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from support.clock import SteppingClock
from support.events import events_on
from zicht_intake.config import IntakeSettings
from zicht_runtime.kit import ServiceKit
from zicht_schemas import (
    CloudEvent,
    InvestigationLink,
    InvestigationRelation,
    Outcome,
    Priority,
    RuleFired,
    SignalAssessedV1,
    SignalReceivedV1,
    Strategy,
    new_event,
    source_urn,
    to_kafka_record,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "partners" / "examples"
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass
class Intake:
    """The service under test and what a test needs to talk to it."""

    client: httpx.AsyncClient
    kit: ServiceKit
    pool: asyncpg.Pool
    database_url: str
    bootstrap: str
    settings: IntakeSettings
    clock: SteppingClock
    keys: dict[str, str]
    log_lines: list[str] = field(default_factory=list)

    def auth(self, role: str) -> dict[str, str]:
        """The Authorization header of a role's key."""
        return {"Authorization": f"Bearer {self.keys[role]}"}


async def registered(intake: Intake, provider_id: str) -> None:
    """Put a registry example (docs/partners/examples/registry) into intake's registry."""
    body = (EXAMPLES / "registry" / f"{provider_id}.json").read_bytes()
    answer = await intake.client.put(
        f"/v1/providers/{provider_id}",
        content=body,
        headers={**intake.auth("contract-management"), "Content-Type": "application/json"},
    )
    assert answer.status_code in {200, 202}, answer.text


async def find_events(
    intake: Intake,
    topic: str,
    model: type[ModelT],
    match: Callable[[CloudEvent[ModelT]], bool],
    *,
    expected: int = 1,
    within: float = 30.0,
) -> list[CloudEvent[ModelT]]:
    """The events on ``topic`` that ``match``, once ``expected`` arrived (plus any extra)."""
    return await events_on(intake.bootstrap, topic, model, match, expected=expected, within=within)


async def publish_assessment(intake: Intake, signal: SignalReceivedV1) -> None:
    """Publish what triage would decide about a signal: investigate, opening one."""
    assessed = SignalAssessedV1(
        assessment_id=uuid.uuid4(),
        signal_id=signal.signal_id,
        provider_id=signal.provider.provider_id,
        source=signal.source,
        law=signal.law,
        category=signal.category,
        severity=signal.severity,
        vulnerable_group=signal.vulnerable_group,
        municipality_code=signal.location.municipality_code,
        occurred_at=signal.occurred_at,
        assessed_at=signal.received_at + timedelta(seconds=1),
        outcome=Outcome.INVESTIGATE,
        strategy=Strategy.FULL_INVESTIGATION,
        priority=Priority.P1,
        rules_fired=(
            RuleFired(
                rule_id="R5",
                text_nl="Calamiteiten worden altijd onderzocht.",
                text_en="Calamities are always investigated.",
                inputs={"category": "calamity"},
            ),
        ),
        framework_version="2025.1",
        investigation=InvestigationLink(
            investigation_id=uuid.uuid4(), relation=InvestigationRelation.OPENED
        ),
    )
    record = to_kafka_record(
        new_event(assessed, source=source_urn("00000001000000000000", "triage-test"))
    )
    producer = AIOKafkaProducer(bootstrap_servers=intake.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            record.topic, record.value, key=record.key, headers=list(record.headers)
        )
    finally:
        await producer.stop()
