"""The synthetic region: deterministic, spread over the 18 municipalities, in the agreed formats.

Registry entries and indicator reports must pass the JSON Schemas of docs/partners/ (format
assertion on) and the rules those pages add, and the starting picture must look like Twente
2019 by policy 2025.1's own arithmetic, computed here from the reported values.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from zicht_demo.region import Provider, build_region, indicator_points
from zicht_schemas.regions import regions

pytestmark = pytest.mark.unit

PARTNERS = Path(__file__).resolve().parents[2] / "docs" / "partners"
TODAY = date(2026, 3, 16)


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((PARTNERS / name).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def region_providers() -> tuple[Provider, ...]:
    return build_region(1, 300, today=TODAY).providers


def never(_: object) -> bool:
    return False


# Policy 2025.1, section 2, written out again here so the test does not grade the demo's own
# arithmetic with itself: (red when, orange when) per indicator.
POLICY: dict[str, tuple[Any, Any]] = {
    "equity_ratio": (lambda v: v < 0.05, lambda v: v < 0.15),
    "personnel_cost_ratio": (lambda v: v < 0.50, lambda v: v < 0.65),
    "profit_margin": (lambda v: v >= 0.20, lambda v: v >= 0.10),
    "indication_realisation": (lambda v: v >= 0.98, lambda v: v >= 0.95),
    "governance_changes_3y": (lambda v: v >= 4, lambda v: v >= 2),
    "real_estate_related_party": (never, lambda v: v is True),
    "director_prior_bankruptcy": (never, lambda v: v is True),
    "director_pay_above_wnt": (never, lambda v: v is True),
    "self_employed_share": (never, lambda v: v >= 0.5),
    "high_risk_sector_links": (never, lambda v: v is True),
    "director_education_relevant": (never, lambda v: v is False),
    "provider_younger_than_two_years": (never, lambda v: v is True),
    "certification_and_insurance_missing": (lambda v: v == 2, lambda v: v == 1),
    "diploma_fraud": (lambda v: v is True, never),
}


def policy_points(provider: Provider) -> int:
    latest: dict[str, tuple[date, object]] = {}
    for report in provider.indicator_reports:
        for code, value in report.values.items():
            if code not in latest or report.period_end >= latest[code][0]:
                latest[code] = (report.period_end, value)
    points = 0
    for code, (_, reported) in latest.items():
        red, orange = POLICY[code]
        points += 25 if red(reported) else 10 if orange(reported) else 0
    return points


def policy_level(points: int) -> str:
    return "red" if points >= 60 else "orange" if points >= 30 else "green"


def test_the_same_seed_and_day_give_the_same_region() -> None:
    first = build_region(7, 120, today=TODAY)
    again = build_region(7, 120, today=TODAY)
    assert [p.registry_entry() for p in first.providers] == [
        p.registry_entry() for p in again.providers
    ]
    assert [[r.body() for r in p.indicator_reports] for p in first.providers] == [
        [r.body() for r in p.indicator_reports] for p in again.providers
    ]


def test_another_seed_gives_another_region() -> None:
    first = build_region(1, 50, today=TODAY)
    other = build_region(2, 50, today=TODAY)
    assert [p.registry_entry() for p in first.providers] != [
        p.registry_entry() for p in other.providers
    ]


def test_the_region_spans_all_18_municipalities(region_providers: tuple[Provider, ...]) -> None:
    codes = {loc.municipality_code for p in region_providers for loc in p.locations}
    assert codes == set(regions().municipality_codes)
    assert len(codes) == 18


def test_the_largest_municipalities_have_the_most_providers(
    region_providers: tuple[Provider, ...],
) -> None:
    homes = Counter(p.locations[0].municipality_code for p in region_providers)
    largest = {code for code, _ in homes.most_common(4)}
    # Enschede, Hengelo, Almelo and Assen are the four largest; at least three of them lead.
    assert len(largest & {"GM0153", "GM0164", "GM0141", "GM0106"}) >= 3
    assert homes.most_common(1)[0][0] == "GM0153"


def test_every_registry_entry_follows_the_registry_format(
    region_providers: tuple[Provider, ...],
) -> None:
    check = validator("registry.schema.json")
    region_codes = regions().municipality_codes
    for provider in region_providers:
        entry = provider.registry_entry()
        errors = [e.message for e in check.iter_errors(entry)]
        assert errors == [], (provider.provider_id, errors)
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{2,63}", provider.provider_id)
        assert date.fromisoformat(entry["founded_on"]) <= TODAY
        location_ids = [loc["location_id"] for loc in entry["locations"]]
        assert len(location_ids) == len(set(location_ids))
        assert 1 <= len(entry["locations"]) <= 3
        assert set(entry["contracting_municipalities"]) <= region_codes


def test_identifiers_and_names_are_synthetic(region_providers: tuple[Provider, ...]) -> None:
    kvks = [p.kvk for p in region_providers]
    agbs = [p.agb for p in region_providers if p.agb is not None]
    assert all(re.fullmatch(r"99[0-9]{6}", kvk) for kvk in kvks)
    assert all(re.fullmatch(r"9899[0-9]{4}", agb) for agb in agbs)
    assert len(set(kvks)) == len(kvks)
    assert len(set(agbs)) == len(agbs)
    stems = (
        "Proef",
        "Oefen",
        "Schets",
        "Voorbeeld",
        "Verzin",
        "Demo",
        "Model",
        "Test",
        "Ficti",
        "Droom",
    )
    assert all(any(stem in p.name for stem in stems) for p in region_providers)


def test_only_household_help_providers_go_without_an_agb_code(
    region_providers: tuple[Provider, ...],
) -> None:
    for provider in region_providers:
        if provider.agb is None:
            assert all(loc.services == ("household_help",) for loc in provider.locations)


def test_no_two_locations_share_an_address(region_providers: tuple[Provider, ...]) -> None:
    addresses = [(loc.postcode, loc.house_number) for p in region_providers for loc in p.locations]
    assert len(addresses) == len(set(addresses))


def test_every_indicator_report_follows_the_indicator_format(
    region_providers: tuple[Provider, ...],
) -> None:
    check = validator("indicators.schema.json")
    for provider in region_providers:
        for report in provider.indicator_reports:
            body = report.body()
            errors = [e.message for e in check.iter_errors(body)]
            assert errors == [], (provider.provider_id, errors)
            assert report.period_end <= TODAY
            if body["source"] == "supervision":
                assert set(body["values"]) <= {
                    "diploma_fraud",
                    "certification_and_insurance_missing",
                }


def test_the_young_provider_flag_agrees_with_the_founding_date(
    region_providers: tuple[Provider, ...],
) -> None:
    for provider in region_providers:
        for report in provider.indicator_reports:
            young = report.values.get("provider_younger_than_two_years")
            if young is not None:
                age_days = (report.period_end - provider.founded_on).days
                assert young == (age_days < 730), provider.provider_id


def test_the_region_starts_like_twente_2019(region_providers: tuple[Provider, ...]) -> None:
    levels = Counter(policy_level(policy_points(p)) for p in region_providers)
    share = {level: levels[level] / len(region_providers) for level in ("green", "orange", "red")}
    # domain.md: about a fifth green, about half orange, the rest red.
    assert 0.15 <= share["green"] <= 0.25
    assert 0.42 <= share["orange"] <= 0.58
    assert 0.20 <= share["red"] <= 0.38


def test_the_demo_scores_indicators_as_the_policy_does(
    region_providers: tuple[Provider, ...],
) -> None:
    for provider in region_providers:
        assert indicator_points(provider.indicator_values) == policy_points(provider)
        assert provider.starting_level.value == policy_level(policy_points(provider))


def test_a_few_troubled_providers_are_singled_out(region_providers: tuple[Provider, ...]) -> None:
    troubled = [p for p in region_providers if p.troubled]
    assert 10 <= len(troubled) <= 40
    # Mostly providers a few serious signals can tip over: not all of them red already.
    assert sum(1 for p in troubled if p.starting_level.value != "red") > len(troubled) / 2


@pytest.mark.parametrize("providers", [0, 5001])
def test_a_region_size_out_of_range_is_refused(providers: int) -> None:
    with pytest.raises(ValueError, match="providers must be"):
        build_region(1, providers, today=TODAY)
