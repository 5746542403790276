"""Registry entries and indicator reports: the rules beyond the schemas, JSON and CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from intake.unit.partner_docs import (
    RECEIVED_AT,
    TODAY,
    body,
    changed,
    csv_bytes,
    example_bytes,
    example_json,
    keep,
)
from zicht_intake.domain import (
    IndicatorReport,
    Refusal,
    RegistryEntry,
    normalise_indicators,
    normalise_registry,
    parse_indicators_csv,
    parse_registry_csv,
)
from zicht_schemas.codes import RejectionCode

pytestmark = pytest.mark.unit

INVALID = RejectionCode.INVALID_VALUE


def registry(change: Any, provider_id: str = "ozjt-000123") -> RegistryEntry | Refusal:
    return normalise_registry(
        changed("registry/ozjt-000123.json", change), provider_id=provider_id, today=TODAY
    )


def refused(result: object) -> list[tuple[RejectionCode, str | None]]:
    assert isinstance(result, Refusal), result
    return [(r.code, r.pointer) for r in result.rejections]


# --- registry ------------------------------------------------------------------------------


def test_registry_founded_after_today_is_invalid() -> None:
    assert refused(registry(lambda d: d.update(founded_on="2026-03-23"))) == [
        (INVALID, "/founded_on")
    ]


def test_registry_location_id_used_twice_is_invalid_at_the_second() -> None:
    result = registry(lambda d: d["locations"][2].update(location_id="de-esch"))

    assert refused(result) == [(INVALID, "/locations/2/location_id")]


def test_registry_contract_with_a_municipality_outside_the_regions_is_invalid() -> None:
    result = registry(lambda d: d.update(contracting_municipalities=["GM0153", "GM0363"]))

    assert refused(result) == [(INVALID, "/contracting_municipalities/1")]


def test_registry_location_may_lie_in_any_municipality() -> None:
    result = registry(lambda d: d["locations"][0].update(municipality_code="GM0363"))

    assert isinstance(result, RegistryEntry)
    assert result.locations[0].municipality_code == "GM0363"


def test_registry_provider_id_of_the_wrong_form_is_invalid() -> None:
    assert refused(registry(keep, provider_id="OZJT_123")) == [(INVALID, None)]


def test_registry_names_with_line_breaks_are_invalid() -> None:
    result = registry(lambda d: (d.update(name="A\nB"), d["locations"][0].update(name="C\tD")))

    assert refused(result) == [(INVALID, "/name"), (INVALID, "/locations/0/name")]


def test_registry_location_without_a_name_is_published_under_its_address() -> None:
    result = registry(lambda d: d["locations"][1].pop("name"))

    assert isinstance(result, RegistryEntry)
    event = result.to_event("ozjt-000123", 2, RECEIVED_AT)
    assert event.locations[1].name == "Proefstraat 12A"


def test_registry_with_more_than_500_locations_is_invalid() -> None:
    def many(document: dict[str, Any]) -> None:
        template = document["locations"][0]
        document["locations"] = [{**template, "location_id": f"loc-{n}"} for n in range(501)]

    assert refused(registry(many)) == [(INVALID, "/locations")]


REGISTRY_HEADER = (
    "provider_id;name;kvk;agb;legal_form;founded_on;contracting_municipalities;location_id;"
    "location_name;street;house_number;house_number_addition;postcode;municipality_code;services"
)
PROVIDER = "ozjt-000999;Testzorg B.V.;99000099;;bv;2020-01-01;GM0153 | GM0164"


def test_registry_csv_house_number_must_be_digits() -> None:
    data = csv_bytes(
        REGISTRY_HEADER,
        f"{PROVIDER};a;A;Straat;12a;;7511 ab;GM0153;guidance",
    )

    result = parse_registry_csv(data, today=TODAY)

    assert not isinstance(result, Refusal)
    (provider,) = result
    assert isinstance(provider.result, Refusal)
    assert [(r.row, r.column, r.code) for r in provider.result.rejections] == [
        (2, "house_number", INVALID)
    ]


def test_registry_csv_compares_contracting_municipalities_as_a_set() -> None:
    data = csv_bytes(
        REGISTRY_HEADER,
        f"{PROVIDER};a;;Straat;1;;7511AB;GM0153;guidance",
        PROVIDER.replace("GM0153 | GM0164", "GM0164|GM0153")
        + ";b;;Weg;2;B;7512CD;GM0153;youth|guidance",
    )

    result = parse_registry_csv(data, today=TODAY)

    assert not isinstance(result, Refusal)
    (provider,) = result
    assert isinstance(provider.result, RegistryEntry), provider.result
    assert provider.result.contracting_municipalities == ("GM0153", "GM0164")
    assert [loc.postcode for loc in provider.result.locations] == ["7511AB", "7512CD"]


def test_registry_csv_row_without_provider_id_is_refused_on_its_own() -> None:
    data = csv_bytes(
        REGISTRY_HEADER,
        f"{PROVIDER};a;;Straat;1;;7511AB;GM0153;guidance",
        ";Testzorg B.V.;99000099;;bv;2020-01-01;;b;;Weg;2;;7512CD;GM0153;youth",
    )

    result = parse_registry_csv(data, today=TODAY)

    assert not isinstance(result, Refusal)
    outcome = {
        p.provider_id: [(r.row, r.column, r.code) for r in p.result.rejections]
        if isinstance(p.result, Refusal)
        else "accepted"
        for p in result
    }
    assert outcome == {
        "ozjt-000999": "accepted",
        "": [(3, "provider_id", RejectionCode.MISSING_FIELD)],
    }


def test_registry_csv_with_an_unknown_column_is_refused_whole() -> None:
    result = parse_registry_csv(
        csv_bytes(
            REGISTRY_HEADER + ";contactpersoon", f"{PROVIDER};a;;S;1;;7511AB;GM0153;guidance;x"
        ),
        today=TODAY,
    )

    assert isinstance(result, Refusal)
    assert [r.code for r in result.rejections] == [RejectionCode.MALFORMED_PAYLOAD]


# --- indicators ----------------------------------------------------------------------------


def indicators(document: dict[str, Any], provider_id: str = "ozjt-000456") -> object:
    return normalise_indicators(body(document), provider_id=provider_id, received_at=RECEIVED_AT)


def test_indicator_period_after_today_is_invalid() -> None:
    document = example_json("indicators/ozjt-000456.supervision.2026-03-10.json")
    document["period_end"] = "2026-03-23"

    assert refused(indicators(document)) == [(INVALID, "/period_end")]


def test_indicator_period_outside_the_event_years_is_invalid() -> None:
    document = example_json("indicators/ozjt-000456.supervision.2026-03-10.json")
    document["period_end"] = "1999-12-31"

    assert refused(indicators(document)) == [(INVALID, "/period_end")]


def test_supervision_reports_only_the_findings_supervisors_establish() -> None:
    document = {
        "source": "supervision",
        "period_end": "2026-03-10",
        "values": {
            "diploma_fraud": True,
            "certification_and_insurance_missing": 1,
            "equity_ratio": 0.1,
        },
    }

    assert refused(indicators(document)) == [(INVALID, "/values/equity_ratio")]


def test_indicator_number_beyond_a_float_is_invalid() -> None:
    data = (
        b'{"source": "annual_accounts", "period_end": "2025-12-31",'
        b' "values": {"equity_ratio": -1e999}}'
    )

    result = normalise_indicators(data, provider_id="ozjt-000456", received_at=RECEIVED_AT)

    assert refused(result) == [(INVALID, "/values/equity_ratio")]


def test_indicator_provider_id_of_the_wrong_form_is_not_identified() -> None:
    document = example_json("indicators/ozjt-000456.supervision.2026-03-10.json")

    assert refused(indicators(document, provider_id="x")) == [
        (RejectionCode.PROVIDER_NOT_IDENTIFIED, None)
    ]


def test_indicator_report_above_64_kib_is_refused_whole() -> None:
    data = example_bytes("indicators/ozjt-000456.supervision.2026-03-10.json") + b" " * 65536

    result = normalise_indicators(data, provider_id="ozjt-000456", received_at=RECEIVED_AT)

    assert refused(result) == [(RejectionCode.MALFORMED_PAYLOAD, None)]


def test_indicator_counts_accept_a_whole_json_number_written_with_a_fraction() -> None:
    document = {
        "source": "contract_management",
        "period_end": "2026-03-01",
        "values": {"governance_changes_3y": 3.0},
    }

    result = indicators(document)

    assert isinstance(result, IndicatorReport)
    assert [v.value for v in result.values] == [3.0]


INDICATOR_HEADER = "provider_id;source;period_end;indicator;value"


def test_indicator_csv_twice_the_same_indicator_in_a_report_refuses_every_row_of_it() -> None:
    data = csv_bytes(
        INDICATOR_HEADER,
        "ozjt-000456;annual_accounts;2025-12-31;equity_ratio;0,1",
        "ozjt-000456;annual_accounts;2025-12-31;profit_margin;0.2",
        "ozjt-000456;annual_accounts;2025-12-31;equity_ratio;0.2",
        "ozjt-000456;annual_accounts;2024-12-31;equity_ratio;0.3",
    )

    result = parse_indicators_csv(data, received_at=RECEIVED_AT)

    assert not isinstance(result, Refusal)
    outcome = [
        (part.rows, [(r.column, r.code) for r in part.result.rejections])
        if isinstance(part.result, Refusal)
        else (part.rows, [(v.code.value, v.value) for v in part.result.values])
        for part in result
    ]
    assert outcome == [
        ((2,), [("indicator", INVALID)]),
        ((3,), [("profit_margin", 0.2)]),
        ((4,), [("indicator", INVALID)]),
        ((5,), [("equity_ratio", 0.3)]),
    ]


def test_indicator_csv_empty_cells_are_missing_fields() -> None:
    data = csv_bytes(INDICATOR_HEADER, "ozjt-000456;annual_accounts;;equity_ratio;")

    result = parse_indicators_csv(data, received_at=RECEIVED_AT)

    assert not isinstance(result, Refusal)
    (part,) = result
    assert isinstance(part.result, Refusal)
    assert [(r.column, r.code) for r in part.result.rejections] == [
        ("period_end", RejectionCode.MISSING_FIELD),
        ("value", RejectionCode.MISSING_FIELD),
    ]


@pytest.mark.parametrize(
    ("indicator", "text", "value"),
    [
        ("equity_ratio", "-0,25", -0.25),
        ("equity_ratio", "1", 1.0),
        ("governance_changes_3y", "0", 0.0),
        ("real_estate_related_party", "JA", True),
        ("director_education_relevant", "Nee", False),
    ],
)
def test_indicator_csv_values_are_read_as_the_page_says(
    indicator: str, text: str, value: object
) -> None:
    data = csv_bytes(
        INDICATOR_HEADER, f"ozjt-000456;contract_management;2026-03-01;{indicator};{text}"
    )

    result = parse_indicators_csv(data, received_at=RECEIVED_AT)

    assert not isinstance(result, Refusal)
    (part,) = result
    assert isinstance(part.result, IndicatorReport), part.result
    assert [v.value for v in part.result.values] == [value]
    assert part.result.reported_at == datetime(2026, 3, 22, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("indicator", "text"),
    [("equity_ratio", "1.000,5"), ("equity_ratio", "12%"), ("governance_changes_3y", "1.5")],
)
def test_indicator_csv_values_of_the_wrong_form_are_invalid(indicator: str, text: str) -> None:
    data = csv_bytes(
        INDICATOR_HEADER, f"ozjt-000456;contract_management;2026-03-01;{indicator};{text}"
    )

    result = parse_indicators_csv(data, received_at=RECEIVED_AT)

    assert not isinstance(result, Refusal)
    (part,) = result
    assert isinstance(part.result, Refusal)
    assert [(r.column, r.code) for r in part.result.rejections] == [("value", INVALID)]
