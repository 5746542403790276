"""Fixtures for the contract tests: the golden examples and a fresh event of each kind."""

import json
from pathlib import Path
from typing import Any

import pytest

from zicht_schemas import CloudEvent, EventData, from_structured

GOLDEN_DIR = Path(__file__).parent / "golden"
SCHEMA_DIR = Path(__file__).parents[2] / "schemas" / "json"


def golden_paths() -> list[Path]:
    """Every golden example, one structured-mode CloudEvent per event type."""
    return sorted(GOLDEN_DIR.glob("*.json"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that asks for ``golden_path`` once per golden example."""
    if "golden_path" in metafunc.fixturenames:
        paths = golden_paths()
        metafunc.parametrize(
            "golden_path", paths, ids=[p.name.removesuffix(".json") for p in paths]
        )


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
def golden_event(golden_path: Path) -> CloudEvent[EventData]:
    """The golden example read with the current models."""
    return from_structured(golden_path.read_bytes())


@pytest.fixture
def golden_by_type() -> dict[str, CloudEvent[EventData]]:
    """Every golden example read with the current models, by event type."""
    events = [from_structured(path.read_bytes()) for path in golden_paths()]
    return {event.type: event for event in events}
