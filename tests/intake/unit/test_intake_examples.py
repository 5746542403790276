"""Every example of docs/partners/ is normalised as its page says, and refused as it promises."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import TypeAdapter

from intake.unit.partner_docs import (
    EXAMPLES,
    PARTNERS,
    RECEIVED_AT,
    TEAM,
    TODAY,
    code_of,
    example_bytes,
    invalid_example_tables,
    pseudonymiser,
    registry_entries,
    registry_providers,
)
from zicht_intake.domain import (
    IndicatorReport,
    Refusal,
    RegistryEntry,
    SignalDraft,
    complete,
    identify,
    normalise_igj,
    normalise_indicators,
    normalise_police,
    normalise_registry,
    parse_access_team_csv,
    parse_indicators_csv,
    parse_registry_csv,
)
from zicht_schemas.codes import (
    Category,
    CrimeIndicator,
    IndicatorCode,
    IndicatorSource,
    Law,
    LegalForm,
    ProviderMatch,
    RejectionCode,
    Severity,
    Shortcoming,
    ShortcomingKind,
    Source,
    VulnerableGroup,
)
from zicht_schemas.events.intake import IndicatorValue, SignalReceivedV1

pytestmark = pytest.mark.unit


def signal_examples(prefix: str) -> list[str]:
    return sorted(
        path.name for path in EXAMPLES.glob(f"{prefix}*.json") if "-invalid" not in path.name
    )


def normalised(name: str) -> SignalDraft | Refusal:
    normalise = normalise_police if name.startswith("police") else normalise_igj
    return normalise(example_bytes(name), received_at=RECEIVED_AT, pseudonymiser=pseudonymiser())


def published(draft: SignalDraft) -> SignalReceivedV1:
    event = complete(
        draft,
        identify(draft.provider, registry_providers()),
        signal_id=uuid4(),
        submission_id=uuid4(),
        partner_id="partner-1",
        received_at=RECEIVED_AT,
    )
    assert event is not None
    return event


# --- valid examples ------------------------------------------------------------------------


@pytest.mark.parametrize("name", signal_examples("igj") + signal_examples("police"))
def test_every_valid_signal_example_normalises_and_is_published_for_a_registered_provider(
    name: str,
) -> None:
    draft = normalised(name)

    assert isinstance(draft, SignalDraft), draft
    assert draft.occurred_at.tzinfo is UTC
    assert published(draft).partner_reference == draft.partner_reference


def test_igj_example_becomes_what_igj_md_says() -> None:
    draft = normalised("igj.json")
    assert isinstance(draft, SignalDraft)

    event = published(draft)

    assert draft.source is Source.IGJ
    assert draft.partner_reference == "IGJ-2026-004711"
    assert (event.law, event.category, event.severity) == (
        Law.JEUGDWET,
        Category.CALAMITY,
        Severity.HIGH,
    )
    assert event.vulnerable_group is VulnerableGroup.YOUTH
    assert event.crime_indicators == ()
    assert event.administrative_error is False
    assert [(s.code, s.kind) for s in event.shortcomings] == [
        (Shortcoming.REPORTING, ShortcomingKind.QUICK),
        (Shortcoming.STAFF_NUMBERS, ShortcomingKind.COMPLEX),
    ]
    assert event.provider.matched_by is ProviderMatch.KVK
    assert event.location.municipality_code == "GM0153"  # "Enschede", resolved by name
    assert event.location.postcode == "7512CD"
    # 10 March in Amsterdam starts at 23:00 UTC the day before; the report is 14:05 CET.
    assert event.occurred_at == datetime(2026, 3, 9, 23, 0, tzinfo=UTC)
    assert draft.reported_at == datetime(2026, 3, 12, 13, 5, tzinfo=UTC)
    assert draft.warnings == ()


def test_igj_wlz_example_is_accepted_with_only_the_required_fields() -> None:
    draft = normalised("igj-wlz.json")
    assert isinstance(draft, SignalDraft)

    event = published(draft)

    assert event.law is Law.WLZ
    assert event.vulnerable_group is VulnerableGroup.NONE
    assert event.provider.matched_by is ProviderMatch.AGB
    assert event.location.municipality_code == "GM0141"
    assert draft.reported_at == datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


def test_police_raid_example_becomes_what_police_md_says() -> None:
    draft = normalised("police.json")
    assert isinstance(draft, SignalDraft)

    event = published(draft)

    assert draft.partner_reference == "PL0600-2026004217"
    assert event.category is Category.LEGITIMACY  # OD10 wins over OD20's other
    assert event.severity is Severity.HIGH
    assert event.crime_indicators == (CrimeIndicator.RAID, CrimeIndicator.AMMUNITION)
    assert event.provider.provider_id == "ozjt-000123"
    assert event.provider.matched_by is ProviderMatch.NAME_AND_POSTCODE
    assert event.location.location_id == "proefstraat"
    assert (event.law, event.vulnerable_group) == (Law.WMO, VulnerableGroup.SHELTERED_HOUSING)
    assert event.location.municipality_code == "GM0164"
    assert event.occurred_at == datetime(2026, 3, 14, 5, 0, tzinfo=UTC)
    suspect = draft.persons[0]
    assert suspect.pseudonym is not None
    assert "999958379" not in event.model_dump_json()
    assert "999958379" not in repr(draft)


def test_police_violence_example_is_youth_because_the_victim_is_a_minor() -> None:
    draft = normalised("police-violence.json")
    assert isinstance(draft, SignalDraft)

    event = published(draft)

    assert (event.category, event.severity) == (Category.VIOLENCE, Severity.MEDIUM)
    assert event.provider.matched_by is ProviderMatch.KVK
    assert event.vulnerable_group is VulnerableGroup.YOUTH
    assert event.law is Law.JEUGDWET
    assert event.location.municipality_code == "GM0141"
    assert event.occurred_at == datetime(2026, 3, 20, 18, 42, tzinfo=UTC)  # no seconds given
    assert draft.reported_at == datetime(2026, 3, 21, 7, 0, tzinfo=UTC)


def test_every_access_team_example_row_is_accepted() -> None:
    rows = parse_access_team_csv(
        example_bytes("access-team.csv"),
        received_at=RECEIVED_AT,
        pseudonymiser=pseudonymiser(),
        team=TEAM,
    )

    assert not isinstance(rows, Refusal)
    assert [row.row for row in rows] == [2, 3, 4, 5, 6, 7]
    assert all(isinstance(row.result, SignalDraft) for row in rows)


def test_access_team_example_row_2_becomes_what_access_team_md_says() -> None:
    rows = parse_access_team_csv(
        example_bytes("access-team.csv"),
        received_at=RECEIVED_AT,
        pseudonymiser=pseudonymiser(),
        team=TEAM,
    )
    assert not isinstance(rows, Refusal)
    draft = rows[0].result
    assert isinstance(draft, SignalDraft)

    event = published(draft)

    assert rows[0].partner_reference == f"{TEAM}/TE-2026-0101"
    assert (event.law, event.vulnerable_group) == (Law.WMO, VulnerableGroup.SHELTERED_HOUSING)
    assert event.category is Category.QUALITY
    assert [s.code for s in event.shortcomings] == [Shortcoming.STAFF_NUMBERS]
    assert event.severity is Severity.MEDIUM
    assert event.provider.matched_by is ProviderMatch.AGB
    assert event.location.municipality_code == "GM0153"
    assert event.occurred_at == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    assert event.client_pseudonyms == (pseudonymiser().pseudonym("999927176"),)
    assert event.clients_involved == 1


def test_access_team_row_without_severity_takes_the_signals_default() -> None:
    rows = parse_access_team_csv(
        example_bytes("access-team.csv"),
        received_at=RECEIVED_AT,
        pseudonymiser=pseudonymiser(),
        team=TEAM,
    )
    assert not isinstance(rows, Refusal)
    by_row = {row.row: row.result for row in rows}

    not_delivered, complaint = by_row[4], by_row[7]

    assert isinstance(not_delivered, SignalDraft)
    assert isinstance(complaint, SignalDraft)
    assert not_delivered.severity is Severity.MEDIUM  # zorg niet geleverd
    assert complaint.severity is Severity.LOW  # klacht


@pytest.mark.parametrize("path", sorted((EXAMPLES / "registry").glob("*.json")), ids=str)
def test_every_registry_example_becomes_a_provider_registered_event(path: Path) -> None:
    entry = normalise_registry(path.read_bytes(), provider_id=path.stem, today=TODAY)
    assert isinstance(entry, RegistryEntry), entry

    event = entry.to_event(path.stem, 1, RECEIVED_AT)

    assert event.provider_id == path.stem
    assert len(event.locations) == len(entry.locations)
    assert event.active is True


def test_registry_example_ozjt_000123_keeps_its_locations_and_contracts() -> None:
    entry = registry_entries()["ozjt-000123"]

    event = entry.to_event("ozjt-000123", 3, RECEIVED_AT)

    assert event.legal_form is LegalForm.STICHTING
    assert event.founded_on == date(2012, 3, 1)
    assert [(loc.location_id, loc.municipality_code) for loc in event.locations] == [
        ("de-esch", "GM0153"),
        ("proefstraat", "GM0164"),
        ("werkhuis", "GM0164"),
    ]
    assert event.contracting_municipalities == ("GM0153", "GM0164", "GM0141")
    assert entry.related_municipalities == ("GM0153", "GM0164", "GM0141")
    assert event.registry_version == 3


def test_registry_csv_groups_into_exactly_the_json_examples() -> None:
    providers = parse_registry_csv(example_bytes("registry.csv"), today=TODAY)

    assert not isinstance(providers, Refusal)
    assert {p.provider_id: p.result for p in providers} == registry_entries()
    assert {p.provider_id: p.rows for p in providers}["ozjt-000123"] == (2, 3, 5)


def indicator_example_reports() -> dict[tuple[str, str, date], IndicatorReport]:
    reports = {}
    for path in sorted((EXAMPLES / "indicators").glob("*.json")):
        provider_id = path.name.split(".")[0]
        report = normalise_indicators(
            path.read_bytes(), provider_id=provider_id, received_at=RECEIVED_AT
        )
        assert isinstance(report, IndicatorReport), report
        assert report.period_end is not None
        reports[provider_id, report.source.value, report.period_end] = report
    return reports


def test_indicator_examples_become_what_indicators_md_says() -> None:
    report = indicator_example_reports()["ozjt-000456", "annual_accounts", date(2025, 12, 31)]

    event = report.to_event(uuid4(), "ozjt-000456")

    assert event.source is IndicatorSource.ANNUAL_ACCOUNTS
    assert event.period_year == 2025
    assert event.reported_at == RECEIVED_AT
    assert event.indicators == (
        IndicatorValue(code=IndicatorCode.EQUITY_RATIO, value=0.03),
        IndicatorValue(code=IndicatorCode.PERSONNEL_COST_RATIO, value=0.48),
        IndicatorValue(code=IndicatorCode.PROFIT_MARGIN, value=0.22),
        IndicatorValue(code=IndicatorCode.SELF_EMPLOYED_SHARE, value=0.55),
        IndicatorValue(code=IndicatorCode.DIRECTOR_PAY_ABOVE_WNT, value=True),
    )


def test_indicator_csv_groups_into_exactly_the_json_examples() -> None:
    parts = parse_indicators_csv(example_bytes("indicators.csv"), received_at=RECEIVED_AT)

    assert not isinstance(parts, Refusal)
    reports = {}
    for part in parts:
        assert isinstance(part.result, IndicatorReport), part.result
        assert part.result.period_end is not None
        reports[part.provider_id, part.result.source.value, part.result.period_end] = part.result
    assert reports == indicator_example_reports()


# --- invalid examples, as each page documents them ------------------------------------------


def invalid_json_cases() -> list[tuple[str, str, str]]:
    cases: list[tuple[str, str, str]] = []
    for page in ("igj.md", "police.md", "registry.md", "indicators.md"):
        for table in invalid_example_tables(page):
            cases.extend(
                (
                    code_of(entry["example"]),
                    code_of(entry["pointer"]),
                    code_of(entry["rejection code"]),
                )
                for entry in table
                if "example" in entry
            )
    return cases


def test_every_invalid_json_example_on_disk_is_documented() -> None:
    on_disk = {path.relative_to(PARTNERS).as_posix() for path in EXAMPLES.rglob("*-invalid*.json")}

    assert {example for example, _, _ in invalid_json_cases()} == on_disk


@pytest.mark.parametrize(("example", "pointer", "code"), invalid_json_cases())
def test_every_invalid_json_example_is_refused_with_the_documented_code_and_pointer(
    example: str, pointer: str, code: str
) -> None:
    data = (PARTNERS / example).read_bytes()
    name = Path(example).name
    result: object
    if name.startswith("igj"):
        result = normalise_igj(data, received_at=RECEIVED_AT, pseudonymiser=pseudonymiser())
    elif name.startswith("police"):
        result = normalise_police(data, received_at=RECEIVED_AT, pseudonymiser=pseudonymiser())
    elif name.startswith("registry"):
        result = normalise_registry(data, provider_id="ozjt-000123", today=TODAY)
    else:
        result = normalise_indicators(data, provider_id="ozjt-000123", received_at=RECEIVED_AT)

    assert isinstance(result, Refusal)
    assert [(r.code, r.pointer) for r in result.rejections] == [(RejectionCode(code), pointer)]


def documented_csv_rows(page: str, key: str) -> dict[str, set[tuple[int, str, str]]]:
    """The invalid-CSV table of a page: per key, the (row, column, code) it promises."""
    (table,) = [t for t in invalid_example_tables(page) if t and "row" in t[0]]
    documented: dict[str, set[tuple[int, str, str]]] = {}
    for entry in table:
        name = entry["row"] if key == "row" else code_of(entry[key])
        documented.setdefault(name, set()).add(
            (int(entry["row"]), entry["column"].replace("`", ""), code_of(entry["rejection code"]))
        )
    return documented


def test_access_team_invalid_csv_refuses_exactly_the_documented_rows() -> None:
    documented = documented_csv_rows("access-team.md", "row")

    rows = parse_access_team_csv(
        example_bytes("access-team-invalid.csv"),
        received_at=RECEIVED_AT,
        pseudonymiser=pseudonymiser(),
        team=TEAM,
    )

    assert not isinstance(rows, Refusal)
    found = {
        str(row.row): {(r.row, r.column, r.code.value) for r in row.result.rejections}
        for row in rows
        if isinstance(row.result, Refusal)
    }
    assert found == documented
    assert [row.row for row in rows if isinstance(row.result, SignalDraft)] == [2, 12]


def test_registry_invalid_csv_refuses_exactly_the_documented_providers() -> None:
    documented = documented_csv_rows("registry.md", "provider")

    providers = parse_registry_csv(example_bytes("registry-invalid.csv"), today=TODAY)

    assert not isinstance(providers, Refusal)
    found = {
        p.provider_id: {(r.row, r.column, r.code.value) for r in p.result.rejections}
        for p in providers
        if isinstance(p.result, Refusal)
    }
    assert found == documented
    assert [p.provider_id for p in providers if isinstance(p.result, RegistryEntry)] == [
        "ozjt-000789"
    ]


def test_indicator_invalid_csv_refuses_exactly_the_documented_rows() -> None:
    documented = documented_csv_rows("indicators.md", "row")

    parts = parse_indicators_csv(example_bytes("indicators-invalid.csv"), received_at=RECEIVED_AT)

    assert not isinstance(parts, Refusal)
    found = {
        str(part.rows[0]): {(r.row, r.column, r.code.value) for r in part.result.rejections}
        for part in parts
        if isinstance(part.result, Refusal)
    }
    assert found == documented
    accepted = [part.rows for part in parts if isinstance(part.result, IndicatorReport)]
    assert accepted == [(2,), (8,)]


def test_a_draft_survives_storage_as_json_unchanged() -> None:
    adapter = TypeAdapter(SignalDraft)
    rows = parse_access_team_csv(
        example_bytes("access-team.csv"),
        received_at=RECEIVED_AT,
        pseudonymiser=pseudonymiser(),
        team=TEAM,
    )
    assert not isinstance(rows, Refusal)
    drafts = [normalised(name) for name in signal_examples("igj") + signal_examples("police")]
    drafts += [row.result for row in rows]

    for draft in drafts:
        assert isinstance(draft, SignalDraft)
        assert adapter.validate_json(adapter.dump_json(draft)) == draft
