"""Partner formats: schemas, examples, CSV column specs and mapping tables agree with each other.

The Markdown pages in docs/partners/ are the agreement with each partner and their code-list
tables are the mapping intake ships as data, so these tests parse the pages themselves: a code
added to a schema without a mapping row, a mapping to a code Zicht does not know, an example that
no longer validates or an invalid example refused for another reason than documented all fail.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, ValidationError

from support.markdown_tables import Row, Table, tables_under
from zicht_schemas.codes import (
    SHORTCOMING_KIND,
    CareService,
    Category,
    CrimeIndicator,
    IndicatorCode,
    IndicatorSource,
    IndicatorValueKind,
    Law,
    LegalForm,
    RejectionCode,
    Severity,
    Shortcoming,
    ShortcomingKind,
    VulnerableGroup,
)

pytestmark = pytest.mark.unit

PARTNERS = Path(__file__).resolve().parents[3] / "docs" / "partners"
EXAMPLES = PARTNERS / "examples"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NONE_CELL = "—"

# The municipalities of shared/reference/regions.json (Twente and Noord- en Midden-Drenthe);
# examples may name no other municipality.
REGION_MUNICIPALITIES = {
    "GM0141": "Almelo",
    "GM0147": "Borne",
    "GM1774": "Dinkelland",
    "GM0153": "Enschede",
    "GM0158": "Haaksbergen",
    "GM0163": "Hellendoorn",
    "GM0164": "Hengelo",
    "GM1735": "Hof van Twente",
    "GM0168": "Losser",
    "GM0173": "Oldenzaal",
    "GM1742": "Rijssen-Holten",
    "GM0183": "Tubbergen",
    "GM1700": "Twenterand",
    "GM0189": "Wierden",
    "GM1680": "Aa en Hunze",
    "GM0106": "Assen",
    "GM1731": "Midden-Drenthe",
    "GM1730": "Tynaarlo",
}

# Which schema each JSON example belongs to, by the start of its path under examples/.
JSON_FORMATS = {
    "igj": "igj.schema.json",
    "police": "police.schema.json",
    "registry": "registry.schema.json",
    "indicators": "indicators.schema.json",
}
FORMAT_PAGES = {
    "igj.schema.json": "igj.md",
    "police.schema.json": "police.md",
    "registry.schema.json": "registry.md",
    "indicators.schema.json": "indicators.md",
}

# A rejection as the docs list it: (row, column, keyword, rejection code).
CsvRejection = tuple[int, str, str, str]


# --- reading the docs --------------------------------------------------------------------------


def read_page(name: str) -> str:
    return (PARTNERS / name).read_text(encoding="utf-8")


def table_under(page: str, heading: str) -> Table:
    tables = tables_under(page, heading)
    assert tables, f"no table under {heading!r}"
    return tables[0]


def ticked(cell: str) -> list[str]:
    """The backticked values of a table cell."""
    return re.findall(r"`([^`]+)`", cell)


def code_of(cell: str) -> str:
    values = ticked(cell)
    assert len(values) == 1, f"expected one backticked code in {cell!r}"
    return values[0]


def keyword_codes() -> dict[str, list[str]]:
    """README's table: which rejection code(s) each failing schema keyword becomes."""
    table = table_under(read_page("README.md"), "### Schema keyword to rejection code")
    return {code_of(row["schema keyword"]): ticked(row["rejection code"]) for row in table}


# --- reading schemas and examples --------------------------------------------------------------


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def schema(name: str) -> dict[str, Any]:
    return cast("dict[str, Any]", load_json(PARTNERS / name))


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)


def resolve(document: Any, pointer: str) -> Any:
    """The value at an RFC 6901 JSON Pointer."""
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        document = document[int(key)] if isinstance(document, list) else document[key]
    return document


def pointer_of(error: ValidationError) -> str:
    return "".join(f"/{part}" for part in error.absolute_path)


def schema_of_example(path: Path) -> str:
    relative = path.relative_to(EXAMPLES).as_posix()
    for prefix, schema_name in JSON_FORMATS.items():
        if relative.startswith(prefix):
            return schema_name
    pytest.fail(f"{relative} belongs to no JSON format")


def json_examples(*, invalid: bool) -> list[Path]:
    return sorted(path for path in EXAMPLES.rglob("*.json") if ("-invalid" in path.name) == invalid)


def read_csv(path: Path) -> tuple[list[str], list[tuple[int, Row]]]:
    """Header and data rows, each numbered as a spreadsheet shows it (header is row 1)."""
    text = path.read_text(encoding="utf-8-sig")
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    header = [name.strip() for name in records[0]]
    rows = [
        (number, {name: cell.strip() for name, cell in zip(header, record, strict=True)})
        for number, record in enumerate(records[1:], start=2)
    ]
    return header, rows


def documented_columns(page: str, heading: str) -> list[str]:
    return [code_of(row["column"]) for row in table_under(read_page(page), heading)]


# --- reference rules (what the pages say intake checks beyond the schemas) ---------------------


def bsn_is_valid(bsn: str) -> bool:
    """The BSN 11-check of access-team.md: weights 9..2 and -1, sum divisible by 11."""
    if not re.fullmatch(r"[0-9]{9}", bsn) or bsn == "000000000":
        return False
    digits = [int(digit) for digit in bsn]
    total = sum(weight * digit for weight, digit in zip(range(9, 1, -1), digits, strict=False))
    return (total - digits[8]) % 11 == 0


def parse_dmy(text: str) -> date | None:
    """A dd-mm-jjjj date, or None when it is no calendar date."""
    try:
        return datetime.strptime(text, "%d-%m-%Y").replace(tzinfo=AMSTERDAM).date()
    except ValueError:
        return None


def today() -> date:
    return datetime.now(tz=AMSTERDAM).date()


def schema_rejections(errors: list[ValidationError]) -> list[tuple[ValidationError, str, str]]:
    """Each error with the column it concerns and its rejection code (README's keyword table)."""
    codes = keyword_codes()
    found = []
    for error in errors:
        keyword = str(error.validator)
        if keyword == "required":
            match = re.match(r"'(.+)' is a required property", error.message)
            assert match is not None
            column = match.group(1)
        elif keyword == "anyOf":
            options = cast("list[dict[str, list[str]]]", error.validator_value)
            column = ", ".join(option["required"][0] for option in options)
        else:
            column = str(error.absolute_path[0]) if error.absolute_path else ""
        found.append((error, column, codes[keyword][0]))
    return found


ACCESS_LOWERCASED = ("voorziening", "signaal", "ernst")


def access_team_row(cells: Row) -> Row:
    """A CSV row normalised as access-team.md says: empty cells dropped, codes lower-cased."""
    row = {name: value for name, value in cells.items() if value}
    for name in ACCESS_LOWERCASED:
        if name in row:
            row[name] = row[name].lower()
    if "postcode" in row:
        row["postcode"] = row["postcode"].upper()
    return row


def access_team_rejections(rows: list[tuple[int, Row]]) -> dict[int, set[CsvRejection]]:
    row_validator = validator("access-team.row.schema.json")
    seen: set[str] = set()
    result: dict[int, set[CsvRejection]] = {}
    for number, cells in rows:
        row = access_team_row(cells)
        found = {
            (number, column, str(error.validator), code)
            for error, column, code in schema_rejections(list(row_validator.iter_errors(row)))
        }
        bsn = row.get("BSN")
        if bsn is not None and re.fullmatch(r"[0-9]{9}", bsn) and not bsn_is_valid(bsn):
            found.add((number, "BSN", "rule:bsn-11-check", "invalid_value"))
        datum = row.get("datum")
        if datum is not None and re.fullmatch(r"[0-9]{2}-[0-9]{2}-[0-9]{4}", datum):
            parsed = parse_dmy(datum)
            if parsed is None:
                found.add((number, "datum", "rule:calendar-date", "invalid_value"))
            elif parsed > today():
                found.add((number, "datum", "rule:not-in-future", "occurred_in_future"))
        kenmerk = row.get("kenmerk")
        if kenmerk is not None:
            if kenmerk in seen:
                found.add((number, "kenmerk", "rule:unique-kenmerk", "duplicate_reference"))
            seen.add(kenmerk)
        result[number] = found
    return result


REGISTRY_PROVIDER_COLUMNS = {
    "name": "name",
    "kvk": "kvk",
    "agb": "agb",
    "legal_form": "legal_form",
    "founded_on": "founded_on",
    "contracting_municipalities": "contracting_municipalities",
}
REGISTRY_LOCATION_COLUMNS = {
    "location_id": "location_id",
    "name": "location_name",
    "street": "street",
    "house_number": "house_number",
    "house_number_addition": "house_number_addition",
    "postcode": "postcode",
    "municipality_code": "municipality_code",
    "services": "services",
}


def split_list(cell: str) -> list[str]:
    return [item.strip() for item in cell.split("|") if item.strip()]


def group_rows(
    rows: list[tuple[int, Row]], *keys: str
) -> dict[tuple[str, ...], list[tuple[int, Row]]]:
    groups: dict[tuple[str, ...], list[tuple[int, Row]]] = {}
    for number, row in rows:
        groups.setdefault(tuple(row[key] for key in keys), []).append((number, row))
    return groups


def registry_body(group: list[tuple[int, Row]]) -> dict[str, Any]:
    """The PUT body a provider's CSV rows convert to (registry.md, CSV import)."""
    first = group[0][1]
    body: dict[str, Any] = {
        field: first[column]
        for field, column in REGISTRY_PROVIDER_COLUMNS.items()
        if first[column] and field != "contracting_municipalities"
    }
    body["contracting_municipalities"] = split_list(first["contracting_municipalities"])
    locations = []
    for _, row in group:
        location: dict[str, Any] = {
            field: row[column] for field, column in REGISTRY_LOCATION_COLUMNS.items() if row[column]
        }
        if "house_number" in location and location["house_number"].isdigit():
            location["house_number"] = int(location["house_number"])
        if "postcode" in location:
            location["postcode"] = location["postcode"].replace(" ", "").upper()
        location["services"] = split_list(row["services"])
        locations.append(location)
    body["locations"] = locations
    return body


def registry_provider_cell(column: str, row: Row) -> object:
    if column == "contracting_municipalities":
        return frozenset(split_list(row[column]))
    return row[column]


def registry_rejections(rows: list[tuple[int, Row]]) -> dict[str, set[CsvRejection]]:
    body_validator = validator("registry.schema.json")
    codes = keyword_codes()
    result: dict[str, set[CsvRejection]] = {}
    for (provider_id,), group in group_rows(rows, "provider_id").items():
        first_number, first = group[0]
        found: set[CsvRejection] = set()
        for number, row in group[1:]:
            for column in REGISTRY_PROVIDER_COLUMNS.values():
                if registry_provider_cell(column, row) != registry_provider_cell(column, first):
                    rule = "rule:provider-columns-identical"
                    found.add((number, column, rule, "invalid_value"))
        for error in body_validator.iter_errors(registry_body(group)):
            path = list(error.absolute_path)
            if path and path[0] == "locations" and len(path) > 2:
                number, column = group[int(path[1])][0], REGISTRY_LOCATION_COLUMNS[str(path[2])]
            else:
                number, column = first_number, REGISTRY_PROVIDER_COLUMNS[str(path[0])]
            found.add((number, column, str(error.validator), codes[str(error.validator)][0]))
        result[provider_id] = found
    return result


def indicator_value(code: str, text: str) -> tuple[object, str | None]:
    """The JSON value of a CSV cell for the indicator's type, or the rule it breaks."""
    properties = schema("indicators.schema.json")["properties"]["values"]["properties"]
    if code not in properties:
        return text, None
    kind = properties[code]["type"]
    if kind == "boolean":
        flags = {"ja": True, "nee": False}
        return flags.get(text.lower(), text), None if text.lower() in flags else "rule:flag-ja-nee"
    if kind == "integer":
        if re.fullmatch(r"-?[0-9]+", text):
            return int(text), None
        return text, "rule:integer"
    if re.fullmatch(r"-?[0-9]+([.,][0-9]+)?", text):
        return float(text.replace(",", ".")), None
    return text, "rule:number"


def indicator_report(group: list[tuple[int, Row]]) -> dict[str, Any]:
    first = group[0][1]
    values = {
        row["indicator"]: indicator_value(row["indicator"], row["value"])[0] for _, row in group
    }
    return {"source": first["source"], "period_end": first["period_end"], "values": values}


def indicator_rejections(rows: list[tuple[int, Row]]) -> dict[int, set[CsvRejection]]:
    """Each row checked on its own as a one-value report (indicators.md, CSV import)."""
    report_validator = validator("indicators.schema.json")
    codes = keyword_codes()
    result: dict[int, set[CsvRejection]] = {}
    for group in group_rows(rows, "provider_id", "source", "period_end").values():
        counts: dict[str, int] = {}
        for _, row in group:
            counts[row["indicator"]] = counts.get(row["indicator"], 0) + 1
        for number, row in group:
            found: set[CsvRejection] = set()
            value, broken_rule = indicator_value(row["indicator"], row["value"])
            if broken_rule is not None:
                found.add((number, "value", broken_rule, "invalid_value"))
            if counts[row["indicator"]] > 1:
                found.add((number, "indicator", "rule:unique-indicator", "invalid_value"))
            report = {
                "source": row["source"],
                "period_end": row["period_end"],
                "values": {row["indicator"]: value},
            }
            if broken_rule is None:
                for error in report_validator.iter_errors(report):
                    path = list(error.absolute_path)
                    column = (
                        ("value" if len(path) > 1 else "indicator")
                        if path[0] == "values"
                        else str(path[0])
                    )
                    found.add(
                        (number, column, str(error.validator), codes[str(error.validator)][0])
                    )
            result[number] = found
    return result


def documented_csv_rejections(page: str, key: str) -> dict[str, set[CsvRejection]]:
    """The invalid-CSV table of a page, grouped by the value of its ``key`` column."""
    tables = tables_under(read_page(page), "### Invalid examples")
    (table,) = [table for table in tables if table and "row" in table[0]]
    documented: dict[str, set[CsvRejection]] = {}
    for entry in table:
        documented.setdefault(code_of(entry[key]) if key != "row" else entry["row"], set()).add(
            (
                int(entry["row"]),
                entry["column"].replace("`", ""),
                code_of(entry["keyword"]),
                code_of(entry["rejection code"]),
            )
        )
    return documented


# --- code lists and their mapping tables -------------------------------------------------------


@dataclass(frozen=True)
class CodeList:
    """A partner code list: where its enum is in a schema and where its mapping table is."""

    page: str
    name: str
    schema: str
    pointer: str
    targets: dict[str, frozenset[str]]

    def __str__(self) -> str:
        return f"{self.page}:{self.name}"


def values_of(*enums: type[Any], none: bool = False) -> frozenset[str]:
    values = {member.value for enum in enums for member in enum}
    return frozenset(values | {NONE_CELL} if none else values)


CATEGORY = values_of(Category)
CRIME = values_of(CrimeIndicator, none=True)
SEVERITY = values_of(Severity)
LAW = values_of(Law)
VULNERABLE = values_of(VulnerableGroup)
SHORTCOMING = values_of(Shortcoming)

CODE_LISTS = [
    CodeList(
        "igj.md",
        "soortBevinding",
        "igj.schema.json",
        "/$defs/soortBevinding",
        {"category": CATEGORY, "crime indicator": CRIME},
    ),
    CodeList("igj.md", "wet", "igj.schema.json", "/$defs/wet", {"law": LAW}),
    CodeList("igj.md", "ernst", "igj.schema.json", "/$defs/ernst", {"severity": SEVERITY}),
    CodeList(
        "igj.md",
        "doelgroep",
        "igj.schema.json",
        "/$defs/doelgroep",
        {"vulnerable group": VULNERABLE},
    ),
    CodeList(
        "igj.md",
        "tekortkoming",
        "igj.schema.json",
        "/$defs/tekortkoming",
        {"shortcoming": SHORTCOMING, "kind": values_of(ShortcomingKind)},
    ),
    CodeList("igj.md", "contactRol", "igj.schema.json", "/$defs/contactRol", {}),
    CodeList(
        "police.md",
        "incidentCode",
        "police.schema.json",
        "/$defs/incidentCode",
        {"category": CATEGORY, "crime indicator": CRIME, "severity": SEVERITY},
    ),
    CodeList("police.md", "personRole", "police.schema.json", "/$defs/personRole", {}),
    CodeList(
        "access-team.md",
        "voorziening",
        "access-team.row.schema.json",
        "/properties/voorziening",
        {
            "law": LAW,
            "vulnerable group": VULNERABLE,
            "care service": values_of(CareService, none=True),
        },
    ),
    CodeList(
        "access-team.md",
        "signaal",
        "access-team.row.schema.json",
        "/properties/signaal",
        {
            "category": CATEGORY,
            "crime indicator": CRIME,
            "shortcoming": values_of(Shortcoming, none=True),
            "default severity": SEVERITY,
        },
    ),
    CodeList(
        "access-team.md",
        "ernst",
        "access-team.row.schema.json",
        "/properties/ernst",
        {"severity": SEVERITY},
    ),
    CodeList(
        "registry.md",
        "legal_form",
        "registry.schema.json",
        "/$defs/legal_form",
        {"legal form": values_of(LegalForm)},
    ),
    CodeList(
        "registry.md",
        "service",
        "registry.schema.json",
        "/$defs/service",
        {"care service": values_of(CareService), "law": LAW, "vulnerable group": VULNERABLE},
    ),
    CodeList(
        "indicators.md",
        "indicator",
        "indicators.schema.json",
        "/$defs/indicator_code",
        {"type": values_of(IndicatorValueKind), "usual source": values_of(IndicatorSource)},
    ),
]


def mapping_table(code_list: CodeList) -> Table:
    return table_under(read_page(code_list.page), f"### Code list: {code_list.name}")


def mapping(code_list: CodeList, target: str) -> dict[str, str]:
    """Partner code to the Zicht code in one target column ('—' where it maps to nothing)."""
    return {
        code_of(row["code"]): NONE_CELL if row[target] == NONE_CELL else code_of(row[target])
        for row in mapping_table(code_list)
    }


def code_list(page: str, name: str) -> CodeList:
    (found,) = [item for item in CODE_LISTS if item.page == page and item.name == name]
    return found


# --- schemas and JSON examples -----------------------------------------------------------------

SCHEMA_FILES = sorted(path.name for path in PARTNERS.glob("*.schema.json"))


@pytest.mark.parametrize("schema_name", SCHEMA_FILES)
def test_every_published_schema_is_a_valid_draft_2020_12_schema(schema_name: str) -> None:
    document = schema(schema_name)

    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("schema_name", sorted(JSON_FORMATS.values()))
def test_every_json_format_has_a_valid_and_an_invalid_example(schema_name: str) -> None:
    valid = [
        path for path in json_examples(invalid=False) if schema_of_example(path) == schema_name
    ]
    invalid = [
        path for path in json_examples(invalid=True) if schema_of_example(path) == schema_name
    ]

    assert valid
    assert invalid


@pytest.mark.parametrize(
    "example", json_examples(invalid=False), ids=lambda path: path.relative_to(EXAMPLES).as_posix()
)
def test_every_valid_json_example_validates_against_its_schema(example: Path) -> None:
    errors = list(validator(schema_of_example(example)).iter_errors(load_json(example)))

    assert [error.message for error in errors] == []


def invalid_json_cases() -> list[tuple[str, Row]]:
    cases: list[tuple[str, Row]] = []
    for page in FORMAT_PAGES.values():
        for table in tables_under(read_page(page), "### Invalid examples"):
            cases.extend((page, entry) for entry in table if "example" in entry)
    return cases


@pytest.mark.parametrize(
    ("page", "entry"),
    [
        pytest.param(page, entry, id=code_of(entry["example"]))
        for page, entry in invalid_json_cases()
    ],
)
def test_every_invalid_json_example_is_refused_for_its_documented_reason(
    page: str, entry: Row
) -> None:
    path = PARTNERS / code_of(entry["example"])
    pointer, keyword, code = (
        code_of(entry[name]) for name in ("pointer", "keyword", "rejection code")
    )
    document = load_json(path)

    errors = list(validator(schema_of_example(path)).iter_errors(document))

    assert FORMAT_PAGES[schema_of_example(path)] == page
    if keyword.startswith("rule:"):
        assert errors == [], "a rule example must pass the schema and fail only the rule"
        assert keyword == "rule:bsn-11-check"
        assert not bsn_is_valid(resolve(document, pointer))
        assert code == RejectionCode.INVALID_VALUE
    else:
        assert [(pointer_of(error), error.validator) for error in errors] == [(pointer, keyword)]
        assert code in keyword_codes()[keyword]


def test_every_invalid_json_example_file_is_documented_on_its_page() -> None:
    documented = {code_of(entry["example"]) for _, entry in invalid_json_cases()}

    on_disk = {path.relative_to(PARTNERS).as_posix() for path in json_examples(invalid=True)}

    assert documented == on_disk


def test_readme_maps_every_schema_keyword_to_a_known_rejection_code() -> None:
    codes = keyword_codes()

    assert {code for listed in codes.values() for code in listed} <= values_of(RejectionCode)
    assert all(listed for listed in codes.values())


@pytest.mark.parametrize("page", sorted(FORMAT_PAGES.values()))
def test_json_shown_on_a_format_page_validates_against_that_format(page: str) -> None:
    (schema_name,) = [name for name, shown_on in FORMAT_PAGES.items() if shown_on == page]
    blocks = re.findall(r"```json\n(.*?)```", read_page(page), flags=re.DOTALL)

    assert blocks
    for block in blocks:
        assert list(validator(schema_name).iter_errors(json.loads(block))) == []


@pytest.mark.parametrize("page", ["README.md", "access-team.md"])
def test_json_shown_on_the_overview_pages_is_well_formed(page: str) -> None:
    blocks = re.findall(r"```json\n(.*?)```", read_page(page), flags=re.DOTALL)

    assert blocks
    for block in blocks:
        assert isinstance(json.loads(block), dict)


# --- code lists: schemas and mapping tables cannot drift ---------------------------------------


@pytest.mark.parametrize("code_list", CODE_LISTS, ids=str)
def test_each_schema_code_list_has_exactly_the_codes_of_its_mapping_table(
    code_list: CodeList,
) -> None:
    in_schema = {str(code) for code in resolve(schema(code_list.schema), code_list.pointer)["enum"]}

    in_table = [code_of(row["code"]) for row in mapping_table(code_list)]

    assert len(in_table) == len(set(in_table)), "a code is listed twice"
    assert set(in_table) == in_schema


@pytest.mark.parametrize("code_list", CODE_LISTS, ids=str)
def test_each_mapping_table_maps_only_to_zicht_codes(code_list: CodeList) -> None:
    for target, allowed in code_list.targets.items():
        mapped = mapping(code_list, target)

        assert set(mapped.values()) <= allowed, f"{target}: {set(mapped.values()) - allowed}"


def test_igj_shortcoming_kinds_agree_with_zicht() -> None:
    shortcomings = mapping(code_list("igj.md", "tekortkoming"), "shortcoming")
    kinds = mapping(code_list("igj.md", "tekortkoming"), "kind")

    for code, shortcoming in shortcomings.items():
        assert kinds[code] == SHORTCOMING_KIND[Shortcoming(shortcoming)], code


def test_access_team_administrative_error_column_is_yes_or_no_and_used() -> None:
    table = mapping_table(code_list("access-team.md", "signaal"))

    flags = {code_of(row["code"]): row["administrative error"] for row in table}

    assert set(flags.values()) == {"yes", "no"}
    assert flags["administratieve fout"] == "yes"


def test_every_zicht_category_crime_indicator_and_shortcoming_is_reachable_from_a_partner() -> None:
    def reached(target: str) -> set[str]:
        return {
            value
            for item in CODE_LISTS
            if target in item.targets
            for value in mapping(item, target).values()
            if value != NONE_CELL
        }

    assert reached("category") == set(values_of(Category))
    assert reached("crime indicator") == set(values_of(CrimeIndicator))
    assert reached("shortcoming") == set(values_of(Shortcoming))
    assert reached("vulnerable group") == set(values_of(VulnerableGroup))


def test_indicator_schema_covers_every_barrier_model_indicator_with_its_value_type() -> None:
    document = schema("indicators.schema.json")
    properties = document["properties"]["values"]["properties"]
    types = mapping(code_list("indicators.md", "indicator"), "type")
    json_type = {
        IndicatorValueKind.RATIO: "number",
        IndicatorValueKind.COUNT: "integer",
        IndicatorValueKind.FLAG: "boolean",
    }

    assert set(properties) == values_of(IndicatorCode)
    assert set(document["$defs"]["indicator_code"]["enum"]) == values_of(IndicatorCode)
    for code in IndicatorCode:
        assert types[code.value] == code.value_kind.value, code
        assert properties[code.value]["type"] == json_type[code.value_kind], code


def test_igj_example_maps_to_the_zicht_values_its_page_states() -> None:
    example = load_json(EXAMPLES / "igj.json")
    category = mapping(code_list("igj.md", "soortBevinding"), "category")
    law = mapping(code_list("igj.md", "wet"), "law")
    severity = mapping(code_list("igj.md", "ernst"), "severity")
    vulnerable = mapping(code_list("igj.md", "doelgroep"), "vulnerable group")
    shortcoming = mapping(code_list("igj.md", "tekortkoming"), "shortcoming")

    assert law[example["wet"]] == Law.JEUGDWET
    assert category[example["soortBevinding"]] == Category.CALAMITY
    assert severity[str(example["ernst"])] == Severity.HIGH
    assert vulnerable[example["doelgroep"]] == VulnerableGroup.YOUTH
    assert [shortcoming[code] for code in example["tekortkomingen"]] == [
        Shortcoming.REPORTING,
        Shortcoming.STAFF_NUMBERS,
    ]


def test_police_raid_example_carries_the_crime_indicators_its_page_states() -> None:
    example = load_json(EXAMPLES / "police.json")
    crime = mapping(code_list("police.md", "incidentCode"), "crime indicator")

    indicators = {crime[code] for code in example["incidentCodes"]} - {NONE_CELL}

    assert indicators == {CrimeIndicator.RAID, CrimeIndicator.AMMUNITION}


# --- access-team CSV ---------------------------------------------------------------------------


def test_access_team_example_csv_has_exactly_the_documented_columns() -> None:
    header, rows = read_csv(EXAMPLES / "access-team.csv")

    assert header == documented_columns("access-team.md", "## Columns")
    assert rows
    assert set(header) == set(schema("access-team.row.schema.json")["properties"])


def test_access_team_example_csv_rows_are_all_accepted() -> None:
    _, rows = read_csv(EXAMPLES / "access-team.csv")

    rejections = access_team_rejections(rows)

    assert {number: found for number, found in rejections.items() if found} == {}


def test_access_team_example_csv_dates_are_dd_mm_jjjj_and_bsns_pass_the_11_check() -> None:
    _, rows = read_csv(EXAMPLES / "access-team.csv")

    dates = [parse_dmy(row["datum"]) for _, row in rows]
    bsns = [row["BSN"] for _, row in rows if row["BSN"]]

    assert all(re.fullmatch(r"[0-9]{2}-[0-9]{2}-[0-9]{4}", row["datum"]) for _, row in rows)
    assert None not in dates
    assert bsns
    assert all(bsn_is_valid(bsn) for bsn in bsns)


def test_access_team_invalid_csv_rejects_exactly_the_documented_rows() -> None:
    header, rows = read_csv(EXAMPLES / "access-team-invalid.csv")
    documented = documented_csv_rejections("access-team.md", "row")

    rejections = access_team_rejections(rows)

    assert header == documented_columns("access-team.md", "## Columns")
    expected = {number: documented.get(str(number), set()) for number, _ in rows}
    assert rejections == expected
    assert [number for number, found in rejections.items() if not found] == [2, 12]


def test_access_team_invalid_csv_table_names_the_kenmerk_of_each_rejected_row() -> None:
    _, rows = read_csv(EXAMPLES / "access-team-invalid.csv")
    by_number = dict(rows)
    tables = tables_under(read_page("access-team.md"), "### Invalid examples")

    for entry in tables[0]:
        assert by_number[int(entry["row"])]["kenmerk"] == code_of(entry["kenmerk"])


# --- registry --------------------------------------------------------------------------------


def registry_examples() -> dict[str, Any]:
    return {path.stem: load_json(path) for path in sorted((EXAMPLES / "registry").glob("*.json"))}


def test_registry_csv_has_exactly_the_documented_columns() -> None:
    header, _ = read_csv(EXAMPLES / "registry.csv")

    assert header == documented_columns("registry.md", "## CSV import")


def test_registry_csv_groups_into_the_providers_of_the_json_examples() -> None:
    _, rows = read_csv(EXAMPLES / "registry.csv")

    providers = {
        provider_id: registry_body(group)
        for (provider_id,), group in group_rows(rows, "provider_id").items()
    }

    assert providers == registry_examples()
    assert all(not found for found in registry_rejections(rows).values())


def test_registry_csv_rows_of_one_provider_need_not_be_adjacent() -> None:
    _, rows = read_csv(EXAMPLES / "registry.csv")

    order = [row["provider_id"] for _, row in rows]
    runs = [
        provider
        for index, provider in enumerate(order)
        if index == 0 or order[index - 1] != provider
    ]

    assert len(runs) > len(set(runs)), "the example should interleave one provider's rows"


def test_registry_example_ids_follow_the_documented_pattern() -> None:
    assert registry_examples()
    for provider_id in registry_examples():
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{2,63}", provider_id)


def test_registry_invalid_csv_rejects_exactly_the_documented_providers() -> None:
    header, rows = read_csv(EXAMPLES / "registry-invalid.csv")
    documented = documented_csv_rejections("registry.md", "provider")

    rejections = registry_rejections(rows)

    assert header == documented_columns("registry.md", "## CSV import")
    assert {provider: found for provider, found in rejections.items() if found} == documented
    assert [provider for provider, found in rejections.items() if not found] == ["ozjt-000789"]


# --- indicators --------------------------------------------------------------------------------


def indicator_examples() -> dict[tuple[str, str, str], Any]:
    reports = {}
    for path in sorted((EXAMPLES / "indicators").glob("*.json")):
        report = load_json(path)
        provider_id = path.name.split(".")[0]
        assert path.name == f"{provider_id}.{report['source']}.{report['period_end']}.json"
        reports[(provider_id, report["source"], report["period_end"])] = report
    return reports


def test_indicator_csv_has_exactly_the_documented_columns() -> None:
    header, _ = read_csv(EXAMPLES / "indicators.csv")

    assert header == documented_columns("indicators.md", "## CSV import")


def test_indicator_csv_groups_into_the_reports_of_the_json_examples() -> None:
    _, rows = read_csv(EXAMPLES / "indicators.csv")

    reports = {
        key: indicator_report(group)
        for key, group in group_rows(rows, "provider_id", "source", "period_end").items()
    }

    assert reports == indicator_examples()
    assert all(not found for found in indicator_rejections(rows).values())


def test_indicator_examples_name_only_registered_providers() -> None:
    providers = set(registry_examples())

    assert {provider for provider, _, _ in indicator_examples()} <= providers


def test_indicator_invalid_csv_rejects_exactly_the_documented_rows() -> None:
    _, rows = read_csv(EXAMPLES / "indicators-invalid.csv")
    documented = documented_csv_rejections("indicators.md", "row")

    rejections = indicator_rejections(rows)

    expected = {number: documented.get(str(number), set()) for number, _ in rows}
    assert rejections == expected
    assert [number for number, found in rejections.items() if not found] == [2, 8]


# --- personal data and reference data in the examples ------------------------------------------


def bsns_in(document: Any) -> list[str]:
    if isinstance(document, dict):
        found = [str(value) for key, value in document.items() if key.lower() == "bsn"]
        return found + [bsn for value in document.values() for bsn in bsns_in(value)]
    if isinstance(document, list):
        return [bsn for value in document for bsn in bsns_in(value)]
    return []


def test_every_bsn_in_a_valid_example_is_a_test_bsn_passing_the_11_check() -> None:
    bsns = [bsn for path in json_examples(invalid=False) for bsn in bsns_in(load_json(path))]
    bsns += [row["BSN"] for _, row in read_csv(EXAMPLES / "access-team.csv")[1] if row["BSN"]]

    assert bsns
    for bsn in bsns:
        assert bsn.startswith("9999"), bsn
        assert bsn_is_valid(bsn), bsn


def test_every_bsn_in_an_invalid_example_is_from_the_test_range() -> None:
    bsns = [bsn for path in json_examples(invalid=True) for bsn in bsns_in(load_json(path))]
    bsns += [
        row["BSN"] for _, row in read_csv(EXAMPLES / "access-team-invalid.csv")[1] if row["BSN"]
    ]

    assert all(bsn.startswith("9999") for bsn in bsns)


def test_valid_examples_name_only_municipalities_of_the_reference_regions() -> None:
    known = set(REGION_MUNICIPALITIES) | set(REGION_MUNICIPALITIES.values())
    named = [
        load_json(EXAMPLES / "igj.json")["locatie"]["gemeente"],
        load_json(EXAMPLES / "igj-wlz.json")["locatie"]["gemeente"],
    ]
    named += [row["gemeente"] for _, row in read_csv(EXAMPLES / "access-team.csv")[1]]
    for body in registry_examples().values():
        named += body["contracting_municipalities"]
        named += [location["municipality_code"] for location in body["locations"]]

    assert set(named) <= known


# --- the BSN 11-check as documented ------------------------------------------------------------


@st.composite
def valid_bsns(draw: st.DrawFn) -> str:
    first_eight = draw(st.lists(st.integers(0, 9), min_size=8, max_size=8))
    check = sum(weight * digit for weight, digit in zip(range(9, 1, -1), first_eight, strict=True))
    last = check % 11
    assume(last < 10)
    bsn = "".join(map(str, [*first_eight, last]))
    assume(bsn != "000000000")
    return bsn


@given(valid_bsns(), st.integers(0, 8), st.integers(1, 9))
def test_bsn_11_check_catches_every_single_wrong_digit(bsn: str, position: int, shift: int) -> None:
    wrong = str((int(bsn[position]) + shift) % 10)
    typo = bsn[:position] + wrong + bsn[position + 1 :]

    assert bsn_is_valid(bsn)
    assert not bsn_is_valid(typo)


@given(valid_bsns(), st.integers(0, 7))
def test_bsn_11_check_catches_every_swap_of_neighbouring_digits(bsn: str, position: int) -> None:
    assume(bsn[position] != bsn[position + 1])
    swapped = bsn[:position] + bsn[position + 1] + bsn[position] + bsn[position + 2 :]

    assert not bsn_is_valid(swapped)


def test_bsn_11_check_refuses_all_zeros_and_wrong_lengths() -> None:
    assert not bsn_is_valid("000000000")
    assert not bsn_is_valid("99992717")
    assert not bsn_is_valid("9999271760")
    assert bsn_is_valid("999927176")
