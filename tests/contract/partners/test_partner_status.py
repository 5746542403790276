"""The partner docs and intake agree on how a partner follows a submission.

docs/partners/README.md ("Following a submission") lists the submission statuses, the item
statuses and the item fields; intake answers with ``SubmissionStatus``, ``ItemStatus`` and the
fields ``item_view`` (``GET /v1/submissions/{id}``) and ``accepted_item`` (the ``202`` answer)
write. A status or field on one side only, or a status example on a format page using another
word, fails here.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from support.markdown_tables import Table, tables_under
from zicht_intake.adapters.status import item_view
from zicht_intake.api import accepted_item
from zicht_intake.domain import ItemStatus, Rejection, SubmissionStatus
from zicht_intake.service import ItemResult
from zicht_schemas.codes import RejectionCode

pytestmark = pytest.mark.unit

PARTNERS = Path(__file__).resolve().parents[3] / "docs" / "partners"
HEADING = "### Following a submission"
_JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)


def _readme() -> str:
    return (PARTNERS / "README.md").read_text(encoding="utf-8")


def _table(first_column: str) -> Table:
    found = [t for t in tables_under(_readme(), HEADING) if t and first_column in t[0]]
    assert len(found) == 1, f"one table with column {first_column!r} under {HEADING!r}"
    return found[0]


def _first_ticked(table: Table, column: str) -> list[str]:
    values = []
    for row in table:
        ticked = re.findall(r"`([^`]+)`", row[column])
        assert ticked, f"no backticked value in {row[column]!r}"
        values.append(ticked[0])
    return values


def _documented_fields() -> dict[str, set[str]]:
    """Each documented item field, with the backticked sub-fields its description names."""
    return {
        name: set(re.findall(r"`([^`]+)`", row["what"]))
        for row, name in zip(
            _table("item field"), _first_ticked(_table("item field"), "item field"), strict=True
        )
    }


def _full_row() -> dict[str, Any]:
    """A stored item with every column set, as the status query returns it."""
    now = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
    return {
        "item_no": 2,
        "partner_reference": "wijkteam-enschede-noord/TE-2026-0201",
        "status": "accepted",
        "signal_id": uuid.uuid4(),
        "provider_id": "ozjt-000123",
        "rejections": [{"code": "invalid_value", "row": 2, "column": "BSN", "detail": "x"}],
        "warnings": [{"code": "unknown_municipality", "row": 2, "detail": "x"}],
        "outcome": "investigate",
        "strategy": "full_investigation",
        "priority": "P1",
        "framework_version": "2025.1",
        "assessed_at": now,
        "reasons": [],
        "investigation_id": uuid.uuid4(),
        "investigation_relation": "opened",
        "investigation_state": "closed",
        "investigation_decision": "no_findings",
        "investigation_closed_at": now,
    }


def test_the_readme_lists_exactly_the_submission_statuses_intake_answers() -> None:
    documented = _first_ticked(_table("submission status"), "submission status")
    assert sorted(documented) == sorted(SubmissionStatus)


def test_the_readme_lists_exactly_the_item_statuses_intake_answers() -> None:
    documented = _first_ticked(_table("item status"), "item status")
    assert sorted(documented) == sorted(ItemStatus)


@pytest.mark.parametrize("status", list(ItemStatus))
def test_the_status_shows_a_stored_item_status_as_it_is_documented(status: ItemStatus) -> None:
    shown = item_view({**_full_row(), "status": status.value}, csv=True)
    assert shown["status"] == status.value


def test_the_status_refuses_to_show_an_item_status_the_docs_do_not_know() -> None:
    with pytest.raises(ValueError, match="published"):
        item_view({**_full_row(), "status": "published"}, csv=True)


def test_the_readme_lists_exactly_the_item_fields_the_status_shows() -> None:
    shown = item_view(_full_row(), csv=True)
    documented = _documented_fields()
    assert sorted(documented) == sorted(shown)
    for name in ("assessment", "investigation"):
        assert set(shown[name]) == documented[name], name


def test_a_csv_upload_answers_its_items_with_the_fields_the_status_shows() -> None:
    item = ItemResult(
        item_no=3,
        partner_reference="wijkteam-enschede-noord/TE-2026-0202",
        status="rejected",
        signal_id=uuid.uuid4(),
        provider_id="ozjt-000123",
        rejections=(Rejection(RejectionCode.INVALID_VALUE, "x", row=3, column="BSN"),),
    )
    answered = accepted_item(item)
    assert set(answered) <= set(_documented_fields())
    assert answered["row"] == 3
    assert answered["status"] in set(ItemStatus)


def _status_examples() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for page in sorted(PARTNERS.glob("*.md")):
        for block in _JSON_BLOCK.findall(page.read_text(encoding="utf-8")):
            document = json.loads(block)
            if isinstance(document, dict) and "items" in document:
                found.append((page.name, document))
    return found


def test_the_partner_pages_show_a_submission_status_example() -> None:
    assert _status_examples(), "no status example found: the checks below would prove nothing"


@pytest.mark.parametrize(
    ("page", "example"), _status_examples(), ids=[page for page, _ in _status_examples()]
)
def test_status_examples_on_the_partner_pages_use_the_documented_fields_and_statuses(
    page: str, example: dict[str, Any]
) -> None:
    fields = _documented_fields()
    assert example["status"] in set(SubmissionStatus), page
    for item in example["items"]:
        assert set(item) <= set(fields), page
        assert item["status"] in set(ItemStatus), page
        if "row" in item:
            assert item["row"] >= 2, f"{page}: the header is row 1, data rows start at 2"
