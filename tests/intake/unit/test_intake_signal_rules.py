"""The rules beyond the schemas for IGJ, police and access-team signals, and CSV file rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from intake.unit.partner_docs import (
    ACCESS_TEAM_HEADER,
    RECEIVED_AT,
    TEAM,
    changed,
    csv_bytes,
    example_bytes,
    keep,
    pseudonymiser,
)
from zicht_intake.domain import (
    CsvRow,
    PartnerFormat,
    Refusal,
    SignalDraft,
    WarningCode,
    limits,
    normalise_igj,
    normalise_police,
    parse_access_team_csv,
    reference_of,
)
from zicht_schemas.codes import Category, CrimeIndicator, RejectionCode, Severity, VulnerableGroup

pytestmark = pytest.mark.unit

INVALID = RejectionCode.INVALID_VALUE
FUTURE = RejectionCode.OCCURRED_IN_FUTURE


def igj(change: Any, received_at: datetime = RECEIVED_AT, **kwargs: Any) -> SignalDraft | Refusal:
    return normalise_igj(
        changed("igj.json", change),
        received_at=received_at,
        pseudonymiser=pseudonymiser(),
        **kwargs,
    )


def police(
    change: Any, received_at: datetime = RECEIVED_AT, **kwargs: Any
) -> SignalDraft | Refusal:
    return normalise_police(
        changed("police.json", change),
        received_at=received_at,
        pseudonymiser=pseudonymiser(),
        **kwargs,
    )


def refused(result: object) -> list[tuple[RejectionCode, str | None]]:
    assert isinstance(result, Refusal), result
    return [(r.code, r.pointer) for r in result.rejections]


# --- IGJ -----------------------------------------------------------------------------------


def test_igj_finding_dated_tomorrow_in_amsterdam_is_in_the_future() -> None:
    result = igj(lambda d: d.update(datumVaststelling="2026-03-23"))

    assert refused(result) == [(FUTURE, "/datumVaststelling")]


def test_igj_finding_dated_today_in_amsterdam_is_accepted_although_it_is_yesterday_in_utc() -> None:
    # 23:30 UTC on 22 March is already 23 March in Amsterdam.
    late = datetime(2026, 3, 22, 23, 30, tzinfo=UTC)

    result = igj(
        lambda d: d.update(
            datumVaststelling="2026-03-23", datumMelding="2026-03-23T00:15:00+01:00"
        ),
        late,
    )

    assert isinstance(result, SignalDraft), result


@pytest.mark.parametrize(("minutes", "accepted"), [(4, True), (5, True), (6, False)])
def test_igj_report_moment_may_lie_at_most_five_minutes_after_receipt(
    minutes: int, accepted: bool
) -> None:
    moment = (RECEIVED_AT + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

    result = igj(lambda d: d.update(datumMelding=moment))

    if accepted:
        assert isinstance(result, SignalDraft), result
    else:
        assert refused(result) == [(FUTURE, "/datumMelding")]


def test_igj_report_dated_before_the_finding_is_invalid() -> None:
    result = igj(lambda d: d.update(datumMelding="2026-03-09T23:30:00Z"))  # 10 March 00:30 CET

    assert isinstance(result, SignalDraft)
    result = igj(lambda d: d.update(datumMelding="2026-03-09T22:30:00Z"))  # 9 March 23:30 CET
    assert refused(result) == [(INVALID, "/datumMelding")]


def test_igj_report_moment_that_matches_the_pattern_but_does_not_exist_is_invalid() -> None:
    assert refused(igj(lambda d: d.update(datumMelding="2026-02-30T10:00:00Z"))) == [
        (INVALID, "/datumMelding")
    ]


def test_igj_kafka_key_must_equal_the_case_number() -> None:
    assert isinstance(igj(keep, kafka_key="IGJ-2026-004711"), SignalDraft)
    assert refused(igj(keep, kafka_key="IGJ-2026-000001")) == [(INVALID, "/zaaknummer")]


def test_igj_free_text_longer_than_ten_thousand_characters_is_invalid() -> None:
    limit = limits.MAX_FREE_TEXT_CHARS

    assert isinstance(igj(lambda d: d.update(omschrijving="x" * limit)), SignalDraft)
    assert refused(igj(lambda d: d.update(omschrijving="x" * (limit + 1)))) == [
        (INVALID, "/omschrijving")
    ]


def test_igj_body_above_the_size_limit_is_refused_whole() -> None:
    big = changed("igj.json", lambda d: d.update(omschrijving="x" * limits.MAX_JSON_SIGNAL_BYTES))

    result = normalise_igj(big, received_at=RECEIVED_AT, pseudonymiser=pseudonymiser())

    assert refused(result) == [(RejectionCode.MALFORMED_PAYLOAD, None)]


@pytest.mark.parametrize(
    "name", ["naam", "Voornaam", "date_of_birth", "E-mail", "telefoon nummer", "bsn", "Adres"]
)
def test_a_personal_data_field_is_refused_as_personal_data(name: str) -> None:
    assert refused(igj(lambda d: d.update({name: "x"}))) == [
        (RejectionCode.PERSONAL_DATA_NOT_ALLOWED, "")
    ]


def test_an_unknown_field_that_is_no_personal_data_is_malformed() -> None:
    assert refused(igj(lambda d: d["locatie"].update(verdieping="2"))) == [
        (RejectionCode.MALFORMED_PAYLOAD, "/locatie")
    ]


def test_igj_missing_field_points_at_where_it_belongs() -> None:
    assert refused(igj(lambda d: d["locatie"].pop("postcode"))) == [
        (RejectionCode.MISSING_FIELD, "/locatie/postcode")
    ]


def test_igj_unknown_municipality_name_is_accepted_with_a_warning() -> None:
    result = igj(lambda d: d["locatie"].update(gemeente="Atlantis"))

    assert isinstance(result, SignalDraft)
    assert result.location_municipality is None
    assert [(w.code, w.pointer) for w in result.warnings] == [
        (WarningCode.UNKNOWN_MUNICIPALITY, "/locatie/gemeente")
    ]


@pytest.mark.parametrize(
    ("gemeente", "code"), [("gemeente Hof van Twente", "GM1735"), ("GM0363", "GM0363")]
)
def test_igj_municipality_by_name_or_any_cbs_code_resolves(gemeente: str, code: str) -> None:
    result = igj(lambda d: d["locatie"].update(gemeente=gemeente))

    assert isinstance(result, SignalDraft)
    assert result.location_municipality == code


def test_igj_free_text_is_masked() -> None:
    result = igj(
        lambda d: d.update(omschrijving="Cliënt 999927176, bel 06-12345678 of mail a@b.example.")
    )

    assert isinstance(result, SignalDraft)
    assert result.free_text == "Cliënt [BSN], bel [TELEFOON] of mail [E-MAIL]."


# --- police ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "category", "severity", "indicators"),
    [
        (["OV10", "GW10"], Category.VIOLENCE, Severity.MEDIUM, ()),
        (["OD30", "BR10"], Category.CALAMITY, Severity.HIGH, (CrimeIndicator.DRUGS,)),
        (["XX99", "OV20"], Category.QUALITY, Severity.LOW, ()),
        (
            ["OD30", "OD31", "OD21"],
            Category.OTHER,
            Severity.HIGH,
            (CrimeIndicator.DRUGS, CrimeIndicator.WEAPONS),
        ),
        (
            ["OD20", "OD60", "VM10"],
            Category.LEGITIMACY,
            Severity.HIGH,
            (CrimeIndicator.AMMUNITION, CrimeIndicator.FRAUD_SUSPICION),
        ),
    ],
)
def test_police_codes_combine_by_precedence_highest_severity_and_union_of_indicators(
    codes: list[str],
    category: Category,
    severity: Severity,
    indicators: tuple[CrimeIndicator, ...],
) -> None:
    result = police(lambda d: d.update(incidentCodes=codes))

    assert isinstance(result, SignalDraft)
    assert (result.category, result.severity, result.crime_indicators) == (
        category,
        severity,
        indicators,
    )


def test_police_bsn_failing_the_11_check_refuses_the_incident() -> None:
    result = police(lambda d: d["involvedPersons"][1].update(bsn="999927177"))

    assert refused(result) == [(INVALID, "/involvedPersons/1/bsn")]
    assert isinstance(result, Refusal)
    assert all("999927177" not in r.detail for r in result.rejections)


def test_police_time_without_offset_is_refused() -> None:
    assert refused(police(lambda d: d.update(incidentDateTime="2026-03-14T06:00:00"))) == [
        (INVALID, "/incidentDateTime")
    ]


def test_police_incident_more_than_five_minutes_after_receipt_is_in_the_future() -> None:
    later = (RECEIVED_AT + timedelta(minutes=6)).isoformat()

    result = police(lambda d: d.update(incidentDateTime=later, exportDateTime=later))

    assert refused(result) == [(FUTURE, "/incidentDateTime")]


def test_police_export_before_the_incident_is_invalid() -> None:
    result = police(lambda d: d.update(exportDateTime="2026-03-14T05:59:00+01:00"))

    assert refused(result) == [(INVALID, "/exportDateTime")]


def test_police_impossible_moment_is_invalid() -> None:
    assert refused(police(lambda d: d.update(incidentDateTime="2026-13-14T06:00+01:00"))) == [
        (INVALID, "/incidentDateTime")
    ]


def test_police_kafka_key_must_equal_the_registration_number() -> None:
    assert refused(police(keep, kafka_key="PL0600-2026000000")) == [
        (INVALID, "/registrationNumber")
    ]


def test_police_leaves_law_and_group_open_unless_a_victim_is_a_minor() -> None:
    adult = police(keep)
    minor_suspect = police(lambda d: d["involvedPersons"][0].update(minor=True))
    minor_victim = police(lambda d: d["involvedPersons"][1].update(role="SLAC", minor=True))

    assert isinstance(adult, SignalDraft)
    assert isinstance(minor_suspect, SignalDraft)
    assert isinstance(minor_victim, SignalDraft)
    assert (adult.law, adult.vulnerable_group) == (None, None)
    assert minor_suspect.vulnerable_group is None
    assert minor_victim.vulnerable_group is VulnerableGroup.YOUTH


def test_police_counts_victims_and_involved_persons_as_clients_with_their_pseudonyms() -> None:
    result = police(
        lambda d: d.update(
            involvedPersons=[
                {"role": "VERD", "bsn": "999958379"},
                {"role": "SLAC", "bsn": "999927176"},
                {"role": "BETR"},
                {"role": "GETU", "bsn": "999971153"},
            ]
        )
    )

    assert isinstance(result, SignalDraft)
    assert result.client_pseudonyms == (pseudonymiser().pseudonym("999927176"),)
    assert result.clients_involved == 2
    assert [p.pseudonym is not None for p in result.persons] == [True, True, False, True]


def test_police_place_that_is_no_municipality_is_accepted_with_a_warning() -> None:
    result = police(lambda d: d["incidentAddress"].update(city="Boekelo"))

    assert isinstance(result, SignalDraft)
    assert result.location_municipality is None
    assert [w.pointer for w in result.warnings] == ["/incidentAddress/city"]


# --- references ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("partner_format", "data", "reference"),
    [
        (PartnerFormat.IGJ, example_bytes("igj.json"), "IGJ-2026-004711"),
        (PartnerFormat.POLICE, example_bytes("police.json"), "PL0600-2026004217"),
        (PartnerFormat.POLICE, example_bytes("police-invalid-bsn.json"), "PL0600-2026004217"),
        (PartnerFormat.IGJ, b'{"zaaknummer": "999927176"}', None),
        (PartnerFormat.IGJ, b"\xff not json", None),
        (PartnerFormat.IGJ, b"[]", None),
        (PartnerFormat.ACCESS_TEAM, example_bytes("access-team.csv"), None),
        (PartnerFormat.REGISTRY, example_bytes("registry/ozjt-000123.json"), None),
    ],
)
def test_reference_is_read_only_when_it_has_the_agreed_form(
    partner_format: PartnerFormat, data: bytes, reference: str | None
) -> None:
    assert reference_of(partner_format, data) == reference


# --- access-team CSV -------------------------------------------------------------------------

HEADER = ACCESS_TEAM_HEADER
GOOD = "TE-1;02-03-2026;999927176;Zorg B.V.;98990011;;Enschede;dagbesteding;klacht;;;Team Noord"


def access(data: bytes) -> Refusal | tuple[CsvRow, ...]:
    return parse_access_team_csv(
        data, received_at=RECEIVED_AT, pseudonymiser=pseudonymiser(), team=TEAM
    )


def whole_file_refused(data: bytes) -> list[RejectionCode]:
    result = access(data)
    assert isinstance(result, Refusal), result
    return [r.code for r in result.rejections]


def test_csv_that_is_not_utf8_is_refused_whole() -> None:
    assert whole_file_refused(csv_bytes(HEADER, GOOD).replace(b"Zorg", b"Z\xe9rg")) == [
        RejectionCode.MALFORMED_PAYLOAD
    ]


def test_csv_separated_by_commas_is_refused_whole() -> None:
    assert whole_file_refused(csv_bytes(HEADER.replace(";", ","), GOOD.replace(";", ","))) == [
        RejectionCode.MALFORMED_PAYLOAD
    ]


def test_csv_with_an_unknown_column_is_refused_without_naming_it() -> None:
    result = access(csv_bytes(HEADER + ";Naam cliënt", GOOD + ";Jan Jansen"))

    assert isinstance(result, Refusal)
    assert [(r.code, r.row) for r in result.rejections] == [(RejectionCode.MALFORMED_PAYLOAD, 1)]
    assert "Naam" not in result.rejections[0].detail
    assert "Jan" not in result.rejections[0].detail


def test_csv_missing_or_repeating_a_column_is_refused_whole() -> None:
    missing = access(csv_bytes(HEADER.replace(";team", ""), GOOD.rsplit(";", 1)[0]))
    repeated = access(csv_bytes(HEADER + ";Team", GOOD + ";Team"))

    assert isinstance(missing, Refusal)
    assert isinstance(repeated, Refusal)
    assert [r.column for r in missing.rejections] == ["team"]
    assert [r.column for r in repeated.rejections] == ["team"]


@pytest.mark.parametrize("data", [b"", csv_bytes(HEADER), csv_bytes(HEADER, "", ";;;;;;;;;;;")])
def test_csv_without_data_rows_is_refused_whole(data: bytes) -> None:
    assert whole_file_refused(data) == [RejectionCode.MALFORMED_PAYLOAD]


def test_csv_with_more_rows_than_agreed_is_refused_whole() -> None:
    rows = [GOOD.replace("TE-1", f"TE-{n}") for n in range(limits.MAX_ACCESS_TEAM_CSV_ROWS + 1)]

    assert whole_file_refused(csv_bytes(HEADER, *rows)) == [INVALID]


def test_csv_larger_than_agreed_is_refused_whole() -> None:
    data = csv_bytes(HEADER, GOOD) + b" " * limits.MAX_ACCESS_TEAM_CSV_BYTES

    assert whole_file_refused(data) == [RejectionCode.MALFORMED_PAYLOAD]


def test_csv_header_matches_case_insensitively_in_any_order_with_a_bom() -> None:
    columns = HEADER.split(";")
    cells = GOOD.split(";")
    order = list(reversed(range(len(columns))))
    data = "\ufeff" + ";".join(f" {columns[i].upper()} " for i in order) + "\n"
    data += ";".join(cells[i] for i in order) + "\n"

    result = access(data.encode())

    assert not isinstance(result, Refusal), result
    assert isinstance(result[0].result, SignalDraft)


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them() -> None:
    quoted = GOOD.replace("TE-1", "TE-2").replace(";;;Team", ';;"regel één\nregel twee";Team')
    data = csv_bytes(HEADER, GOOD, quoted, "", GOOD.replace("TE-1", "TE-3")).replace(b"\n", b"\r\n")

    result = access(data)

    assert not isinstance(result, Refusal)
    assert [row.row for row in result] == [2, 3, 5]
    assert isinstance(result[1].result, SignalDraft)
    assert result[1].result.free_text == "regel één\r\nregel twee"


def test_csv_with_mixed_rows_gives_a_result_per_row() -> None:
    data = csv_bytes(
        HEADER,
        GOOD,
        GOOD.replace("TE-1", "TE-2").replace("999927176", "999927177"),
        GOOD.replace("TE-1", "TE-3").replace("klacht", "Geweld"),
        GOOD.replace("TE-1", "TE-4") + ";extra",
        GOOD.replace("TE-1", "TE-5").replace(";;;Team", ";;" + "x" * 4001 + ";Team"),
    )

    result = access(data)

    assert not isinstance(result, Refusal)
    outcome = {
        row.row: [(r.column, r.code) for r in row.result.rejections]
        if isinstance(row.result, Refusal)
        else row.result.category
        for row in result
    }
    assert outcome == {
        2: Category.QUALITY,
        3: [("BSN", INVALID)],
        4: Category.VIOLENCE,
        5: [(None, RejectionCode.MALFORMED_PAYLOAD)],
        6: [("toelichting", INVALID)],
    }


def test_csv_kenmerk_that_is_a_bsn_is_refused_and_never_becomes_a_reference() -> None:
    result = access(csv_bytes(HEADER, GOOD.replace("TE-1", "999927176")))

    assert not isinstance(result, Refusal)
    (row,) = result
    assert row.partner_reference is None
    assert isinstance(row.result, Refusal)
    assert [(r.column, r.code) for r in row.result.rejections] == [
        ("kenmerk", RejectionCode.PERSONAL_DATA_NOT_ALLOWED)
    ]


def test_csv_row_without_bsn_involves_no_known_client() -> None:
    result = access(csv_bytes(HEADER, GOOD.replace("999927176", "")))

    assert not isinstance(result, Refusal)
    draft = result[0].result
    assert isinstance(draft, SignalDraft)
    assert (draft.client_pseudonyms, draft.clients_involved) == ((), 0)


def test_csv_team_must_fit_a_reference() -> None:
    with pytest.raises(ValueError, match="team"):
        parse_access_team_csv(
            csv_bytes(HEADER, GOOD),
            received_at=RECEIVED_AT,
            pseudonymiser=pseudonymiser(),
            team="Wijkteam Noord",
        )


def test_a_naive_moment_of_receipt_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone"):
        normalise_igj(
            example_bytes("igj.json"),
            received_at=datetime(2026, 3, 22, 9, 0),  # noqa: DTZ001 - the point of the test
            pseudonymiser=pseudonymiser(),
        )
