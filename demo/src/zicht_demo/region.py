"""The synthetic region: invented providers across the 18 reference municipalities.

Every name, number and address here is made up: KvK numbers ``99xxxxxx``, AGB codes
``9899xxxx``, names such as "Stichting Proefzorg Noord 17", streets such as "Oefenlaan".
Only the municipality codes are real (``zicht_schemas.regions``), because routing needs them.

The starting picture follows domain.md's public figure for Twente 2019: about a fifth of the
providers green, half orange, the rest red on the barrier model. Each provider is first given a
level, then indicator values whose points under policy 2025.1 (green 0, orange 10, red 25 per
indicator; orange from 30, red from 60) land it on that level, so the arithmetic decides, not a
label. A few providers are *troubled*: the signal generator sends them most serious signals, so
they visibly change colour within a minute.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

from zicht_schemas import CareService, IndicatorCode, IndicatorSource, LegalForm, RiskLevel
from zicht_schemas.regions import Municipality, regions

__all__ = [
    "AMSTERDAM",
    "MAX_PROVIDERS",
    "IndicatorReport",
    "Location",
    "Provider",
    "Region",
    "build_region",
    "indicator_levels",
    "indicator_points",
    "level_for",
    "today_in_amsterdam",
]

AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")
MAX_PROVIDERS: Final = 5000

# Residents in thousands (CBS, rounded): only the proportions matter, so Enschede gets about
# a seventh of the providers and Tubbergen about a fiftieth.
MUNICIPALITY_WEIGHTS: Final[Mapping[str, int]] = {
    "GM0141": 74,  # Almelo
    "GM0147": 24,  # Borne
    "GM1774": 27,  # Dinkelland
    "GM0153": 161,  # Enschede
    "GM0158": 25,  # Haaksbergen
    "GM0163": 36,  # Hellendoorn
    "GM0164": 82,  # Hengelo
    "GM1735": 35,  # Hof van Twente
    "GM0168": 23,  # Losser
    "GM0173": 32,  # Oldenzaal
    "GM1742": 39,  # Rijssen-Holten
    "GM0183": 21,  # Tubbergen
    "GM1700": 34,  # Twenterand
    "GM0189": 25,  # Wierden
    "GM1680": 26,  # Aa en Hunze
    "GM0106": 69,  # Assen
    "GM1731": 33,  # Midden-Drenthe
    "GM1730": 35,  # Tynaarlo
}

# The four-digit postcode areas of each municipality (roughly; the letters are invented), so
# a police incident address looks as if it lies where its location is.
POSTCODE_AREAS: Final[Mapping[str, tuple[int, int]]] = {
    "GM0141": (7600, 7609),
    "GM0147": (7620, 7623),
    "GM1774": (7590, 7597),
    "GM0153": (7511, 7548),
    "GM0158": (7480, 7483),
    "GM0163": (7440, 7447),
    "GM0164": (7550, 7559),
    "GM1735": (7470, 7478),
    "GM0168": (7580, 7588),
    "GM0173": (7570, 7577),
    "GM1742": (7460, 7463),
    "GM0183": (7650, 7665),
    "GM1700": (7670, 7689),
    "GM0189": (7640, 7645),
    "GM1680": (9450, 9469),
    "GM0106": (9400, 9409),
    "GM1731": (9410, 9419),
    "GM1730": (9480, 9489),
}

# Starting levels, as domain.md's Twente 2019 figure: a fifth green, half orange, the rest red.
GREEN_SHARE: Final = 0.2
ORANGE_SHARE: Final = 0.5
TROUBLED_SHARE: Final = 0.08

# Policy 2025.1, section 2: points per indicator level and the score's level boundaries.
ORANGE_POINTS: Final = 10
RED_POINTS: Final = 25
ORANGE_FROM: Final = 30.0
RED_FROM: Final = 60.0

_GREEN_TARGETS: Final = (0, 0, 10, 10, 20, 20)
_ORANGE_TARGETS: Final = (30, 35, 40, 45, 50, 55)
_RED_TARGETS: Final = (60, 65, 70, 75, 80, 85, 90, 100, 110)

_RED_ABLE: Final = (
    IndicatorCode.EQUITY_RATIO,
    IndicatorCode.PERSONNEL_COST_RATIO,
    IndicatorCode.PROFIT_MARGIN,
    IndicatorCode.INDICATION_REALISATION,
    IndicatorCode.GOVERNANCE_CHANGES_3Y,
    IndicatorCode.CERTIFICATION_AND_INSURANCE_MISSING,
)
_ORANGE_ONLY: Final = (
    IndicatorCode.REAL_ESTATE_RELATED_PARTY,
    IndicatorCode.DIRECTOR_PRIOR_BANKRUPTCY,
    IndicatorCode.DIRECTOR_PAY_ABOVE_WNT,
    IndicatorCode.SELF_EMPLOYED_SHARE,
    IndicatorCode.HIGH_RISK_SECTOR_LINKS,
    IndicatorCode.DIRECTOR_EDUCATION_RELEVANT,
    IndicatorCode.PROVIDER_YOUNGER_THAN_TWO_YEARS,
)
_ANNUAL_ACCOUNTS: Final = frozenset(
    {
        IndicatorCode.EQUITY_RATIO,
        IndicatorCode.PERSONNEL_COST_RATIO,
        IndicatorCode.PROFIT_MARGIN,
        IndicatorCode.SELF_EMPLOYED_SHARE,
        IndicatorCode.DIRECTOR_PAY_ABOVE_WNT,
    }
)
_DIPLOMA_FRAUD_SHARE_OF_RED: Final = 0.08

# Ratio ranges in thousandths per level: (low, high) inclusive, on the right side of every
# policy threshold once divided by 1000.
_RATIO_RANGES: Final[Mapping[IndicatorCode, Mapping[RiskLevel, tuple[int, int]]]] = {
    IndicatorCode.EQUITY_RATIO: {
        RiskLevel.GREEN: (150, 600),
        RiskLevel.ORANGE: (50, 149),
        RiskLevel.RED: (-200, 49),
    },
    IndicatorCode.PERSONNEL_COST_RATIO: {
        RiskLevel.GREEN: (650, 850),
        RiskLevel.ORANGE: (500, 649),
        RiskLevel.RED: (300, 499),
    },
    IndicatorCode.PROFIT_MARGIN: {
        RiskLevel.GREEN: (-50, 99),
        RiskLevel.ORANGE: (100, 199),
        RiskLevel.RED: (200, 350),
    },
    IndicatorCode.INDICATION_REALISATION: {
        RiskLevel.GREEN: (700, 949),
        RiskLevel.ORANGE: (950, 979),
        RiskLevel.RED: (980, 1000),
    },
    IndicatorCode.SELF_EMPLOYED_SHARE: {
        RiskLevel.GREEN: (0, 450),
        RiskLevel.ORANGE: (500, 800),
    },
}
_COUNT_RANGES: Final[Mapping[IndicatorCode, Mapping[RiskLevel, tuple[int, int]]]] = {
    IndicatorCode.GOVERNANCE_CHANGES_3Y: {
        RiskLevel.GREEN: (0, 1),
        RiskLevel.ORANGE: (2, 3),
        RiskLevel.RED: (4, 7),
    },
    IndicatorCode.CERTIFICATION_AND_INSURANCE_MISSING: {
        RiskLevel.GREEN: (0, 0),
        RiskLevel.ORANGE: (1, 1),
        RiskLevel.RED: (2, 2),
    },
}
# The value of a flag that scores orange (red for diploma fraud); the other value is green.
_RISKY_FLAG: Final[Mapping[IndicatorCode, bool]] = {
    IndicatorCode.REAL_ESTATE_RELATED_PARTY: True,
    IndicatorCode.DIRECTOR_PRIOR_BANKRUPTCY: True,
    IndicatorCode.DIRECTOR_PAY_ABOVE_WNT: True,
    IndicatorCode.HIGH_RISK_SECTOR_LINKS: True,
    IndicatorCode.DIRECTOR_EDUCATION_RELEVANT: False,
    IndicatorCode.PROVIDER_YOUNGER_THAN_TWO_YEARS: True,
    IndicatorCode.DIPLOMA_FRAUD: True,
}

_NAME_STEMS: Final = (
    "Proefzorg",
    "Oefenzorg",
    "Schetszorg",
    "Voorbeeldzorg",
    "Verzinzorg",
    "Demozorg",
    "Modelzorg",
    "Testzorg",
    "Fictiezorg",
    "Droomzorg",
)
_NAME_AREAS: Final = ("Noord", "Zuid", "Oost", "West", "Midden", "Centrum")
_STREET_STEMS: Final = ("Proef", "Oefen", "Schets", "Voorbeeld", "Verzin", "Demo", "Model", "Test")
_STREET_ENDS: Final = ("straat", "weg", "laan", "plein", "hof", "singel", "dreef", "pad")
_PLACE_NAMES: Final = (
    "De Proeftuin",
    "Het Oefenhuis",
    "De Schetshoeve",
    "Het Modelhof",
    "De Verzinplaats",
    "Het Testerf",
    "De Demohoek",
    "Het Voorbeeld",
)
_LOCATION_KINDS: Final[Mapping[CareService, str]] = {
    CareService.SHELTERED_HOUSING: "Woonlocatie",
    CareService.YOUTH: "Gezinshuis",
    CareService.DAY_CARE: "Dagbesteding",
    CareService.GUIDANCE: "Steunpunt",
    CareService.HOUSEHOLD_HELP: "Kantoor",
}
_SERVICE_WEIGHTS: Final[Mapping[CareService, int]] = {
    CareService.GUIDANCE: 35,
    CareService.DAY_CARE: 20,
    CareService.YOUTH: 20,
    CareService.SHELTERED_HOUSING: 12,
    CareService.HOUSEHOLD_HELP: 13,
}
_LEGAL_FORMS: Final[Mapping[LegalForm, int]] = {
    LegalForm.STICHTING: 45,
    LegalForm.BV: 35,
    LegalForm.VOF: 6,
    LegalForm.EENMANSZAAK: 6,
    LegalForm.COOPERATIE: 4,
    LegalForm.VERENIGING: 4,
}
# Red providers are more often young private companies (domain.md: the 2021 screening).
_LEGAL_FORMS_RED: Final[Mapping[LegalForm, int]] = {
    LegalForm.BV: 60,
    LegalForm.STICHTING: 25,
    LegalForm.VOF: 5,
    LegalForm.EENMANSZAAK: 10,
}
_LOCATION_COUNTS: Final = ((1, 55), (2, 30), (3, 15))
_YOUNG_DAYS: Final = (400, 700)
_OLD_YEARS: Final = (3, 40)
_HOUSE_NUMBER_MAX: Final = 250


def today_in_amsterdam() -> date:
    """Today's date in Europe/Amsterdam, the day partners' dates are checked against."""
    return datetime.now(tz=AMSTERDAM).date()


def indicator_points(values: Mapping[str, object]) -> int:
    """The indicator points of policy 2025.1 (section 2) for reported values.

    Args:
        values: Indicator code to value, as reported; codes never reported count green.

    Returns:
        The sum of 0 (green), 10 (orange) or 25 (red) over the indicators.
    """
    return sum(_points_of(IndicatorCode(code), value) for code, value in values.items())


def indicator_levels(values: Mapping[str, object]) -> dict[str, RiskLevel]:
    """Each reported indicator's traffic light under policy 2025.1."""
    return {code: _level_of(IndicatorCode(code), value) for code, value in values.items()}


def level_for(score: float) -> RiskLevel:
    """The traffic light of a score without hysteresis: green, orange from 30, red from 60."""
    if score >= RED_FROM:
        return RiskLevel.RED
    if score >= ORANGE_FROM:
        return RiskLevel.ORANGE
    return RiskLevel.GREEN


def _points_of(code: IndicatorCode, value: object) -> int:
    return {RiskLevel.GREEN: 0, RiskLevel.ORANGE: ORANGE_POINTS, RiskLevel.RED: RED_POINTS}[
        _level_of(code, value)
    ]


def _level_of(code: IndicatorCode, value: object) -> RiskLevel:
    if code in _RISKY_FLAG:
        if value != _RISKY_FLAG[code]:
            return RiskLevel.GREEN
        return RiskLevel.RED if code is IndicatorCode.DIPLOMA_FRAUD else RiskLevel.ORANGE
    number = float(value)  # type: ignore[arg-type]  # ratios and counts are numbers
    thresholds: Mapping[IndicatorCode, tuple[float | None, float, bool]] = {
        # code: (red bound, orange bound, whether high values are risky)
        IndicatorCode.EQUITY_RATIO: (0.05, 0.15, False),
        IndicatorCode.PERSONNEL_COST_RATIO: (0.50, 0.65, False),
        IndicatorCode.PROFIT_MARGIN: (0.20, 0.10, True),
        IndicatorCode.INDICATION_REALISATION: (0.98, 0.95, True),
        IndicatorCode.GOVERNANCE_CHANGES_3Y: (4, 2, True),
        IndicatorCode.SELF_EMPLOYED_SHARE: (None, 0.5, True),
        IndicatorCode.CERTIFICATION_AND_INSURANCE_MISSING: (2, 1, True),
    }
    red, orange, high_is_risky = thresholds[code]
    if high_is_risky:
        if red is not None and number >= red:
            return RiskLevel.RED
        return RiskLevel.ORANGE if number >= orange else RiskLevel.GREEN
    if red is not None and number < red:
        return RiskLevel.RED
    return RiskLevel.ORANGE if number < orange else RiskLevel.GREEN


@dataclass(frozen=True, slots=True)
class Location:
    """A care location of a provider (locatie), as the registry knows it."""

    location_id: str
    name: str
    street: str
    house_number: int
    postcode: str
    municipality_code: str
    services: tuple[CareService, ...]
    house_number_addition: str | None = None

    @property
    def postcode_with_space(self) -> str:
        """The postcode as people write it: ``7511 AB``."""
        return f"{self.postcode[:4]} {self.postcode[4:]}"

    def body(self) -> dict[str, Any]:
        """The location as in a registry entry (docs/partners/registry.md)."""
        data: dict[str, Any] = {
            "location_id": self.location_id,
            "name": self.name,
            "street": self.street,
            "house_number": self.house_number,
            "postcode": self.postcode,
            "municipality_code": self.municipality_code,
            "services": [service.value for service in self.services],
        }
        if self.house_number_addition:
            data["house_number_addition"] = self.house_number_addition
        return data


@dataclass(frozen=True, slots=True)
class IndicatorReport:
    """One indicator report of a provider (docs/partners/indicators.md)."""

    source: IndicatorSource
    period_end: date
    values: Mapping[str, float | int | bool]

    def body(self) -> dict[str, Any]:
        """The JSON body of ``POST /v1/providers/{id}/indicators``."""
        return {
            "source": self.source.value,
            "period_end": self.period_end.isoformat(),
            "values": dict(self.values),
        }


@dataclass(frozen=True, slots=True)
class Provider:
    """An invented care provider with its registry entry and indicator reports."""

    provider_id: str
    name: str
    kvk: str
    agb: str | None
    legal_form: LegalForm
    founded_on: date
    locations: tuple[Location, ...]
    contracting_municipalities: tuple[str, ...]
    indicator_reports: tuple[IndicatorReport, ...]
    troubled: bool = False

    @property
    def region_id(self) -> str:
        """The region of the provider's first location."""
        found = regions().region_of(self.locations[0].municipality_code)
        return found.id if found else ""

    @property
    def indicator_values(self) -> dict[str, float | int | bool]:
        """Every reported indicator value (each indicator is in exactly one report)."""
        merged: dict[str, float | int | bool] = {}
        for report in self.indicator_reports:
            merged.update(report.values)
        return merged

    @property
    def starting_points(self) -> int:
        """The indicator points under policy 2025.1: the score before any signal."""
        return indicator_points(self.indicator_values)

    @property
    def starting_level(self) -> RiskLevel:
        """The traffic light before any signal."""
        return level_for(self.starting_points)

    @property
    def related_municipalities(self) -> frozenset[str]:
        """The municipalities of its locations and those that contract it."""
        return frozenset(
            {loc.municipality_code for loc in self.locations} | set(self.contracting_municipalities)
        )

    def registry_entry(self) -> dict[str, Any]:
        """The JSON body of ``PUT /v1/providers/{id}`` (docs/partners/registry.md)."""
        entry: dict[str, Any] = {
            "name": self.name,
            "kvk": self.kvk,
            "legal_form": self.legal_form.value,
            "founded_on": self.founded_on.isoformat(),
            "locations": [location.body() for location in self.locations],
            "contracting_municipalities": list(self.contracting_municipalities),
        }
        if self.agb is not None:
            entry["agb"] = self.agb
        return entry


@dataclass(frozen=True, slots=True)
class Region:
    """The synthetic region: its providers, built deterministically from a seed."""

    seed: int
    today: date
    providers: tuple[Provider, ...]

    def provider(self, provider_id: str) -> Provider | None:
        """The provider with this registry id, if it belongs to the region."""
        return next((p for p in self.providers if p.provider_id == provider_id), None)

    def contracted_by(self, municipality_code: str) -> tuple[Provider, ...]:
        """The providers related to a municipality (a location in it or a contract with it)."""
        return tuple(p for p in self.providers if municipality_code in p.related_municipalities)

    @property
    def troubled(self) -> tuple[Provider, ...]:
        """The providers the signal generator singles out."""
        return tuple(p for p in self.providers if p.troubled)

    @property
    def municipality_codes(self) -> frozenset[str]:
        """Every municipality with at least one location of a provider."""
        return frozenset(loc.municipality_code for p in self.providers for loc in p.locations)


def build_region(seed: int, providers: int = 300, *, today: date | None = None) -> Region:
    """Build the synthetic region: the same seed and day always give the same region.

    Args:
        seed: Seed of the pseudo-random choices.
        providers: How many providers (1 to 5000).
        today: The day dates are relative to (founding dates, report periods); default today
            in Europe/Amsterdam, so nothing lies in the future.

    Returns:
        The region with its providers ``demo-0001`` upwards.

    Raises:
        ValueError: When ``providers`` is out of range.
    """
    if not 1 <= providers <= MAX_PROVIDERS:
        raise ValueError(f"providers must be 1 to {MAX_PROVIDERS}, not {providers}")
    day = today or today_in_amsterdam()
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
    builder = _Builder(rng, day)
    levels = _starting_levels(rng, providers)
    troubled = _troubled(rng, levels)
    built = tuple(
        builder.provider(number, levels[number - 1], number - 1 in troubled)
        for number in range(1, providers + 1)
    )
    return Region(seed=seed, today=day, providers=built)


def _starting_levels(rng: random.Random, count: int) -> list[RiskLevel]:
    # Quotas, not independent draws: the region starts at a fifth / a half / the rest.
    green = round(count * GREEN_SHARE)
    orange = round(count * ORANGE_SHARE)
    levels = (
        [RiskLevel.GREEN] * green
        + [RiskLevel.ORANGE] * orange
        + [RiskLevel.RED] * (count - green - orange)
    )
    rng.shuffle(levels)
    return levels


def _troubled(rng: random.Random, levels: Sequence[RiskLevel]) -> frozenset[int]:
    # Mostly orange providers (a few serious signals turn them red), some green ones (they turn
    # orange) and a few red ones (they collect referrals and casus-table alerts).
    count = max(1, round(len(levels) * TROUBLED_SHARE))
    by_level = {
        level: [i for i, found in enumerate(levels) if found is level] for level in RiskLevel
    }
    wanted = {
        RiskLevel.ORANGE: round(count * 0.6),
        RiskLevel.GREEN: round(count * 0.25),
    }
    wanted[RiskLevel.RED] = max(0, count - sum(wanted.values()))
    chosen: set[int] = set()
    for level, number in wanted.items():
        pool = by_level[level]
        chosen.update(rng.sample(pool, min(number, len(pool))))
    return frozenset(chosen)


_T = TypeVar("_T")


def _weighted(rng: random.Random, weights: Mapping[_T, int]) -> _T:
    items = list(weights)
    return rng.choices(items, weights=[weights[item] for item in items])[0]


class _Builder:
    """Draws one provider after another from one random stream."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self._rng = rng
        self._today = today
        self._catalogue = regions()
        self._addresses: set[tuple[str, int]] = set()
        self._all = [m for r in self._catalogue.regions for m in r.municipalities]

    @property
    def annual_period_end(self) -> date:
        """The balance-sheet date of the last annual accounts: 31 December of last year."""
        return date(self._today.year - 1, 12, 31)

    @property
    def checks_period_end(self) -> date:
        """The date of contract management's checks: the first of this month."""
        return self._today.replace(day=1)

    def provider(self, number: int, level: RiskLevel, troubled: bool) -> Provider:
        rng = self._rng
        home = (
            self._all[number - 1]
            if number <= len(self._all)  # every municipality gets at least one provider
            else self._municipality(MUNICIPALITY_WEIGHTS)
        )
        legal_form = _weighted(rng, _LEGAL_FORMS_RED if level is RiskLevel.RED else _LEGAL_FORMS)
        locations = self._locations(home)
        contracting = self._contracting(home, locations)
        plan = self._plan(level)
        young = plan.get(IndicatorCode.PROVIDER_YOUNGER_THAN_TWO_YEARS) is RiskLevel.ORANGE
        founded_on = self._founded_on(young=young)
        household_only = all(loc.services == (CareService.HOUSEHOLD_HELP,) for loc in locations)
        return Provider(
            provider_id=f"demo-{number:04d}",
            name=self._name(number, legal_form, home),
            kvk=f"99{100000 + number:06d}",
            agb=None if household_only else f"9899{number:04d}",
            legal_form=legal_form,
            founded_on=founded_on,
            locations=locations,
            contracting_municipalities=contracting,
            indicator_reports=self._reports(plan),
            troubled=troubled,
        )

    def _municipality(self, weights: Mapping[str, int]) -> Municipality:
        code = _weighted(self._rng, weights)
        found = self._catalogue.municipality(code)
        if found is None:  # pragma: no cover - the weights name reference municipalities only
            raise LookupError(code)
        return found

    def _name(self, number: int, legal_form: LegalForm, home: Municipality) -> str:
        stem = self._rng.choice(_NAME_STEMS)
        area = self._rng.choice((*_NAME_AREAS, home.name))
        base = f"{stem} {area} {number}"
        forms = {
            LegalForm.STICHTING: f"Stichting {base}",
            LegalForm.BV: f"{base} B.V.",
            LegalForm.VOF: f"{base} V.O.F.",
            LegalForm.COOPERATIE: f"Coöperatie {base} U.A.",
            LegalForm.VERENIGING: f"Vereniging {base}",
        }
        return forms.get(legal_form, base)

    def _locations(self, home: Municipality) -> tuple[Location, ...]:
        rng = self._rng
        count = rng.choices(
            [n for n, _ in _LOCATION_COUNTS], weights=[w for _, w in _LOCATION_COUNTS]
        )[0]
        region = self._catalogue.region(home.region_id)
        neighbours = (
            {m.code: MUNICIPALITY_WEIGHTS[m.code] for m in region.municipalities} if region else {}
        )
        locations = []
        for index in range(1, count + 1):
            where = home if index == 1 or rng.random() < 0.6 else self._municipality(neighbours)  # noqa: PLR2004 - most locations are at home
            services = self._services()
            postcode, house_number = self._address(where.code)
            kind = _LOCATION_KINDS[services[0]]
            locations.append(
                Location(
                    location_id=f"loc-{index}",
                    name=f"{kind} {rng.choice(_PLACE_NAMES)}",
                    street=f"{rng.choice(_STREET_STEMS)}{rng.choice(_STREET_ENDS)}",
                    house_number=house_number,
                    house_number_addition=rng.choice((None, None, None, None, "A", "B")),
                    postcode=postcode,
                    municipality_code=where.code,
                    services=services,
                )
            )
        return tuple(locations)

    def _services(self) -> tuple[CareService, ...]:
        first = _weighted(self._rng, _SERVICE_WEIGHTS)
        if first is CareService.HOUSEHOLD_HELP or self._rng.random() < 0.6:  # noqa: PLR2004 - most locations offer one service
            return (first,)
        second = _weighted(self._rng, _SERVICE_WEIGHTS)
        return (first,) if second in {first, CareService.HOUSEHOLD_HELP} else (first, second)

    def _address(self, municipality_code: str) -> tuple[str, int]:
        low, high = POSTCODE_AREAS[municipality_code]
        while True:
            letters = "".join(self._rng.choice("ABCDEGHJKLMNPRSTVWXZ") for _ in range(2))
            postcode = f"{self._rng.randint(low, high)}{letters}"
            house_number = self._rng.randint(1, _HOUSE_NUMBER_MAX)
            # Unique addresses: a police incident address then points at one location only.
            if (postcode, house_number) not in self._addresses:
                self._addresses.add((postcode, house_number))
                return postcode, house_number

    def _contracting(self, home: Municipality, locations: Sequence[Location]) -> tuple[str, ...]:
        region = self._catalogue.region(home.region_id)
        codes = [m.code for m in region.municipalities] if region else [home.code]
        chosen = {loc.municipality_code for loc in locations}
        extra = [code for code in codes if code not in chosen]
        chosen.update(self._rng.sample(extra, min(len(extra), self._rng.randint(0, 4))))
        # Listed in the region's order, so the entry reads like contract management's.
        return tuple(code for code in codes if code in chosen)

    def _plan(self, level: RiskLevel) -> dict[IndicatorCode, RiskLevel]:
        """Which indicators score orange or red, so that their points land on ``level``."""
        rng = self._rng
        targets = {
            RiskLevel.GREEN: _GREEN_TARGETS,
            RiskLevel.ORANGE: _ORANGE_TARGETS,
            RiskLevel.RED: _RED_TARGETS,
        }[level]
        target = rng.choice(targets)
        reds = [
            r
            for r in range(min(len(_RED_ABLE), target // RED_POINTS) + 1)
            if (target - r * RED_POINTS) % ORANGE_POINTS == 0
            and (target - r * RED_POINTS) // ORANGE_POINTS <= len(_RED_ABLE) + len(_ORANGE_ONLY) - r
        ]
        red_count = rng.choice(reds)
        orange_count = (target - red_count * RED_POINTS) // ORANGE_POINTS
        red = rng.sample(_RED_ABLE, red_count)
        rest = [code for code in (*_RED_ABLE, *_ORANGE_ONLY) if code not in red]
        orange = rng.sample(rest, orange_count)
        plan = dict.fromkeys(red, RiskLevel.RED) | dict.fromkeys(orange, RiskLevel.ORANGE)
        if red and rng.random() < _DIPLOMA_FRAUD_SHARE_OF_RED:
            # Supervisors established diploma fraud: a red of its own, in place of another red.
            del plan[red[0]]
            plan[IndicatorCode.DIPLOMA_FRAUD] = RiskLevel.RED
        return plan

    def _founded_on(self, *, young: bool) -> date:
        if young:
            return self.checks_period_end - timedelta(days=self._rng.randint(*_YOUNG_DAYS))
        years = self._rng.randint(*_OLD_YEARS)
        return self.checks_period_end - timedelta(days=365 * years + self._rng.randint(0, 364))

    def _reports(self, plan: Mapping[IndicatorCode, RiskLevel]) -> tuple[IndicatorReport, ...]:
        accounts: dict[str, float | int | bool] = {}
        checks: dict[str, float | int | bool] = {}
        for code in (*_RED_ABLE, *_ORANGE_ONLY):
            value = self._value(code, plan.get(code, RiskLevel.GREEN))
            (accounts if code in _ANNUAL_ACCOUNTS else checks)[code.value] = value
        reports = [
            IndicatorReport(IndicatorSource.ANNUAL_ACCOUNTS, self.annual_period_end, accounts),
            IndicatorReport(IndicatorSource.CONTRACT_MANAGEMENT, self.checks_period_end, checks),
        ]
        if IndicatorCode.DIPLOMA_FRAUD in plan:
            finding = self._today - timedelta(days=self._rng.randint(10, 60))
            reports.append(
                IndicatorReport(
                    IndicatorSource.SUPERVISION, finding, {IndicatorCode.DIPLOMA_FRAUD.value: True}
                )
            )
        return tuple(reports)

    def _value(self, code: IndicatorCode, level: RiskLevel) -> float | int | bool:
        if code in _RISKY_FLAG:
            risky = _RISKY_FLAG[code]
            return risky if level is not RiskLevel.GREEN else not risky
        if code in _COUNT_RANGES:
            return self._rng.randint(*_COUNT_RANGES[code][level])
        low, high = _RATIO_RANGES[code][level]
        # Thousandths, so no rounding can push a value across a policy threshold.
        return self._rng.randint(low, high) / 1000
