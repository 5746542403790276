"""Partner submissions for the synthetic region, in the partners' own formats.

Every body follows docs/partners/: IGJ findings and police incidents as JSON, access-team
signals as semicolon-separated CSV files of a few rows. A few percent are deliberately wrong
(a BSN failing the 11-check, an ISO date in a Dutch date column, a code outside the agreed
list) so the view shows refusals too; they are marked as such on the :class:`Submission`.

The mix follows the NMD annual volumes in domain.md (2023): proactive and quality signals are
the bulk (188 a year), legitimacy signals next (43, of which 3 criminal and 2 administrative
errors), calamities and violence 41; sheltered housing and youth locations draw more signals
than others. A small set of *troubled* providers (see :mod:`zicht_demo.region`) receives a
large share of the serious ones (calamities, violence, fraud, police raids), so at the default
rate some of them turn orange or red within a minute. Time runs faster than in a real region:
the default two signals a second is years of signals in an hour.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, TypeVar

from zicht_demo.region import AMSTERDAM, MUNICIPALITY_WEIGHTS, Location, Provider, Region
from zicht_schemas import CareService
from zicht_schemas.regions import Municipality, regions

__all__ = [
    "ACCESS_TEAM_COLUMNS",
    "CSV_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "SignalGenerator",
    "Submission",
    "SubmissionKind",
    "bsn_is_valid",
    "make_bsn",
    "team_id",
]

JSON_CONTENT_TYPE: Final = "application/json"
CSV_CONTENT_TYPE: Final = "text/csv; charset=utf-8"
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

_BSN_WEIGHTS: Final = (9, 8, 7, 6, 5, 4, 3, 2)
_BSN_PREFIX: Final = "9999"
_ELEVEN: Final = 11
_MAX_ROWS: Final = 5
_REFERENCE_SPACE: Final = 1_000_000
_T = TypeVar("_T")


class SubmissionKind(StrEnum):
    """Which partner format a submission is in (and which intake endpoint takes it)."""

    IGJ = "igj"
    POLICE = "police"
    ACCESS_TEAM = "access_team"


@dataclass(frozen=True, slots=True)
class Submission:
    """One request body a partner sends to intake."""

    kind: SubmissionKind
    body: bytes
    content_type: str
    partner_key_name: str
    """The key to send it with: ``igj``, ``police`` or an access team's id (``wijkteam-gm0153``)."""
    reference: str
    """IGJ's zaaknummer, the police registration number, or the access team's file name."""
    provider_ids: tuple[str, ...]
    """The provider of each signal in it (one per CSV row, in row order)."""
    deliberately_invalid: bool = False
    """Whether the body, or a row of it, was made wrong on purpose to show a refusal."""
    invalid_rows: tuple[int, ...] = ()
    """CSV only: the rows made wrong on purpose, numbered as a spreadsheet (header is row 1)."""

    @property
    def signals(self) -> int:
        """How many signals it carries (the rows of a CSV file)."""
        return len(self.provider_ids)


class _Scenario(StrEnum):
    """What a signal is about, before a partner puts it in its own words."""

    QUALITY_MINOR = "quality_minor"
    COMPLAINT = "complaint"
    QUALITY_SERIOUS = "quality_serious"
    CALAMITY = "calamity"
    VIOLENCE = "violence"
    LEGITIMACY = "legitimacy"
    FRAUD = "fraud"
    UNDERMINING = "undermining"
    ADMIN_ERROR = "admin_error"
    GOVERNANCE = "governance"
    FINANCIAL = "financial"
    WLZ = "wlz"
    OTHER = "other"


_S = _Scenario
# Per partner: scenario -> (weight for an ordinary provider, weight for a troubled one).
# Ordinary weights follow domain.md's volumes (quality ~70%, legitimacy ~15%, calamities and
# violence ~15%); troubled providers draw the serious end.
_MIX: Final[Mapping[SubmissionKind, Mapping[_Scenario, tuple[int, int]]]] = {
    SubmissionKind.ACCESS_TEAM: {
        _S.QUALITY_MINOR: (40, 10), _S.COMPLAINT: (20, 0), _S.QUALITY_SERIOUS: (8, 30),
        _S.LEGITIMACY: (12, 20), _S.ADMIN_ERROR: (3, 0), _S.FRAUD: (1, 15),
        _S.CALAMITY: (2, 8), _S.VIOLENCE: (3, 10), _S.GOVERNANCE: (2, 5),
        _S.FINANCIAL: (2, 2), _S.WLZ: (3, 0), _S.OTHER: (4, 0),
    },
    SubmissionKind.IGJ: {
        _S.QUALITY_MINOR: (30, 5), _S.COMPLAINT: (10, 0), _S.QUALITY_SERIOUS: (12, 25),
        _S.CALAMITY: (15, 25), _S.VIOLENCE: (10, 20), _S.LEGITIMACY: (6, 0),
        _S.FRAUD: (1, 15), _S.GOVERNANCE: (4, 10), _S.FINANCIAL: (3, 0), _S.WLZ: (6, 0),
        _S.OTHER: (3, 0),
    },
    SubmissionKind.POLICE: {
        _S.QUALITY_MINOR: (35, 0), _S.QUALITY_SERIOUS: (10, 5), _S.VIOLENCE: (25, 25),
        _S.CALAMITY: (15, 15), _S.UNDERMINING: (3, 40), _S.FRAUD: (2, 15), _S.OTHER: (10, 0),
    },
}  # fmt: skip
# Submissions per partner: a CSV file carries about three signals, so access teams still send
# close to half of all signals.
_KIND_WEIGHTS: Final[Mapping[SubmissionKind, int]] = {
    SubmissionKind.IGJ: 4,
    SubmissionKind.POLICE: 3,
    SubmissionKind.ACCESS_TEAM: 2,
}
# Sheltered housing and youth locations draw more signals (domain.md: 130 and 80 a year).
_VULNERABLE_LOCATION_WEIGHT: Final = 3

_TEXTS: Final[Mapping[_Scenario, tuple[str, ...]]] = {
    _S.QUALITY_MINOR: (
        "Ondersteuningsplannen zijn niet actueel.",
        "Dagprogramma wordt regelmatig ingekort.",
        "Begeleiding komt afspraken niet altijd na.",
    ),
    _S.COMPLAINT: (
        "Cliënt klaagt over wisselende begeleiders.",
        "Naaste meldt dat afspraken telkens worden verzet.",
    ),
    _S.QUALITY_SERIOUS: (
        "Nachtdienst structureel onderbezet; bewoners zonder toezicht.",
        "Medicatie wordt uitgedeeld door ongeschoolde krachten.",
        "Brandtrap geblokkeerd; nooduitgang op slot.",
    ),
    _S.CALAMITY: (
        "Bewoner ernstig gewond geraakt na val; melding te laat gedaan.",
        "Brand in de woonlocatie; bewoners tijdelijk elders opgevangen.",
    ),
    _S.VIOLENCE: (
        "Bewoner door begeleider hardhandig vastgepakt.",
        "Bedreiging van een cliënt door een medewerker.",
    ),
    _S.LEGITIMACY: (
        "Uren gedeclareerd in een week dat de cliënt was opgenomen.",
        "Gedeclareerde zorg niet terug te vinden in het dossier.",
    ),
    _S.FRAUD: (
        "Handtekeningen op urenbriefjes lijken nagemaakt.",
        "Diploma's van begeleiders blijken vervalst.",
    ),
    _S.UNDERMINING: (
        "Doorzoeking in een woonlocatie; verdachte goederen aangetroffen.",
        "Inval op last van de officier van justitie.",
    ),
    _S.ADMIN_ERROR: ("Verkeerde productcode gedeclareerd.",),
    _S.GOVERNANCE: ("Bestuurder binnen een jaar drie keer gewisseld.",),
    _S.FINANCIAL: ("Salarissen van medewerkers al twee maanden niet betaald.",),
    _S.WLZ: ("Zorg valt onder de Wlz; ter informatie gedeeld.",),
    _S.OTHER: ("Overig signaal ter informatie.",),
}

# IGJ's vocabulary (docs/partners/igj.md): kind of finding, severity range, shortcomings.
_IGJ_FINDINGS: Final[Mapping[_Scenario, tuple[tuple[str, ...], tuple[int, int]]]] = {
    _S.QUALITY_MINOR: (("toezichtbevinding", "kwaliteitstekort"), (1, 2)),
    _S.COMPLAINT: (("klacht",), (1, 2)),
    _S.QUALITY_SERIOUS: (("kwaliteitstekort", "toezichtbevinding"), (3, 4)),
    _S.CALAMITY: (("calamiteit",), (3, 4)),
    _S.VIOLENCE: (("geweldsincident", "seksueel-grensoverschrijdend-gedrag"), (3, 4)),
    _S.LEGITIMACY: (("onrechtmatigheid",), (2, 3)),
    _S.FRAUD: (("fraudevermoeden", "diplomafraude"), (3, 4)),
    _S.GOVERNANCE: (("bestuurlijke-zorg",), (2, 3)),
    _S.FINANCIAL: (("financiele-continuiteit",), (2, 3)),
    _S.WLZ: (("kwaliteitstekort", "klacht"), (1, 3)),
    _S.OTHER: (("overig",), (1, 1)),
}
_IGJ_QUICK: Final = ("verzekering", "keurmerk", "registratie", "meldplicht", "verantwoording")
_IGJ_COMPLEX: Final = ("huisvesting", "deskundigheid", "personeelsbezetting", "veiligheid",
                       "medicatieveiligheid", "vrijheidsbeperking", "zorgplan")  # fmt: skip
_IGJ_TARGET_GROUPS: Final[Mapping[CareService, tuple[str, ...]]] = {
    CareService.YOUTH: ("jeugd",),
    CareService.SHELTERED_HOUSING: ("beschermd-wonen", "maatschappelijke-opvang"),
    CareService.GUIDANCE: ("ggz", "verstandelijke-beperking", "volwassenen"),
    CareService.DAY_CARE: ("ouderen", "verstandelijke-beperking"),
    CareService.HOUSEHOLD_HELP: ("ouderen", "lichamelijke-beperking"),
}
_IGJ_TEAMS: Final = ("Team Jeugd Oost", "Team Wmo Oost", "Team Jeugd Noord", "Team Toezicht Noord")
_IGJ_ROLES: Final = ("inspecteur", "senior-inspecteur", "coordinerend-inspecteur", "teamleider")

# The police's incident codes per scenario (docs/partners/police.md); each entry one incident.
_POLICE_CODES: Final[Mapping[_Scenario, tuple[tuple[str, ...], ...]]] = {
    _S.QUALITY_MINOR: (("OV10",), ("OV20",), ("OV10", "OV20")),
    _S.QUALITY_SERIOUS: (("VM10",), ("VM10", "OV20")),
    _S.VIOLENCE: (("GW10",), ("GW11",), ("GW20",), ("GW30",), ("GW10", "GW20")),
    _S.CALAMITY: (("BR10",), ("BR20",), ("LV10",), ("LV20",)),
    _S.UNDERMINING: (("OD10", "OD20"), ("OD10", "OD30"), ("OD31",), ("OD10", "OD40"),
                     ("OD21",), ("OD70",), ("OD10", "OD21", "OD30")),
    _S.FRAUD: (("OD60",), ("OD50",), ("OD51",), ("OD10", "OD60")),
    _S.OTHER: (("XX99",),),
}  # fmt: skip

# The access teams' vocabulary (docs/partners/access-team.md).
_ACCESS_SIGNALS: Final[Mapping[_Scenario, tuple[tuple[str, tuple[str, ...]], ...]]] = {
    # scenario: ((signaal, possible ernst values; "" = the signal's default), ...)
    _S.QUALITY_MINOR: (("kwaliteit zorg", ("", "laag", "midden")), ("huisvesting", ("", "laag")),
                       ("zorgplan ontbreekt", ("", "laag")), ("personeel onvoldoende", ("laag",))),
    _S.COMPLAINT: (("klacht", ("", "laag")),),
    _S.QUALITY_SERIOUS: (("onveilige situatie", ("", "hoog")),
                         ("personeel ongekwalificeerd", ("hoog",)),
                         ("personeel onvoldoende", ("hoog",))),
    _S.CALAMITY: (("calamiteit", ("", "hoog")),),
    _S.VIOLENCE: (("geweld", ("", "hoog")),),
    _S.LEGITIMACY: (("zorg niet geleverd", ("", "midden", "hoog")),),
    _S.FRAUD: (("fraudevermoeden", ("", "hoog")), ("diplomafraude", ("", "hoog"))),
    _S.ADMIN_ERROR: (("administratieve fout", ("", "laag")),),
    _S.GOVERNANCE: (("bestuur", ("", "midden")),),
    _S.FINANCIAL: (("faillissement", ("", "midden")),),
    _S.WLZ: (("kwaliteit zorg", ("", "midden")),),
    _S.OTHER: (("overig", ("",)),),
}  # fmt: skip
_ACCESS_SERVICES: Final[Mapping[CareService, tuple[str, ...]]] = {
    CareService.SHELTERED_HOUSING: ("beschermd wonen", "maatschappelijke opvang"),
    CareService.YOUTH: ("jeugdhulp ambulant", "jeugdhulp verblijf", "gezinshuis"),
    CareService.GUIDANCE: ("begeleiding individueel", "begeleiding groep",
                           "specialistische begeleiding"),
    CareService.DAY_CARE: ("dagbesteding",),
    CareService.HOUSEHOLD_HELP: ("huishoudelijke hulp",),
}  # fmt: skip
_TEAM_AREAS: Final = ("Noord", "Zuid", "Oost", "West", "Centrum")

_JSON_INVALID_IGJ: Final = ("wet", "datum")
_JSON_INVALID_POLICE: Final = ("bsn", "code")


def make_bsn(rng: random.Random) -> str:
    """A synthetic BSN from the test range ``9999xxxxx`` that passes the 11-check."""
    while True:
        digits = [int(d) for d in _BSN_PREFIX] + [rng.randint(0, 9) for _ in range(4)]
        check = sum(w * d for w, d in zip(_BSN_WEIGHTS, digits, strict=True)) % _ELEVEN
        if check < 10:  # noqa: PLR2004 - a check digit is one digit; 10 has no BSN
            return "".join(str(d) for d in digits) + str(check)


def bsn_is_valid(bsn: str) -> bool:
    """The BSN 11-check of docs/partners/access-team.md (weights 9..2 and -1)."""
    if len(bsn) != len(_BSN_WEIGHTS) + 1 or not bsn.isascii() or not bsn.isdigit():
        return False
    digits = [int(d) for d in bsn]
    total = sum(w * d for w, d in zip(_BSN_WEIGHTS, digits, strict=False)) - digits[-1]
    return total % _ELEVEN == 0 and bsn != "000000000"


def _broken_bsn(bsn: str) -> str:
    # One wrong last digit: the 11-check catches every single wrong digit.
    return bsn[:-1] + str((int(bsn[-1]) + 1) % 10)


def team_id(municipality_code: str) -> str:
    """The id of a municipality's access team, as the stack names its key (``wijkteam-gm0153``)."""
    return f"wijkteam-{municipality_code.lower()}"


def _now() -> datetime:
    return datetime.now(tz=AMSTERDAM)


class SignalGenerator:
    """An endless stream of partner submissions about the region's providers.

    The content is drawn from ``seed``; the partners' reference numbers from ``run_token``
    (by default the clock), so a second run does not reuse an IGJ case number or police
    registration number with different content, which intake would refuse as a conflict.
    """

    def __init__(
        self,
        region: Region,
        seed: int,
        *,
        clock: Callable[[], datetime] = _now,
        run_token: int | None = None,
        invalid_share: float = 0.03,
        troubled_share: float = 0.45,
    ) -> None:
        self._region = region
        self._rng = random.Random(seed)  # noqa: S311 - synthetic data, not cryptography
        token = time.time_ns() if run_token is None else run_token
        numbers = random.Random(token)  # noqa: S311 - reference numbers, not secrets
        self._clock = clock
        self._invalid_share = invalid_share
        self._troubled_share = troubled_share
        self._igj_number = numbers.randrange(_REFERENCE_SPACE)
        self._police_number = numbers.randrange(_REFERENCE_SPACE)
        self._file_number = 0
        self._row_number = 0
        self._run = f"{token % 0xFFFFFF:06x}"
        catalogue = regions()
        self._municipalities = [m for r in catalogue.regions for m in r.municipalities]
        self._related = {
            m.code: region.contracted_by(m.code) or region.providers for m in self._municipalities
        }

    def __iter__(self) -> Iterator[Submission]:
        return self

    def __next__(self) -> Submission:
        return self.next()

    def next(self) -> Submission:
        """The next submission, dated now."""
        kind = _pick(self._rng, _KIND_WEIGHTS)
        if kind is SubmissionKind.ACCESS_TEAM:
            return self._access_team_file()
        provider = self._provider(self._region.providers)
        location = self._location(provider)
        scenario = self._scenario(kind, provider)
        invalid = self._rng.random() < self._invalid_share
        if kind is SubmissionKind.IGJ:
            body, reference = self._igj(provider, location, scenario, invalid=invalid)
        else:
            body, reference = self._police(provider, location, scenario, invalid=invalid)
        return Submission(
            kind=kind,
            body=json.dumps(body, ensure_ascii=False).encode(),
            content_type=JSON_CONTENT_TYPE,
            partner_key_name=kind.value,
            reference=reference,
            provider_ids=(provider.provider_id,),
            deliberately_invalid=invalid,
        )

    def take(self, count: int) -> list[Submission]:
        """The next ``count`` submissions."""
        return [self.next() for _ in range(count)]

    # --- choosing what a signal is about ----------------------------------------------------

    def _provider(self, candidates: Sequence[Provider]) -> Provider:
        troubled = [p for p in candidates if p.troubled]
        if troubled and self._rng.random() < self._troubled_share:
            return self._rng.choice(troubled)
        # Bigger providers (more locations) draw more signals.
        return self._rng.choices(candidates, weights=[len(p.locations) for p in candidates])[0]

    def _location(self, provider: Provider) -> Location:
        weights = [
            _VULNERABLE_LOCATION_WEIGHT
            if {CareService.YOUTH, CareService.SHELTERED_HOUSING} & set(loc.services)
            else 1
            for loc in provider.locations
        ]
        return self._rng.choices(provider.locations, weights=weights)[0]

    def _scenario(self, kind: SubmissionKind, provider: Provider) -> _Scenario:
        column = 1 if provider.troubled else 0
        weights = {s: w[column] for s, w in _MIX[kind].items() if w[column] > 0}
        return _pick(self._rng, weights)

    def _when(self) -> datetime:
        return self._clock().astimezone(AMSTERDAM).replace(microsecond=0)

    def _text(self, scenario: _Scenario) -> str:
        return f"Synthetisch voorbeeld (demo). {self._rng.choice(_TEXTS[scenario])}"

    # --- IGJ ------------------------------------------------------------------------------

    def _igj(
        self, provider: Provider, location: Location, scenario: _Scenario, *, invalid: bool
    ) -> tuple[dict[str, Any], str]:
        rng = self._rng
        now = self._when()
        reported = now - timedelta(minutes=rng.randint(1, 120))
        established = reported.date() - timedelta(days=rng.randint(0, 14))
        kinds, (low, high) = _IGJ_FINDINGS[scenario]
        self._igj_number = (self._igj_number + 1) % _REFERENCE_SPACE
        reference = f"IGJ-{now.year:04d}-{self._igj_number:06d}"
        body: dict[str, Any] = {
            "zaaknummer": reference,
            "zorgaanbieder": self._igj_provider(provider),
            "locatie": self._igj_location(location),
            "soortBevinding": rng.choice(kinds),
            "wet": self._igj_law(location, scenario),
            "ernst": rng.randint(low, high),
        }
        if self._chance(0.8):
            body["doelgroep"] = self._igj_target_group(location, scenario)
        shortcomings = self._igj_shortcomings(scenario)
        if shortcomings:
            body["tekortkomingen"] = shortcomings
        body["omschrijving"] = self._text(scenario)
        body["datumVaststelling"] = established.isoformat()
        body["datumMelding"] = reported.isoformat()
        contact: dict[str, str] = {"rol": rng.choice(_IGJ_ROLES), "team": rng.choice(_IGJ_TEAMS)}
        if self._chance(0.7):
            contact["functioneleMailbox"] = (
                contact["team"].lower().replace(" ", "-") + "@igj.example"
            )
        body["contact"] = contact
        if invalid:
            if rng.choice(_JSON_INVALID_IGJ) == "wet":
                body["wet"] = "WMO"  # codes are case-sensitive: Wmo2015
            else:
                body["datumVaststelling"] = f"{established.year:04d}-02-30"
        return body, reference

    def _igj_provider(self, provider: Provider) -> dict[str, str]:
        found: dict[str, str] = {"naam": provider.name}
        with_kvk = provider.agb is None or self._chance(0.85)
        if with_kvk:
            found["kvkNummer"] = provider.kvk
        if provider.agb is not None and (not with_kvk or self._chance(0.6)):
            found["agbCode"] = provider.agb
        return found

    def _igj_location(self, location: Location) -> dict[str, str]:
        rng = self._rng
        found: dict[str, str] = {}
        if self._chance(0.7):
            found["naam"] = location.name
        found["postcode"] = rng.choice((location.postcode, location.postcode_with_space))
        found["gemeente"] = self._municipality_as_written(location.municipality_code)
        return found

    def _igj_law(self, location: Location, scenario: _Scenario) -> str:
        if scenario is _S.WLZ:
            return "Wlz"
        if self._chance(0.03):
            return "Onbekend"
        youth = CareService.YOUTH in location.services
        only_youth = location.services == (CareService.YOUTH,)
        return "Jeugdwet" if youth and (only_youth or self._chance(0.5)) else "Wmo2015"

    def _igj_target_group(self, location: Location, scenario: _Scenario) -> str:
        if scenario is _S.WLZ:
            return self._rng.choice(("ouderen", "psychogeriatrie"))
        return self._rng.choice(_IGJ_TARGET_GROUPS[location.services[0]])

    def _igj_shortcomings(self, scenario: _Scenario) -> list[str]:
        rng = self._rng
        if scenario in {_S.QUALITY_MINOR, _S.LEGITIMACY, _S.GOVERNANCE}:
            return rng.sample(_IGJ_QUICK, rng.randint(0, 2))
        if scenario in {_S.QUALITY_SERIOUS, _S.CALAMITY, _S.VIOLENCE}:
            return rng.sample(_IGJ_COMPLEX, rng.randint(1, 3)) + rng.sample(
                _IGJ_QUICK, rng.randint(0, 1)
            )
        return []

    # --- police ---------------------------------------------------------------------------

    def _police(
        self, provider: Provider, location: Location, scenario: _Scenario, *, invalid: bool
    ) -> tuple[dict[str, Any], str]:
        rng = self._rng
        now = self._when()
        started = now - timedelta(minutes=rng.randint(10, 3 * 24 * 60))
        exported = max(started, now - timedelta(seconds=rng.randint(0, 300)))
        self._police_number = (self._police_number + 1) % _REFERENCE_SPACE
        municipality = self._municipality(location.municipality_code)
        drenthe = municipality.region_id == "nmd"
        unit = rng.randint(1, 12)
        reference = (
            f"PL{'01' if drenthe else '06'}{unit:02d}-{now.year:04d}{self._police_number:06d}"
        )
        codes = list(rng.choice(_POLICE_CODES[scenario]))
        address: dict[str, Any] = {"street": location.street, "houseNumber": location.house_number}
        if location.house_number_addition:
            address["houseNumberAddition"] = location.house_number_addition
        address["postalCode"] = rng.choice((location.postcode, location.postcode_with_space))
        address["city"] = municipality.name
        body: dict[str, Any] = {
            "registrationNumber": reference,
            "incidentCodes": codes,
            "incidentDateTime": started.isoformat(timespec=rng.choice(("minutes", "seconds"))),
            "incidentAddress": address,
            "organisationName": self._organisation_as_recorded(provider, location),
        }
        if self._chance(0.35):
            body["kvk"] = provider.kvk
        persons = self._persons(location, scenario)
        if persons:
            body["involvedPersons"] = persons
        body["summary"] = self._text(scenario)
        area = "NN-DR" if drenthe else "ON-TW"
        body["reportingUnit"] = {
            "code": f"{area}-BT{unit:02d}",
            "name": f"Basisteam {municipality.name}",
        }
        body["exportDateTime"] = exported.isoformat()
        if invalid:
            if rng.choice(_JSON_INVALID_POLICE) == "bsn":
                person = {"role": "VERD", "minor": False, "bsn": _broken_bsn(make_bsn(rng))}
                body["involvedPersons"] = [person, *persons]
            else:
                body["incidentCodes"] = [*codes, "E33"]  # not a code of the agreed table
        return body, reference

    def _organisation_as_recorded(self, provider: Provider, location: Location) -> str:
        # Officers write the name as they see it: sometimes with the location's kind added.
        if self._chance(0.6):
            return provider.name
        return f"{provider.name} ({location.name.split(' ')[0].lower()})"

    def _persons(self, location: Location, scenario: _Scenario) -> list[dict[str, Any]]:
        rng = self._rng
        youth = CareService.YOUTH in location.services
        roles: tuple[str, ...] = {
            _S.VIOLENCE: ("SLAC", "VERD"),
            _S.CALAMITY: ("BETR", "MELD"),
            _S.UNDERMINING: ("VERD", "BETR"),
            _S.FRAUD: ("VERD",),
            _S.QUALITY_SERIOUS: ("MELD",),
        }.get(scenario, ("MELD",) if self._chance(0.5) else ())
        persons: list[dict[str, Any]] = []
        for role in roles:
            person: dict[str, Any] = {"role": role}
            if self._chance(0.8):
                person["minor"] = youth and role in {"SLAC", "BETR"}
            if role in {"VERD", "SLAC"} and self._chance(0.4):
                person["bsn"] = make_bsn(rng)
            persons.append(person)
        return persons

    # --- access teams ---------------------------------------------------------------------

    def _access_team_file(self) -> Submission:
        rng = self._rng
        team_municipality = self._municipality(
            _pick(rng, {m.code: MUNICIPALITY_WEIGHTS[m.code] for m in self._municipalities})
        )
        team = f"Wijkteam {team_municipality.name} {rng.choice(_TEAM_AREAS)}"
        today = self._when().date()
        self._file_number += 1
        rows: list[dict[str, str]] = []
        providers: list[str] = []
        invalid_rows: list[int] = []
        for index in range(rng.randint(1, _MAX_ROWS)):
            provider = self._provider(self._related[team_municipality.code])
            invalid = rng.random() < self._invalid_share
            rows.append(self._access_row(provider, team, today, invalid=invalid))
            providers.append(provider.provider_id)
            if invalid:
                invalid_rows.append(index + 2)  # the header is row 1
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(
            buffer, fieldnames=ACCESS_TEAM_COLUMNS, delimiter=";", lineterminator="\r\n"
        )
        writer.writeheader()
        writer.writerows(rows)
        tid = team_id(team_municipality.code)
        return Submission(
            kind=SubmissionKind.ACCESS_TEAM,
            body=buffer.getvalue().encode("utf-8"),
            content_type=CSV_CONTENT_TYPE,
            partner_key_name=tid,
            reference=f"{tid}-{today.isoformat()}-{self._run}-{self._file_number}.csv",
            provider_ids=tuple(providers),
            deliberately_invalid=bool(invalid_rows),
            invalid_rows=tuple(invalid_rows),
        )

    def _access_row(
        self, provider: Provider, team: str, today: date, *, invalid: bool
    ) -> dict[str, str]:
        rng = self._rng
        location = self._location(provider)
        scenario = self._scenario(SubmissionKind.ACCESS_TEAM, provider)
        signal, severities = rng.choice(_ACCESS_SIGNALS[scenario])
        self._row_number += 1
        day = today - timedelta(days=rng.randint(0, 30))
        with_agb = provider.agb is not None and self._chance(0.7)
        row = {
            "kenmerk": f"WT-{self._run}-{self._row_number:05d}",
            "datum": day.strftime("%d-%m-%Y"),
            "BSN": make_bsn(rng) if self._chance(0.6) else "",
            "aanbieder": provider.name,
            "AGB-code": provider.agb if with_agb and provider.agb else "",
            "postcode": ""
            if with_agb and self._chance(0.5)
            else rng.choice((location.postcode, location.postcode_with_space)),
            "gemeente": self._municipality_as_written(location.municipality_code),
            "voorziening": self._access_service(location, scenario),
            "signaal": signal,
            "ernst": rng.choice(severities),
            "toelichting": self._text(scenario),
            "team": team,
        }
        if invalid:
            if row["BSN"] and self._chance(0.5):
                row["BSN"] = _broken_bsn(row["BSN"])
            elif self._chance(0.5):
                row["BSN"] = _broken_bsn(make_bsn(rng))
            else:
                row["datum"] = day.isoformat()  # ISO, not the agreed dd-mm-jjjj
        return row

    def _access_service(self, location: Location, scenario: _Scenario) -> str:
        if scenario is _S.WLZ:
            return "wlz"
        if self._chance(0.02):
            return "onbekend"
        return self._rng.choice(_ACCESS_SERVICES[self._rng.choice(location.services)])

    # --- shared ---------------------------------------------------------------------------

    def _chance(self, probability: float) -> bool:
        return self._rng.random() < probability

    def _municipality(self, code: str) -> Municipality:
        found = regions().municipality(code)
        if found is None:  # pragma: no cover - the region uses reference municipalities only
            raise LookupError(code)
        return found

    def _municipality_as_written(self, code: str) -> str:
        # Partners write a municipality by name or by CBS code; intake resolves both.
        return self._municipality(code).name if self._chance(0.6) else code


def _pick(rng: random.Random, weights: Mapping[_T, int]) -> _T:
    items = list(weights)
    return rng.choices(items, weights=[weights[item] for item in items])[0]
