"""An access team's CSV with N good and M bad rows: exactly N accepted, M refused with reasons.

``tests/intake/integration/test_intake_http_fuzz.py`` already shows that no CSV body gets a
500; this property is about the rows: every row of a well-formed file gets its own result, a
good row is accepted and a bad one refused naming its row and column, none is lost or counted
twice, and the file itself is stored. Bad rows carry one defect each, of the kinds
docs/partners/access-team.md lists.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from security.support import Running

pytestmark = pytest.mark.asyncio(loop_scope="session")

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "partners" / "examples"
HEADER = ["kenmerk", "datum", "BSN", "aanbieder", "AGB-code", "postcode", "gemeente",
          "voorziening", "signaal", "ernst", "toelichting", "team"]  # fmt: skip
TODAY = date(2026, 3, 16)  # the intake fixture's clock

PROVISIONS = ["beschermd wonen", "maatschappelijke opvang", "begeleiding individueel",
              "begeleiding groep", "specialistische begeleiding", "dagbesteding",
              "huishoudelijke hulp", "jeugdhulp ambulant", "jeugdhulp verblijf", "gezinshuis",
              "jeugdbescherming", "wlz", "onbekend"]  # fmt: skip
SIGNALS = ["calamiteit", "geweld", "onveilige situatie", "kwaliteit zorg", "klacht",
           "huisvesting", "personeel onvoldoende", "personeel ongekwalificeerd",
           "zorgplan ontbreekt", "zorg niet geleverd", "administratieve fout", "fraudevermoeden",
           "diplomafraude", "bestuur", "faillissement", "overig"]  # fmt: skip
VALID_BSNS = ["", "999927176", "999971153", "999908704", "999913050", "999910450", "999996575"]
# Any character a UTF-8 file can hold but NUL (surrogates cannot be encoded at all); the CSV
# writer quotes what needs quoting, line breaks and ';' included.
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]),
               max_size=30)  # fmt: skip


@dataclass(frozen=True)
class Defect:
    """One way a row breaks the agreement, and how intake must name it."""

    name: str
    column: str
    value: str
    code: str


DEFECTS = [
    Defect("BSN fails the 11-check", "BSN", "999927177", "invalid_value"),
    Defect("BSN of eight digits", "BSN", "99995837", "invalid_value"),
    Defect("ISO date", "datum", "2026-03-12", "invalid_value"),
    Defect("31 February", "datum", "31-02-2026", "invalid_value"),
    Defect("date in the future", "datum", "01-01-2099", "occurred_in_future"),
    Defect("unknown provision", "voorziening", "wmo begeleiding", "unknown_code"),
    Defect("no kind of signal", "signaal", "", "missing_field"),
    Defect("no kenmerk", "kenmerk", "", "missing_field"),
    Defect("no AGB-code nor postcode", "AGB-code", "", "provider_not_identified"),
    Defect("kenmerk used by an earlier row", "kenmerk", "<earlier>", "duplicate_reference"),
]


@st.composite
def good_rows(draw: st.DrawFn) -> dict[str, str]:
    """The cells of a row intake must accept (its kenmerk is set when the file is written)."""
    day = TODAY - timedelta(days=draw(st.integers(0, 400)))
    return {
        "kenmerk": "",
        "datum": day.strftime("%d-%m-%Y"),
        "BSN": draw(st.sampled_from(VALID_BSNS)),
        "aanbieder": "Stichting Voorbeeldzorg Twente",
        "AGB-code": "98990011",
        "postcode": draw(st.sampled_from(["", "7511 AB", "7511ab"])),
        "gemeente": draw(st.sampled_from(["Enschede", "GM0153", "Hengelo", "gemeente Losser"])),
        "voorziening": draw(st.sampled_from(PROVISIONS)),
        "signaal": draw(st.sampled_from(SIGNALS)),
        "ernst": draw(st.sampled_from(["", "laag", "midden", "hoog", "HOOG"])),
        "toelichting": draw(TEXT),
        "team": "Wijkteam Enschede Noord",
    }


files = st.lists(st.tuples(good_rows(), st.none() | st.sampled_from(DEFECTS)),
                 min_size=1, max_size=12)  # fmt: skip


def _written(plan: list[tuple[dict[str, str], Defect | None]]) -> tuple[bytes, list[Defect | None]]:
    """The CSV file of a plan: unique kenmerken, one defect per bad row; and each row's defect."""
    run = uuid.uuid4().hex[:10]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    defects: list[Defect | None] = []
    used: list[str] = []
    for number, (cells, planned) in enumerate(plan):
        row = {**cells, "kenmerk": f"SEC-{run}-{number}"}
        defect = planned
        if planned is not None and planned.value == "<earlier>":
            if not used:  # nothing earlier to repeat: break the row another way
                defect = DEFECTS[0]
            else:
                row["kenmerk"] = used[-1]
        if defect is not None and defect.value != "<earlier>":
            row[defect.column] = defect.value
            if defect.code == "provider_not_identified":
                row["postcode"] = ""
        if row["kenmerk"]:
            used.append(row["kenmerk"])
        writer.writerow([row[column] for column in HEADER])
        defects.append(defect)
    return out.getvalue().encode(), defects


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def registered(intake: Running) -> AsyncIterator[Running]:
    """Intake with the example provider (AGB-code 98990011) in its registry."""
    answer = await intake.client.put(
        "/v1/providers/ozjt-000123",
        content=(EXAMPLES / "registry" / "ozjt-000123.json").read_bytes(),
        headers={**intake.auth("contract-management"), "Content-Type": "application/json"},
    )
    assert answer.status_code in {200, 202}, answer.text
    yield intake


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(plan=files)
async def test_each_row_of_a_file_is_accepted_or_refused_on_its_own_and_none_is_lost(
    registered: Running, plan: list[tuple[dict[str, str], Defect | None]]
) -> None:
    intake = registered
    body, defects = _written(plan)
    good = sum(d is None for d in defects)
    before = await intake.pool.fetchval("SELECT count(*) FROM submissions")

    answer = await intake.client.post(
        "/v1/signals/access-team", content=body,
        headers={**intake.auth("access-team"), "Content-Type": "text/csv; charset=utf-8"},
    )  # fmt: skip
    # Per-row results: a 202 even when every row is refused (access-team.md).
    assert answer.status_code == 202, answer.text
    submission = answer.json()["submission_id"]
    stored = await intake.client.get(f"/v1/submissions/{submission}",
                                     headers=intake.auth("access-team"))  # fmt: skip
    after = await intake.pool.fetchval("SELECT count(*) FROM submissions")

    assert after == before + 1
    result = stored.json()
    items = result["items"]
    assert [item["row"] for item in items] == list(range(2, len(defects) + 2))
    for item, defect in zip(items, defects, strict=True):
        if defect is None:
            assert item["status"] in {"accepted", "published"}, item
            assert "rejections" not in item, item
            continue
        assert item["status"] == "rejected", (defect.name, item)
        rejections = item["rejections"]
        assert all(r["row"] == item["row"] and r["detail"] for r in rejections), rejections
        assert any(
            r["code"] == defect.code and defect.column in r.get("column", "") for r in rejections
        ), (defect.name, rejections)
    expected = ("accepted" if good == len(defects) else "rejected" if not good
                else "partially_accepted")  # fmt: skip
    assert result["status"] == expected
