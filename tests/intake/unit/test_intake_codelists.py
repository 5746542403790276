"""The code lists intake ships as data say exactly what the partner pages say, and are applied.

The pages in docs/partners/ are the agreement with the partners; intake's YAML files are its
copy. These tests parse every ``### Code list: <name>`` table and compare it with the data
file row for row, both ways, then send a body with each code and check what intake makes of it.
"""

from __future__ import annotations

from datetime import date
from importlib import resources
from typing import Any
from uuid import uuid4

import pytest

from intake.unit.partner_docs import (
    ACCESS_TEAM_HEADER,
    NONE_CELL,
    PARTNERS,
    RECEIVED_AT,
    TEAM,
    TODAY,
    body,
    changed,
    code_lists_of,
    csv_bytes,
    pseudonymiser,
    ticked,
)
from zicht_intake.domain import (
    Identification,
    IndicatorReport,
    PartnerFormat,
    Refusal,
    RegistryEntry,
    RegistryLocation,
    RegistryProvider,
    SignalDraft,
    complete,
    normalise_igj,
    normalise_indicators,
    normalise_police,
    normalise_registry,
    parse_access_team_csv,
    parse_indicators_csv,
)
from zicht_intake.domain.codelists import CodeListFile, raw_code_lists
from zicht_schemas.codes import (
    CareService,
    ProviderMatch,
    Shortcoming,
    VulnerableGroup,
)

pytestmark = pytest.mark.unit

PAGE_OF_FILE = {
    CodeListFile.IGJ: "igj.md",
    CodeListFile.POLICE: "police.md",
    CodeListFile.ACCESS_TEAM: "access-team.md",
    CodeListFile.REGISTRY: "registry.md",
    CodeListFile.INDICATORS: "indicators.md",
}
# Page column -> data-file key, for the columns intake maps with.
MAPPED_COLUMNS = {
    "category": "category",
    "crime indicator": "crime_indicator",
    "law": "law",
    "severity": "severity",
    "vulnerable group": "vulnerable_group",
    "shortcoming": "shortcoming",
    "kind": "kind",
    "care service": "care_service",
    "administrative error": "administrative_error",
    "default severity": "default_severity",
    "legal form": "legal_form",
    "type": "type",
    "usual source": "usual_source",
    "counts for `vulnerable` = `youth` when `minor`": "counts_for_youth",
}
# Columns for the reader only.
DESCRIPTIVE_COLUMNS = {
    "code",
    "meaning",
    "Dutch term",
    "police term",
    "Zicht use",
    "unit and range",
    "how the value is computed",
    "red",
    "orange",
}


def page_value(cell: str) -> object:
    """A mapping cell as the data file holds it: a code, None for '—', a bool for yes/no."""
    if cell == NONE_CELL:
        return None
    if cell in {"yes", "no"}:
        return cell == "yes"
    (value,) = ticked(cell)
    return value


def page_lists(page: str) -> dict[str, dict[str, dict[str, object]]]:
    lists: dict[str, dict[str, dict[str, object]]] = {}
    for name, table in code_lists_of(page).items():
        rows: dict[str, dict[str, object]] = {}
        for row in table:
            (code,) = ticked(row["code"])
            assert code not in rows, f"{page}:{name}: {code} listed twice"
            rows[code] = {
                MAPPED_COLUMNS[column]: page_value(cell)
                for column, cell in row.items()
                if column in MAPPED_COLUMNS
            }
        lists[name] = rows
    return lists


@pytest.mark.parametrize("file_name", CodeListFile.ALL)
def test_every_page_column_is_either_mapped_or_for_the_reader(file_name: str) -> None:
    for name, table in code_lists_of(PAGE_OF_FILE[file_name]).items():
        unknown = set(table[0]) - set(MAPPED_COLUMNS) - DESCRIPTIVE_COLUMNS
        assert unknown == set(), f"{name}: columns intake does not know: {unknown}"


@pytest.mark.parametrize("file_name", CodeListFile.ALL)
def test_data_file_holds_exactly_the_code_lists_of_its_page(file_name: str) -> None:
    on_page = page_lists(PAGE_OF_FILE[file_name])
    shipped = raw_code_lists(file_name)

    assert set(shipped) == set(on_page)
    for name, rows in on_page.items():
        assert set(shipped[name]) == set(rows), f"{name}: codes differ"
        for code, columns in rows.items():
            assert shipped[name][code] == columns, f"{name}: {code}"


@pytest.mark.parametrize("partner_format", list(PartnerFormat))
def test_packaged_schema_is_byte_identical_to_the_published_one(
    partner_format: PartnerFormat,
) -> None:
    packaged = (
        resources.files("zicht_intake").joinpath("formats", partner_format.schema_file).read_bytes()
    )

    assert packaged == (PARTNERS / partner_format.schema_file).read_bytes()


def test_every_published_schema_is_packaged() -> None:
    published = {path.name for path in PARTNERS.glob("*.schema.json")}

    assert published == {partner_format.schema_file for partner_format in PartnerFormat}


# --- every row applied -------------------------------------------------------------------


def igj_rows(name: str) -> list[tuple[str, dict[str, object]]]:
    return sorted(raw_code_lists(CodeListFile.IGJ)[name].items())


def igj_draft(change: Any) -> SignalDraft:
    result = normalise_igj(
        changed("igj.json", change), received_at=RECEIVED_AT, pseudonymiser=pseudonymiser()
    )
    assert isinstance(result, SignalDraft), result
    return result


@pytest.mark.parametrize(("code", "row"), igj_rows("soortBevinding"))
def test_igj_finding_maps_to_its_category_and_crime_indicator(
    code: str, row: dict[str, object]
) -> None:
    draft = igj_draft(lambda d: d.update(soortBevinding=code))

    assert draft.category == row["category"]
    assert list(draft.crime_indicators) == [row["crime_indicator"]] * bool(row["crime_indicator"])


@pytest.mark.parametrize(("code", "row"), igj_rows("wet"))
def test_igj_law_maps_to_its_zicht_law(code: str, row: dict[str, object]) -> None:
    assert igj_draft(lambda d: d.update(wet=code)).law == row["law"]


@pytest.mark.parametrize(("code", "row"), igj_rows("ernst"))
def test_igj_severity_maps_to_its_zicht_severity(code: str, row: dict[str, object]) -> None:
    assert igj_draft(lambda d: d.update(ernst=int(code))).severity == row["severity"]


@pytest.mark.parametrize(("code", "row"), igj_rows("doelgroep"))
def test_igj_target_group_maps_to_its_vulnerable_group(code: str, row: dict[str, object]) -> None:
    draft = igj_draft(lambda d: d.update(doelgroep=code, wet="Wmo2015"))

    assert draft.vulnerable_group == row["vulnerable_group"]


@pytest.mark.parametrize(("code", "row"), igj_rows("tekortkoming"))
def test_igj_shortcoming_maps_to_its_zicht_shortcoming_and_kind(
    code: str, row: dict[str, object]
) -> None:
    draft = igj_draft(lambda d: d.update(tekortkomingen=[code]))

    assert [(s.code, s.kind) for s in draft.shortcomings] == [(row["shortcoming"], row["kind"])]


@pytest.mark.parametrize(("code", "row"), igj_rows("contactRol"))
def test_igj_contact_role_is_accepted_and_kept_in_intake(code: str, row: object) -> None:
    draft = igj_draft(lambda d: d["contact"].update(rol=code))

    assert draft.contact is not None
    assert draft.contact.role == code


@pytest.mark.parametrize(
    ("wet", "vulnerable"),
    [("Jeugdwet", VulnerableGroup.YOUTH), ("Wmo2015", VulnerableGroup.NONE)],
)
def test_igj_without_target_group_is_youth_only_under_the_jeugdwet(
    wet: str, vulnerable: VulnerableGroup
) -> None:
    def change(document: dict[str, Any]) -> None:
        document.update(wet=wet)
        del document["doelgroep"]

    assert igj_draft(change).vulnerable_group == vulnerable


def police_draft(change: Any) -> SignalDraft:
    result = normalise_police(
        changed("police.json", change), received_at=RECEIVED_AT, pseudonymiser=pseudonymiser()
    )
    assert isinstance(result, SignalDraft), result
    return result


@pytest.mark.parametrize(
    ("code", "row"), sorted(raw_code_lists(CodeListFile.POLICE)["incidentCode"].items())
)
def test_police_incident_code_maps_to_category_severity_and_crime_indicator(
    code: str, row: dict[str, object]
) -> None:
    draft = police_draft(lambda d: d.update(incidentCodes=[code]))

    assert draft.category == row["category"]
    assert draft.severity == row["severity"]
    assert list(draft.crime_indicators) == [row["crime_indicator"]] * bool(row["crime_indicator"])


@pytest.mark.parametrize(
    ("code", "row"), sorted(raw_code_lists(CodeListFile.POLICE)["personRole"].items())
)
def test_a_minor_makes_a_police_signal_youth_only_in_the_roles_the_page_says(
    code: str, row: dict[str, object]
) -> None:
    draft = police_draft(lambda d: d.update(involvedPersons=[{"role": code, "minor": True}]))

    assert (draft.vulnerable_group == VulnerableGroup.YOUTH) is row["counts_for_youth"]
    assert draft.minor_involved is row["counts_for_youth"]


def access_draft(voorziening: str, signaal: str, ernst: str = "") -> SignalDraft:
    data = csv_bytes(
        ACCESS_TEAM_HEADER,
        f"TE-1;02-03-2026;;Zorg B.V.;98990011;;Enschede;{voorziening};{signaal};{ernst};;Team",
    )
    rows = parse_access_team_csv(
        data, received_at=RECEIVED_AT, pseudonymiser=pseudonymiser(), team=TEAM
    )
    assert not isinstance(rows, Refusal)
    (row,) = rows
    assert isinstance(row.result, SignalDraft), row.result
    return row.result


@pytest.mark.parametrize(
    ("code", "row"), sorted(raw_code_lists(CodeListFile.ACCESS_TEAM)["voorziening"].items())
)
def test_access_team_service_maps_to_law_and_vulnerable_group(
    code: str, row: dict[str, object]
) -> None:
    draft = access_draft(code.upper(), "klacht")

    assert (draft.law, draft.vulnerable_group) == (row["law"], row["vulnerable_group"])


@pytest.mark.parametrize(
    ("code", "row"), sorted(raw_code_lists(CodeListFile.ACCESS_TEAM)["signaal"].items())
)
def test_access_team_signal_maps_to_category_indicators_shortcoming_and_default_severity(
    code: str, row: dict[str, object]
) -> None:
    draft = access_draft("dagbesteding", code)

    assert draft.category == row["category"]
    assert list(draft.crime_indicators) == [row["crime_indicator"]] * bool(row["crime_indicator"])
    assert [s.code for s in draft.shortcomings] == [row["shortcoming"]] * bool(row["shortcoming"])
    assert draft.administrative_error is row["administrative_error"]
    assert draft.severity == row["default_severity"]


@pytest.mark.parametrize(
    ("code", "row"), sorted(raw_code_lists(CodeListFile.ACCESS_TEAM)["ernst"].items())
)
def test_access_team_severity_overrides_the_signals_default(
    code: str, row: dict[str, object]
) -> None:
    assert (
        access_draft("dagbesteding", "calamiteit", f" {code.title()} ").severity == row["severity"]
    )


def registry_entry(change: Any) -> RegistryEntry:
    result = normalise_registry(
        changed("registry/ozjt-000123.json", change), provider_id="ozjt-000123", today=TODAY
    )
    assert isinstance(result, RegistryEntry), result
    return result


@pytest.mark.parametrize(
    ("code", "row"), sorted(raw_code_lists(CodeListFile.REGISTRY)["legal_form"].items())
)
def test_registry_legal_form_maps_to_zicht_legal_form(code: str, row: dict[str, object]) -> None:
    assert registry_entry(lambda d: d.update(legal_form=code)).legal_form == row["legal_form"]


@pytest.mark.parametrize(
    ("code", "row"), sorted(raw_code_lists(CodeListFile.REGISTRY)["service"].items())
)
def test_registry_service_gives_the_law_and_group_a_police_signal_there_gets(
    code: str, row: dict[str, object]
) -> None:
    entry = registry_entry(lambda d: d["locations"][1].update(services=[code]))
    location = entry.locations[1]
    draft = police_draft(lambda d: d["involvedPersons"].clear())
    registered = RegistryLocation(
        location.location_id,
        location.postcode,
        12,
        "A",
        location.municipality_code,
        (CareService(code),),
    )
    provider = RegistryProvider("ozjt-000123", entry.name, entry.kvk, entry.agb, (registered,))

    event = complete(
        draft,
        Identification(provider, registered, ProviderMatch.NAME_AND_POSTCODE),
        signal_id=uuid4(),
        submission_id=uuid4(),
        partner_id="police-oost",
        received_at=RECEIVED_AT,
    )

    assert location.services == (row["care_service"],)
    assert event is not None
    assert (event.law, event.vulnerable_group) == (row["law"], row["vulnerable_group"])


INDICATOR_VALUES = {"ratio": (0.5, "0,5"), "count": (2, "2"), "flag": (True, "ja")}


@pytest.mark.parametrize(
    ("code", "row"), sorted(raw_code_lists(CodeListFile.INDICATORS)["indicator"].items())
)
def test_each_indicator_is_read_as_its_type_from_json_and_csv(
    code: str, row: dict[str, object]
) -> None:
    json_value, csv_value = INDICATOR_VALUES[str(row["type"])]
    source = str(row["usual_source"])
    document = {"source": source, "period_end": "2025-12-31", "values": {code: json_value}}
    from_json = normalise_indicators(
        body(document),
        provider_id="ozjt-000123",
        received_at=RECEIVED_AT,
    )
    from_csv = parse_indicators_csv(
        csv_bytes(
            "provider_id;source;period_end;indicator;value",
            f"ozjt-000123;{source};2025-12-31;{code};{csv_value}",
        ),
        received_at=RECEIVED_AT,
    )

    assert isinstance(from_json, IndicatorReport), from_json
    assert not isinstance(from_csv, Refusal)
    (part,) = from_csv
    assert isinstance(part.result, IndicatorReport), part.result
    assert [(v.code, v.value) for v in from_json.values] == [(code, json_value)]
    assert [(v.code, v.value) for v in part.result.values] == [(code, json_value)]
    assert part.result.period_end == date(2025, 12, 31)


def test_shortcomings_repeat_once_after_mapping() -> None:
    draft = igj_draft(lambda d: d.update(tekortkomingen=["veiligheid", "medicatieveiligheid"]))

    assert [s.code for s in draft.shortcomings] == [Shortcoming.SAFETY]
