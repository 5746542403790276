"""The shipped reference regions: the 18 municipalities and four casus tables of domain.md."""

import pytest

from zicht_schemas.regions import municipality_name_key, regions

pytestmark = pytest.mark.unit

TWENTE = {
    "GM0141", "GM0147", "GM1774", "GM0153", "GM0158", "GM0163", "GM0164",
    "GM1735", "GM0168", "GM0173", "GM1742", "GM0183", "GM1700", "GM0189",
}  # fmt: skip
NMD = {"GM1680", "GM0106", "GM1731", "GM1730"}


def test_the_catalogue_holds_the_fourteen_twente_and_four_nmd_municipalities() -> None:
    catalogue = regions()
    twente, nmd = catalogue.region("twente"), catalogue.region("nmd")
    assert twente is not None
    assert nmd is not None
    assert {m.code for m in twente.municipalities} == TWENTE
    assert {m.code for m in nmd.municipalities} == NMD
    assert catalogue.municipality_codes == TWENTE | NMD


def test_each_region_has_one_fraud_table_and_one_coordination_table() -> None:
    catalogue = regions()
    assert catalogue.region_of("GM0153") is catalogue.region("twente")
    twente = catalogue.region("twente")
    assert twente is not None
    assert twente.fraud_table.id == "riec-on-zorgfraude"
    assert twente.coordination_table.id == "cct-twente"
    table = catalogue.casus_table("riec-noord-zorgfraude")
    assert table is not None
    assert table.region_id == "nmd"


@pytest.mark.parametrize(
    ("written", "code"),
    [("Enschede", "GM0153"), ("gemeente Hof van Twente", "GM1735"), ("RIJSSEN-HOLTEN", "GM1742"),
     ("Aa-en-Hunze", "GM1680"), ("  tynaarlo ", "GM1730")],
)  # fmt: skip
def test_municipality_names_resolve_ignoring_case_hyphens_spaces_and_gemeente(
    written: str, code: str
) -> None:
    found = regions().municipality_by_name(written)
    assert found is not None
    assert found.code == code


def test_an_unknown_name_or_a_code_outside_the_regions_resolves_to_nothing() -> None:
    assert regions().municipality_by_name("Amsterdam") is None
    assert regions().municipality("GM0363") is None
    assert municipality_name_key("Gemeente Dé Wolden") == "dewolden"
