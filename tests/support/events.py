"""Reading events back from a real broker in connected tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
from aiokafka import AIOKafkaConsumer
from pydantic import BaseModel

from zicht_schemas import CloudEvent, InvalidEventError, from_kafka_record

__all__ = ["events_on"]

ModelT = TypeVar("ModelT", bound=BaseModel)


async def events_on(
    bootstrap: str,
    topic: str,
    model: type[ModelT],
    match: Callable[[CloudEvent[ModelT]], bool],
    *,
    expected: int = 1,
    within: float = 30.0,
) -> list[CloudEvent[ModelT]]:
    """The events on ``topic`` that ``match``, once ``expected`` arrived, plus any that follow
    within half a second (a duplicate would arrive right behind); fails the test otherwise."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    found: list[CloudEvent[ModelT]] = []
    try:
        deadline = time.monotonic() + within
        settled: float | None = None
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                for record in batch:
                    try:
                        event = from_kafka_record(record.value or b"", record.headers, model)
                    except InvalidEventError:
                        continue  # another test's poison message
                    if match(event):
                        found.append(event)
            if len(found) >= expected:
                settled = settled or time.monotonic() + 0.5
                if time.monotonic() >= settled:
                    break
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    if len(found) < expected:
        pytest.fail(f"{len(found)} of {expected} events on {topic} within {within:.0f}s")
    return found
