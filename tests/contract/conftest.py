"""Fixtures for the contract tests: the golden examples and a fresh event of each kind.

Tests that send an example through a Kafka record ask for ``kafka_golden_path`` or
``kafka_event``, which hold only the Kafka events' examples; ``golden_path`` and
``golden_event`` hold every example, webhook payloads included.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contract.examples import (
    golden_paths,
    kafka_golden_paths,
    read_golden,
    webhook_golden_paths,
)
from zicht_schemas import CloudEvent, EventData, WebhookData, from_structured, from_webhook

SCHEMA_DIR = Path(__file__).parents[2] / "schemas" / "json"

_PARAMETERS: dict[str, Callable[[], list[Path]]] = {
    "golden_path": golden_paths,
    "kafka_golden_path": kafka_golden_paths,
    "webhook_golden_path": webhook_golden_paths,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that asks for a golden path once per golden example of that kind."""
    for name, paths_of in _PARAMETERS.items():
        if name in metafunc.fixturenames:
            paths = paths_of()
            metafunc.parametrize(name, paths, ids=[p.name.removesuffix(".json") for p in paths])


@pytest.fixture
def schema_dir() -> Path:
    """The committed JSON Schemas, ``schemas/json``."""
    return SCHEMA_DIR


@pytest.fixture
def all_golden_paths() -> list[Path]:
    """Every golden example file."""
    return golden_paths()


@pytest.fixture
def golden_document(golden_path: Path) -> dict[str, Any]:
    """The golden example as parsed JSON."""
    document: dict[str, Any] = json.loads(golden_path.read_text(encoding="utf-8"))
    return document


@pytest.fixture
def golden_event(golden_path: Path) -> CloudEvent[Any]:
    """The golden example (an event or a webhook payload) read with the current models."""
    return read_golden(golden_path.read_bytes())


@pytest.fixture
def kafka_event(kafka_golden_path: Path) -> CloudEvent[EventData]:
    """The golden example of a Kafka event read with the current models."""
    return from_structured(kafka_golden_path.read_bytes())


@pytest.fixture
def golden_by_type() -> dict[str, CloudEvent[EventData]]:
    """Every Kafka event's golden example read with the current models, by event type."""
    events = [from_structured(path.read_bytes()) for path in kafka_golden_paths()]
    return {event.type: event for event in events}


@pytest.fixture
def webhook_by_type() -> dict[str, CloudEvent[WebhookData]]:
    """Every webhook payload's golden example read as a subscriber reads it, by type."""
    events = [from_webhook(path.read_bytes()) for path in webhook_golden_paths()]
    return {event.type: event for event in events}
