"""The generator's submissions follow docs/partners/, except the few that are wrong on purpose.

IGJ and police bodies are checked against their JSON Schemas with format assertion on and
against the rules the pages add (11-check, dates); access-team CSV rows are read as
access-team.md says (``;``, header row, cells trimmed, empty cells dropped, codes lower-cased)
and each row checked against the row schema and the row rules.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jsonschema import Draft202012Validator

from zicht_demo.region import Region, build_region
from zicht_demo.signals import (
    ACCESS_TEAM_COLUMNS,
    SignalGenerator,
    Submission,
    SubmissionKind,
    bsn_is_valid,
    make_bsn,
)
from zicht_schemas import looks_like_bsn

pytestmark = pytest.mark.unit

PARTNERS = Path(__file__).resolve().parents[2] / "docs" / "partners"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 3, 16, 9, 30, tzinfo=AMSTERDAM)
SCHEMAS = {
    SubmissionKind.IGJ: "igj.schema.json",
    SubmissionKind.POLICE: "police.schema.json",
}


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((PARTNERS / name).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def region() -> Region:
    return build_region(1, 300, today=NOW.date())


@pytest.fixture(scope="module")
def submissions(region: Region) -> list[Submission]:
    return SignalGenerator(region, 3, clock=lambda: NOW, run_token=42).take(600)


def reference_bsn_check(bsn: str) -> bool:
    """access-team.md's 11-check, written out: weights 9..2 and -1, sum divisible by 11."""
    if not re.fullmatch(r"[0-9]{9}", bsn) or bsn == "000000000":
        return False
    digits = [int(d) for d in bsn]
    return (sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=False)) - digits[8]) % 11 == 0


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def json_rule_errors(kind: SubmissionKind, body: dict[str, Any]) -> list[str]:
    """The rules beyond the schema (igj.md, police.md)."""
    errors = []
    if kind is SubmissionKind.IGJ:
        try:
            established = date.fromisoformat(body["datumVaststelling"])
        except ValueError:
            return ["datumVaststelling is no calendar date"]
        reported = moment(body["datumMelding"])
        if established > NOW.date():
            errors.append("datumVaststelling in the future")
        if reported > NOW + timedelta(minutes=5):
            errors.append("datumMelding in the future")
        if reported.astimezone(AMSTERDAM).date() < established:
            errors.append("datumMelding before datumVaststelling")
    else:
        for person in body.get("involvedPersons", []):
            if "bsn" in person and not reference_bsn_check(person["bsn"]):
                errors.append("bsn fails the 11-check")
        started = moment(body["incidentDateTime"])
        if started > NOW + timedelta(minutes=5):
            errors.append("incidentDateTime in the future")
        if moment(body["exportDateTime"]) < started:
            errors.append("exportDateTime before incidentDateTime")
    return errors


def csv_rows(body: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and rows numbered as a spreadsheet, normalised as access-team.md says."""
    records = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))
    header = [name.strip() for name in records[0]]
    rows = []
    for number, record in enumerate(records[1:], start=2):
        cells = {name: cell.strip() for name, cell in zip(header, record, strict=True)}
        row = {name: value for name, value in cells.items() if value}
        for name in ("voorziening", "signaal", "ernst"):
            if name in row:
                row[name] = row[name].lower()
        if "postcode" in row:
            row["postcode"] = row["postcode"].upper()
        rows.append((number, row))
    return header, rows


def row_errors(row: dict[str, str], check: Draft202012Validator, seen: set[str]) -> list[str]:
    errors = [e.message for e in check.iter_errors(row)]
    if (
        "BSN" in row
        and re.fullmatch(r"[0-9]{9}", row["BSN"])
        and not reference_bsn_check(row["BSN"])
    ):
        errors.append("BSN fails the 11-check")
    if re.fullmatch(r"[0-9]{2}-[0-9]{2}-[0-9]{4}", row.get("datum", "")):
        day = datetime.strptime(row["datum"], "%d-%m-%Y").replace(tzinfo=AMSTERDAM).date()
        if day > NOW.date():
            errors.append("datum in the future")
    if row.get("kenmerk") in seen:
        errors.append("kenmerk used twice in the file")
    seen.add(row.get("kenmerk", ""))
    return errors


def test_every_partner_format_is_generated(submissions: list[Submission]) -> None:
    kinds = Counter(s.kind for s in submissions)
    assert set(kinds) == set(SubmissionKind)
    signals: Counter[SubmissionKind] = Counter()
    for submission in submissions:
        signals[submission.kind] += submission.signals
    # Access teams send files of several rows: close to half of all signals.
    assert 0.3 <= signals[SubmissionKind.ACCESS_TEAM] / sum(signals.values()) <= 0.6


@pytest.mark.parametrize("kind", [SubmissionKind.IGJ, SubmissionKind.POLICE])
def test_json_signals_follow_their_format_unless_wrong_on_purpose(
    submissions: list[Submission], kind: SubmissionKind
) -> None:
    check = validator(SCHEMAS[kind])
    valid = invalid = 0
    for submission in (s for s in submissions if s.kind is kind):
        assert submission.content_type == "application/json"
        body = json.loads(submission.body)
        errors = [e.message for e in check.iter_errors(body)] + json_rule_errors(kind, body)
        if submission.deliberately_invalid:
            assert errors, f"{submission.reference} is marked invalid but passes"
            invalid += 1
        else:
            assert errors == [], (submission.reference, errors)
            valid += 1
    assert valid > 50
    assert invalid >= 1


def test_access_team_rows_follow_the_row_format_unless_wrong_on_purpose(
    submissions: list[Submission],
) -> None:
    check = validator("access-team.row.schema.json")
    rows_checked = rows_invalid = 0
    for submission in (s for s in submissions if s.kind is SubmissionKind.ACCESS_TEAM):
        assert submission.content_type == "text/csv; charset=utf-8"
        header, rows = csv_rows(submission.body)
        assert header == list(ACCESS_TEAM_COLUMNS)
        assert len(rows) == submission.signals
        seen: set[str] = set()
        for number, row in rows:
            errors = row_errors(row, check, seen)
            if number in submission.invalid_rows:
                assert errors, f"row {number} of {submission.reference} is marked invalid"
                rows_invalid += 1
            else:
                assert errors == [], (submission.reference, number, errors)
            rows_checked += 1
        assert submission.deliberately_invalid == bool(submission.invalid_rows)
    assert rows_checked > 200
    assert rows_invalid >= 1


def test_a_few_percent_are_wrong_on_purpose(submissions: list[Submission]) -> None:
    signals = sum(s.signals for s in submissions)
    wrong = sum(
        len(s.invalid_rows) if s.kind is SubmissionKind.ACCESS_TEAM else int(s.deliberately_invalid)
        for s in submissions
    )
    assert 0.005 <= wrong / signals <= 0.08


def test_partner_references_are_unique(submissions: list[Submission]) -> None:
    references = [s.reference for s in submissions]
    assert len(references) == len(set(references))
    kenmerken = [
        row["kenmerk"]
        for s in submissions
        if s.kind is SubmissionKind.ACCESS_TEAM
        for _, row in csv_rows(s.body)[1]
    ]
    assert len(kenmerken) == len(set(kenmerken))


def test_another_run_numbers_its_references_differently(region: Region) -> None:
    first = SignalGenerator(region, 3, clock=lambda: NOW, run_token=1).take(50)
    second = SignalGenerator(region, 3, clock=lambda: NOW, run_token=2).take(50)
    assert not {s.reference for s in first} & {s.reference for s in second}


def test_signals_name_providers_of_the_region_and_skew_to_troubled_ones(
    region: Region, submissions: list[Submission]
) -> None:
    named = [pid for s in submissions for pid in s.provider_ids]
    assert all(region.provider(pid) is not None for pid in named)
    troubled = {p.provider_id for p in region.troubled}
    share = sum(1 for pid in named if pid in troubled) / len(named)
    # About a tenth of the providers draws close to half of the signals.
    assert 0.3 <= share <= 0.6


def test_troubled_providers_draw_the_serious_signals(
    region: Region, submissions: list[Submission]
) -> None:
    troubled = {p.provider_id for p in region.troubled}
    serious = {"OD10", "OD20", "OD21", "OD30", "OD31", "OD40", "OD50", "OD51", "OD60", "OD70"}
    raids: Counter[bool] = Counter()
    for submission in (s for s in submissions if s.kind is SubmissionKind.POLICE):
        body = json.loads(submission.body)
        if serious & set(body["incidentCodes"]):
            raids[submission.provider_ids[0] in troubled] += 1
    assert raids[True] > 3 * raids[False]


def test_access_teams_report_with_their_own_key(submissions: list[Submission]) -> None:
    for submission in submissions:
        if submission.kind is SubmissionKind.ACCESS_TEAM:
            assert re.fullmatch(r"wijkteam-gm[0-9]{4}", submission.partner_key_name)
        else:
            assert submission.partner_key_name == submission.kind.value


def test_generated_bsns_are_test_range_numbers_that_pass_the_11_check() -> None:
    rng = random.Random(5)
    for _ in range(200):
        bsn = make_bsn(rng)
        assert bsn.startswith("9999")
        assert reference_bsn_check(bsn)
        assert bsn_is_valid(bsn)
        assert looks_like_bsn(bsn)


@pytest.mark.parametrize(
    ("bsn", "valid"),
    [("999927176", True), ("999927177", False), ("000000000", False), ("99995837", False)],
)
def test_the_11_check_matches_the_documented_examples(bsn: str, valid: bool) -> None:
    assert bsn_is_valid(bsn) is valid
