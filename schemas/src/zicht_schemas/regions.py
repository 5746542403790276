"""The regions Zicht serves: municipalities (CBS codes) and casus tables, as shipped reference data.

The data is ``reference/regions.json`` inside this package, a copy of the public reference list
(``tests/contract`` checks the copy). Every service reads it from here, so a municipality code
means the same thing everywhere.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "CasusTable",
    "Municipality",
    "Region",
    "RegionCatalogue",
    "municipality_name_key",
    "regions",
]


@dataclass(frozen=True, slots=True)
class Municipality:
    """A municipality (gemeente) with its CBS code."""

    code: str
    name: str
    region_id: str


@dataclass(frozen=True, slots=True)
class CasusTable:
    """A casus table (casustafel) of a region: where providers of concern are discussed."""

    id: str
    name: str
    purpose: str
    region_id: str

    @property
    def handles_criminal_referrals(self) -> bool:
        """Whether this is the region's care-fraud table (RIEC): it gets criminal referrals."""
        return "criminal" in self.purpose


@dataclass(frozen=True, slots=True)
class Region:
    """A supervision region: its municipalities and casus tables."""

    id: str
    name: str
    municipalities: tuple[Municipality, ...]
    casus_tables: tuple[CasusTable, ...]

    @property
    def fraud_table(self) -> CasusTable:
        """The region's care-fraud casus table (criminal referrals)."""
        return next(t for t in self.casus_tables if t.handles_criminal_referrals)

    @property
    def coordination_table(self) -> CasusTable:
        """The region's coordination table (providers of concern on quality and legitimacy)."""
        return next(t for t in self.casus_tables if not t.handles_criminal_referrals)


def municipality_name_key(name: str) -> str:
    """A municipality name folded for lookup: case, diacritics, hyphens, spaces and 'gemeente'."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    folded = folded.strip()
    if folded.startswith("gemeente "):
        folded = folded.removeprefix("gemeente ")
    return "".join(ch for ch in folded if ch.isalnum())


@dataclass(frozen=True, slots=True)
class RegionCatalogue:
    """Every region with lookups by municipality code, name and casus-table id."""

    regions: tuple[Region, ...]

    def municipality(self, code: str) -> Municipality | None:
        """The municipality with this CBS code, if it belongs to one of the regions."""
        return self._by_code().get(code)

    def municipality_by_name(self, name: str) -> Municipality | None:
        """The municipality with this name (see :func:`municipality_name_key`), if any."""
        return self._by_name().get(municipality_name_key(name))

    def region_of(self, municipality_code: str) -> Region | None:
        """The region a municipality belongs to, or None when it is outside every region."""
        found = self.municipality(municipality_code)
        return self.region(found.region_id) if found else None

    def region(self, region_id: str) -> Region | None:
        """The region with this id."""
        return next((r for r in self.regions if r.id == region_id), None)

    def casus_table(self, table_id: str) -> CasusTable | None:
        """The casus table with this id."""
        return next((t for r in self.regions for t in r.casus_tables if t.id == table_id), None)

    @property
    def municipality_codes(self) -> frozenset[str]:
        """The CBS codes of every municipality of every region."""
        return frozenset(self._by_code())

    def _by_code(self) -> dict[str, Municipality]:
        return {m.code: m for r in self.regions for m in r.municipalities}

    def _by_name(self) -> dict[str, Municipality]:
        return {municipality_name_key(m.name): m for r in self.regions for m in r.municipalities}


def _parse(raw: dict[str, object]) -> RegionCatalogue:
    items = raw["regions"]
    if not isinstance(items, list):
        raise TypeError("regions.json: 'regions' must be a list")
    regions = []
    for item in items:
        region_id = str(item["id"])
        regions.append(
            Region(
                id=region_id,
                name=str(item["name"]),
                municipalities=tuple(
                    Municipality(code=str(m["code"]), name=str(m["name"]), region_id=region_id)
                    for m in item["municipalities"]
                ),
                casus_tables=tuple(
                    CasusTable(
                        id=str(t["id"]),
                        name=str(t["name"]),
                        purpose=str(t["purpose"]),
                        region_id=region_id,
                    )
                    for t in item["casus_tables"]
                ),
            )
        )
    return RegionCatalogue(regions=tuple(regions))


@cache
def regions() -> RegionCatalogue:
    """The shipped reference regions (read once)."""
    text = resources.files("zicht_schemas").joinpath("reference/regions.json").read_text("utf-8")
    return _parse(json.loads(text))
