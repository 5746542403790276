"""Synthetic providers and partner submissions for the chain under faults.

Every name, number and address is invented (KvK ``997xxxxx``, AGB ``9897xxxx``, streets such as
"Storingslaan"); only the municipality codes are real, because routing needs them. Each
provider gets a shape that makes its alerts easy to predict: where its locations are (a
sheltered-housing location, optionally a youth location) and which municipalities contract it.

The partner bodies follow docs/partners/ (IGJ and police JSON, access-team CSV) and are dated
*now*, because intake checks dates against its own clock. :class:`SignalMix` is the stream the
fault tests send: calamities and violence (investigated with priority 1: the municipalities are
told), police raids (criminal referrals: the fraud casus table and the supervisors), youth-care
quality (referred to IGJ) and minor quality signals (no alert), about a few providers each, so
their risk rises to orange and red along the way.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from zicht_demo.region import AMSTERDAM, Location, Provider
from zicht_schemas import CareService, LegalForm

__all__ = [
    "ACCESS_TEAM_COLUMNS",
    "ALMELO",
    "ENSCHEDE",
    "HENGELO",
    "SCENARIO_PROVIDERS",
    "SUBSCRIBERS",
    "WIERDEN",
    "PartnerSubmission",
    "SignalMix",
    "access_team_csv",
    "guidance_location",
    "igj_body",
    "make_provider",
    "police_body",
    "sheltered_housing",
    "spare_providers",
    "youth_location",
]

ENSCHEDE: Final = "GM0153"
HENGELO: Final = "GM0164"
ALMELO: Final = "GM0141"
WIERDEN: Final = "GM0189"
"""A municipality that contracts providers but has no subscription: its alerts are recorded
as undeliverable, never sent."""

SUBSCRIBERS: Final[Mapping[str, str]] = {
    ENSCHEDE: "municipality",
    HENGELO: "municipality",
    ALMELO: "municipality",
    "cct-twente": "casus_table",
    "riec-on-zorgfraude": "casus_table",
    "supervisors-twente": "supervisors",
    "igj": "igj",
}
"""Who subscribes (subscriber id to kind): Twente's municipalities used here (not Wierden),
its two casus tables, its supervisors and IGJ."""

# The postcode areas of the municipalities used (the letters are invented).
_POSTCODE_AREA: Final[Mapping[str, int]] = {
    ENSCHEDE: 7511,
    HENGELO: 7551,
    ALMELO: 7601,
    WIERDEN: 7641,
}
_NAMES: Final[Mapping[str, str]] = {
    ENSCHEDE: "Enschede",
    HENGELO: "Hengelo",
    ALMELO: "Almelo",
    WIERDEN: "Wierden",
}

ACCESS_TEAM_COLUMNS: Final = (
    "kenmerk",
    "datum",
    "BSN",
    "aanbieder",
    "AGB-code",
    "postcode",
    "gemeente",
    "voorziening",
    "signaal",
    "ernst",
    "toelichting",
    "team",
)


def _postcode(municipality: str, number: int, slot: int) -> str:
    letters = chr(65 + (number // 26) % 26) + chr(65 + number % 26)
    return f"{_POSTCODE_AREA[municipality] + slot}{letters}"


def sheltered_housing(number: int, municipality: str = ENSCHEDE) -> Location:
    """A sheltered-housing location (Beschermd Wonen) of provider ``number``."""
    return Location(
        location_id="bw",
        name=f"Beschermd Wonen Storingslaan {number}",
        street="Storingslaan",
        house_number=100 + number,
        postcode=_postcode(municipality, number, 0),
        municipality_code=municipality,
        services=(CareService.SHELTERED_HOUSING,),
    )


def youth_location(number: int, municipality: str = HENGELO) -> Location:
    """A youth-care location (gezinshuis) of provider ``number``."""
    return Location(
        location_id="jeugd",
        name=f"Gezinshuis Proefhof {number}",
        street="Proefhof",
        house_number=200 + number,
        postcode=_postcode(municipality, number, 1),
        municipality_code=municipality,
        services=(CareService.YOUTH,),
    )


def guidance_location(number: int, municipality: str = ALMELO) -> Location:
    """A location offering guidance (begeleiding) only: no vulnerable group."""
    return Location(
        location_id="begeleiding",
        name=f"Steunpunt Oefenweg {number}",
        street="Oefenweg",
        house_number=300 + number,
        postcode=_postcode(municipality, number, 2),
        municipality_code=municipality,
        services=(CareService.GUIDANCE,),
    )


def make_provider(
    number: int, locations: Sequence[Location], contracting: Sequence[str]
) -> Provider:
    """An invented provider with a registry id ``flt-<number>``, numbers from the 99 range."""
    return Provider(
        provider_id=f"flt-{number:04d}",
        name=f"Stichting Proefzorg Storing {number}",
        kvk=f"997{number:05d}",
        agb=f"9897{number:04d}",
        legal_form=LegalForm.STICHTING,
        founded_on=date(2015, 1, 1),
        locations=tuple(locations),
        contracting_municipalities=tuple(contracting),
        indicator_reports=(),
    )


def _now() -> datetime:
    return datetime.now(tz=AMSTERDAM).replace(microsecond=0)


def igj_body(  # the parts of one IGJ finding, by keyword
    reference: str,
    provider: Provider,
    location: Location,
    *,
    finding: str,
    law: str = "Wmo2015",
    severity: int = 3,
    target_group: str | None = None,
    shortcomings: Sequence[str] = (),
) -> bytes:
    """An IGJ finding (docs/partners/igj.md) about ``location``, established yesterday."""
    now = _now()
    body: dict[str, Any] = {
        "zaaknummer": reference,
        "zorgaanbieder": {"naam": provider.name, "kvkNummer": provider.kvk},
        "locatie": {
            "naam": location.name,
            "postcode": location.postcode_with_space,
            "gemeente": location.municipality_code,
        },
        "soortBevinding": finding,
        "wet": law,
        "ernst": severity,
    }
    if target_group is not None:
        body["doelgroep"] = target_group
    if shortcomings:
        body["tekortkomingen"] = list(shortcomings)
    body["omschrijving"] = "Synthetisch voorbeeld (storingstest)."
    # Yesterday: a finding of today could age zero days, which puts scores on a boundary.
    body["datumVaststelling"] = (now - timedelta(days=1)).date().isoformat()
    body["datumMelding"] = (now - timedelta(minutes=1)).isoformat(timespec="seconds")
    body["contact"] = {"rol": "inspecteur", "team": "Team Wmo Oost"}
    return json.dumps(body).encode()


def police_body(
    reference: str, provider: Provider, location: Location, *, codes: Sequence[str]
) -> bytes:
    """A police incident (docs/partners/police.md) at ``location``, two hours ago."""
    now = _now()
    body: dict[str, Any] = {
        "registrationNumber": reference,
        "incidentCodes": list(codes),
        "incidentDateTime": (now - timedelta(hours=2)).isoformat(timespec="seconds"),
        "incidentAddress": {
            "street": location.street,
            "houseNumber": location.house_number,
            "postalCode": location.postcode,
            "city": _NAMES[location.municipality_code],
        },
        "organisationName": provider.name,
        "kvk": provider.kvk,
        "summary": "Synthetisch voorbeeld (storingstest).",
        "reportingUnit": {"code": "ON-TW-BT03", "name": "Basisteam Twente"},
        "exportDateTime": (now - timedelta(minutes=1)).isoformat(timespec="seconds"),
    }
    return json.dumps(body).encode()


def access_team_csv(rows: Sequence[Mapping[str, str]]) -> bytes:
    """An access-team file (docs/partners/access-team.md): ``;``-separated, Dutch columns."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(
        buffer, fieldnames=ACCESS_TEAM_COLUMNS, delimiter=";", lineterminator="\r\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in ACCESS_TEAM_COLUMNS})
    return buffer.getvalue().encode("utf-8")


@dataclass(frozen=True)
class PartnerSubmission:
    """One body a partner sends over HTTP, with where it goes and the key it needs."""

    kind: str
    """``igj``, ``police`` or ``access_team``: the endpoint and the key."""
    reference: str
    body: bytes
    provider_ids: tuple[str, ...]


@dataclass
class SignalMix:
    """An endless, seeded mix of partner signals about a few providers.

    Each provider must have a sheltered-housing location (``bw``) and a youth location
    (``jeugd``). References are unique within the run (``start`` picks the range).
    """

    providers: Sequence[Provider]
    seed: int
    start: int = 0
    _rng: random.Random = field(init=False)
    _number: int = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._number = self.start

    def next(self) -> PartnerSubmission:
        """The next submission: calamity, violence, raid, youth-care quality or a complaint."""
        rng = self._rng
        self._number += 1
        provider = self.providers[self._number % len(self.providers)]
        housing = next(loc for loc in provider.locations if loc.location_id == "bw")
        youth = next(loc for loc in provider.locations if loc.location_id == "jeugd")
        year = _now().year
        igj = f"IGJ-{year:04d}-{self._number:06d}"
        police = f"PL0603-{year:04d}{self._number:06d}"
        draw = rng.random()
        if draw < 0.3:  # a calamity: investigate, P1 -> the municipalities
            body = igj_body(
                igj, provider, housing, finding="calamiteit", target_group="beschermd-wonen"
            )
            return PartnerSubmission("igj", igj, body, (provider.provider_id,))
        if draw < 0.45:  # violence: investigate, P1 -> the municipalities
            body = police_body(police, provider, housing, codes=("GW10",))
            return PartnerSubmission("police", police, body, (provider.provider_id,))
        if draw < 0.6:  # a raid: criminal referral -> the fraud casus table and the supervisors
            body = police_body(police, provider, housing, codes=("OD10",))
            return PartnerSubmission("police", police, body, (provider.provider_id,))
        if draw < 0.8:  # youth-care quality: referred to IGJ
            body = igj_body(
                igj, provider, youth, finding="kwaliteitstekort", law="Jeugdwet", severity=2
            )
            return PartnerSubmission("igj", igj, body, (provider.provider_id,))
        # A complaint: no investigation, or bundled with an open one; no alert either way.
        body = igj_body(igj, provider, housing, finding="klacht", severity=1)
        return PartnerSubmission("igj", igj, body, (provider.provider_id,))


SCENARIO_PROVIDERS: Final[Mapping[str, Provider]] = {
    # A sheltered-housing location in Enschede, contracted by Enschede alone.
    "calamity": make_provider(1, [sheltered_housing(1, ENSCHEDE)], [ENSCHEDE]),
    # Sheltered housing in Hengelo, contracted by Hengelo and Enschede.
    "raid": make_provider(2, [sheltered_housing(2, HENGELO)], [HENGELO, ENSCHEDE]),
    # Guidance in Almelo: no vulnerable group, contracted by Almelo.
    "bundle": make_provider(3, [guidance_location(3, ALMELO)], [ALMELO]),
    # Sheltered housing in Enschede, contracted by Enschede, Hengelo and (unsubscribed) Wierden.
    "risk": make_provider(4, [sheltered_housing(4, ENSCHEDE)], [ENSCHEDE, HENGELO, WIERDEN]),
    "two-falls": make_provider(5, [sheltered_housing(5, ENSCHEDE)], [ENSCHEDE, HENGELO, WIERDEN]),
    "csv": make_provider(6, [sheltered_housing(6, ENSCHEDE)], [ENSCHEDE]),
}
"""The providers of the end-to-end scenarios, by scenario."""


def spare_providers(count: int, first: int = 100) -> list[Provider]:
    """Providers for the fault tests: sheltered housing in Enschede, youth care in Hengelo,
    contracted by Enschede, Hengelo and Wierden."""
    return [
        make_provider(
            number,
            [sheltered_housing(number, ENSCHEDE), youth_location(number, HENGELO)],
            [ENSCHEDE, HENGELO, WIERDEN],
        )
        for number in range(first, first + count)
    ]
