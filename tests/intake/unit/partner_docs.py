"""Helpers of intake's unit tests: the partner pages and examples, a fixed clock, a key."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from support.markdown_tables import Table, tables_under
from zicht_intake.domain import (
    Pseudonymiser,
    Refusal,
    RegistryEntry,
    RegistryProvider,
    normalise_registry,
    registry_locations,
)

PARTNERS = Path(__file__).resolve().parents[3] / "docs" / "partners"
EXAMPLES = PARTNERS / "examples"

# After every example's dates (the latest is an export of 21 March 2026), so the rules about the
# future accept them whatever day the tests run.
RECEIVED_AT = datetime(2026, 3, 22, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 22)
TEAM = "wijkteam-enschede-noord"
ACCESS_TEAM_HEADER = ";".join(
    [
        "kenmerk",
        "datum",
        "BSN",
        "aanbieder",
        "AGB-code",
        "postcode",
        "gemeente",
        "voorziening",
        "signaal",
        "ernst",
        "toelichting",
        "team",
    ]
)
NONE_CELL = "—"


def pseudonymiser(key: bytes = b"synthetic-test-key-0123456789abcdef") -> Pseudonymiser:
    """A pseudonymiser under a synthetic key."""
    return Pseudonymiser(key, "test-key")


def read_page(name: str) -> str:
    """A page of docs/partners/."""
    return (PARTNERS / name).read_text(encoding="utf-8")


def code_lists_of(page: str) -> dict[str, Table]:
    """Every ``### Code list: <name>`` table of a page, by name."""
    text = read_page(page)
    names = re.findall(r"^### Code list: (.+)$", text, flags=re.MULTILINE)
    return {name: tables_under(text, f"### Code list: {name}")[0] for name in names}


def ticked(cell: str) -> list[str]:
    """The backticked values of a table cell."""
    return re.findall(r"`([^`]+)`", cell)


def code_of(cell: str) -> str:
    """The one backticked value of a table cell."""
    (value,) = ticked(cell)
    return value


def invalid_example_tables(page: str) -> list[Table]:
    """The tables under ``### Invalid examples`` of a page."""
    return tables_under(read_page(page), "### Invalid examples")


def example_bytes(relative: str) -> bytes:
    """An example file's bytes, by its path under docs/partners/examples/."""
    return (EXAMPLES / relative).read_bytes()


def example_json(relative: str) -> dict[str, Any]:
    """An example JSON body as a dict."""
    document = json.loads(example_bytes(relative))
    assert isinstance(document, dict)
    return document


def body(document: object) -> bytes:
    """A JSON body."""
    return json.dumps(document).encode()


def keep(document: dict[str, Any]) -> None:
    """Leave an example as it is (the change that changes nothing)."""


def changed(relative: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    """An example body with one change applied."""
    document = example_json(relative)
    change(document)
    return body(document)


def csv_bytes(*lines: str) -> bytes:
    """A CSV file from its lines."""
    return ("\n".join(lines) + "\n").encode()


def registry_entries() -> dict[str, RegistryEntry]:
    """The registry examples, normalised."""
    entries: dict[str, RegistryEntry] = {}
    for path in sorted((EXAMPLES / "registry").glob("*.json")):
        entry = normalise_registry(path.read_bytes(), provider_id=path.stem, today=TODAY)
        assert not isinstance(entry, Refusal), entry
        entries[path.stem] = entry
    return entries


def registry_providers() -> list[RegistryProvider]:
    """The registry examples as identification sees them."""
    return [
        RegistryProvider(
            provider_id=provider_id,
            name=entry.name,
            kvk=entry.kvk,
            agb=entry.agb,
            locations=registry_locations(entry),
        )
        for provider_id, entry in registry_entries().items()
    ]
