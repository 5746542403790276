"""Every span attribute Zicht sets is in the one catalogue, and docs/telemetry.md lists it."""

import re
from pathlib import Path

import pytest

from zicht_runtime.telemetry import ATTRIBUTES

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*ROOT.glob("runtime/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]
# An attribute key set on a span or in a log's extra: "zicht.<name>" as a string literal.
USED = re.compile(r"""["'](zicht\.[a-z_]+)["']""")
NOT_ATTRIBUTES = {"zicht.outbox", "zicht.consumer", "zicht.intake", "zicht.triage",
                  "zicht.scoring", "zicht.notify"}  # tracer and meter names  # fmt: skip


def _used() -> set[str]:
    found: set[str] = set()
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for match in USED.finditer(text):
            line = text[text.rfind("\n", 0, match.start()) + 1 : text.find("\n", match.end())]
            if "set_attribute" in line or "attributes" in line or re.search(r'^\s+"zicht\.', line):
                found.add(match.group(1))
    return found - NOT_ATTRIBUTES


def test_every_span_attribute_in_the_code_is_in_the_catalogue() -> None:
    missing = {name for name in _used() if name not in ATTRIBUTES and not name.startswith(
        ("zicht.migrations", "zicht.retry", "zicht.topic", "zicht.partition", "zicht.offset",
         "zicht.reason", "zicht.risk_changes"))}  # fmt: skip
    assert not missing, f"add to zicht_runtime.telemetry.ATTRIBUTES: {sorted(missing)}"


def test_docs_telemetry_lists_every_attribute_and_business_span() -> None:
    text = (ROOT / "docs" / "telemetry.md").read_text(encoding="utf-8")
    assert [name for name in ATTRIBUTES if f"`{name}`" not in text] == []
    for span in ("normalise signal", "assess signal", "score provider", "route alert",
                 "deliver webhook"):  # fmt: skip
        assert f"`{span}`" in text
