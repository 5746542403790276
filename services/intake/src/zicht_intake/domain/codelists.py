"""The partners' code lists as shipped data: partner code to Zicht code(s), read once.

Each partner format has one YAML file in ``zicht_intake/codelists/`` holding the tables
``### Code list: <name>`` of its page in ``docs/partners/``; a unit test checks both agree row
for row. Here they become typed, read-only mappings. The precedence rules of the README (which
category, severity and vulnerable group win when one submission yields several) live here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Final, TypeVar, cast

import yaml

from zicht_schemas.codes import (
    CareService,
    Category,
    CrimeIndicator,
    IndicatorCode,
    IndicatorSource,
    IndicatorValueKind,
    Law,
    LegalForm,
    Severity,
    Shortcoming,
    ShortcomingKind,
    VulnerableGroup,
)

__all__ = [
    "CATEGORY_PRECEDENCE",
    "SEVERITY_ORDER",
    "VULNERABLE_PRECEDENCE",
    "AccessTeamCodes",
    "AccessTeamSignalKind",
    "CodeListFile",
    "IgjCodes",
    "IgjFinding",
    "IndicatorCodes",
    "IndicatorInfo",
    "PoliceCodes",
    "PoliceIncident",
    "Provision",
    "RegistryCodes",
    "ServiceInfo",
    "access_team_codes",
    "first_by_precedence",
    "highest_severity",
    "igj_codes",
    "indicator_codes",
    "police_codes",
    "raw_code_lists",
    "registry_codes",
]

RawCodeLists = dict[str, dict[str, dict[str, object]]]

_T = TypeVar("_T")
_K = TypeVar("_K")
_V = TypeVar("_V")


class CodeListFile:
    """The shipped code-list files, one per partner format (``zicht_intake/codelists/``)."""

    IGJ: Final = "igj.yaml"
    POLICE: Final = "police.yaml"
    ACCESS_TEAM: Final = "access_team.yaml"
    REGISTRY: Final = "registry.yaml"
    INDICATORS: Final = "indicators.yaml"

    ALL: Final = (IGJ, POLICE, ACCESS_TEAM, REGISTRY, INDICATORS)


CATEGORY_PRECEDENCE: Final = (
    Category.CALAMITY,
    Category.VIOLENCE,
    Category.LEGITIMACY,
    Category.QUALITY,
    Category.GOVERNANCE,
    Category.FINANCIAL,
    Category.OTHER,
)
"""README: several candidate categories -> the first of these."""

SEVERITY_ORDER: Final = (Severity.HIGH, Severity.MEDIUM, Severity.LOW)
"""README: several candidate severities -> the highest."""

VULNERABLE_PRECEDENCE: Final = (
    VulnerableGroup.YOUTH,
    VulnerableGroup.SHELTERED_HOUSING,
    VulnerableGroup.COMPLEX_CARE,
    VulnerableGroup.NONE,
)
"""README: several candidate vulnerable groups -> the first of these."""


def first_by_precedence(candidates: Iterable[_T], precedence: tuple[_T, ...]) -> _T | None:
    """The candidate that comes first in ``precedence``; None when there are none."""
    present = set(candidates)
    return next((item for item in precedence if item in present), None)


def highest_severity(candidates: Iterable[Severity]) -> Severity | None:
    """The highest of the candidate severities."""
    return first_by_precedence(candidates, SEVERITY_ORDER)


@cache
def raw_code_lists(file_name: str) -> RawCodeLists:
    """One code-list file as plain data: list name -> partner code -> column -> value."""
    text = resources.files("zicht_intake").joinpath("codelists", file_name).read_text("utf-8")
    loaded = yaml.safe_load(text)
    if not isinstance(loaded, dict):
        raise TypeError(f"{file_name}: expected a mapping of code lists")
    lists: RawCodeLists = {}
    for list_name, rows in loaded.items():
        if not isinstance(rows, dict):
            raise TypeError(f"{file_name}: code list {list_name!r} must be a mapping")
        # YAML reads `1` as an int; partner codes are compared as text.
        lists[str(list_name)] = {
            str(code): dict(cast("dict[str, object]", columns or {}))
            for code, columns in rows.items()
        }
    return lists


def _column(row: Mapping[str, object], name: str) -> Any:
    if name not in row:
        raise KeyError(f"code list row lacks column {name!r}")
    return row[name]


def _optional(enum: type[_T], value: object) -> _T | None:
    return None if value is None else enum(value)  # type: ignore[call-arg]


def _frozen(mapping: dict[_K, _V]) -> Mapping[_K, _V]:
    return MappingProxyType(mapping)


# --- IGJ -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IgjFinding:
    """What a ``soortBevinding`` means in Zicht's terms."""

    category: Category
    crime_indicator: CrimeIndicator | None


@dataclass(frozen=True, slots=True)
class IgjCodes:
    """IGJ's code lists (igj.md)."""

    findings: Mapping[str, IgjFinding]
    laws: Mapping[str, Law]
    severities: Mapping[str, Severity]
    target_groups: Mapping[str, VulnerableGroup]
    shortcomings: Mapping[str, Shortcoming]
    contact_roles: frozenset[str]


@cache
def igj_codes() -> IgjCodes:
    """IGJ's code lists, read once."""
    raw = raw_code_lists(CodeListFile.IGJ)
    for code, row in raw["tekortkoming"].items():
        # The kind column repeats Zicht's table for the reader; Zicht's table wins, so a
        # disagreement is a broken data file, not something to map.
        shortcoming = Shortcoming(_column(row, "shortcoming"))
        if shortcoming.kind is not ShortcomingKind(_column(row, "kind")):
            raise ValueError(f"igj.yaml: kind of {code!r} disagrees with zicht_schemas")
    return IgjCodes(
        findings=_frozen(
            {
                code: IgjFinding(
                    category=Category(_column(row, "category")),
                    crime_indicator=_optional(CrimeIndicator, _column(row, "crime_indicator")),
                )
                for code, row in raw["soortBevinding"].items()
            }
        ),
        laws=_frozen({code: Law(_column(row, "law")) for code, row in raw["wet"].items()}),
        severities=_frozen(
            {code: Severity(_column(row, "severity")) for code, row in raw["ernst"].items()}
        ),
        target_groups=_frozen(
            {
                code: VulnerableGroup(_column(row, "vulnerable_group"))
                for code, row in raw["doelgroep"].items()
            }
        ),
        shortcomings=_frozen(
            {
                code: Shortcoming(_column(row, "shortcoming"))
                for code, row in raw["tekortkoming"].items()
            }
        ),
        contact_roles=frozenset(raw["contactRol"]),
    )


# --- police --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoliceIncident:
    """What a police incident code means in Zicht's terms."""

    category: Category
    crime_indicator: CrimeIndicator | None
    severity: Severity


@dataclass(frozen=True, slots=True)
class PoliceCodes:
    """The police's code lists (police.md)."""

    incidents: Mapping[str, PoliceIncident]
    roles_counting_for_youth: frozenset[str]
    roles: frozenset[str]


@cache
def police_codes() -> PoliceCodes:
    """The police's code lists, read once."""
    raw = raw_code_lists(CodeListFile.POLICE)
    roles = raw["personRole"]
    return PoliceCodes(
        incidents=_frozen(
            {
                code: PoliceIncident(
                    category=Category(_column(row, "category")),
                    crime_indicator=_optional(CrimeIndicator, _column(row, "crime_indicator")),
                    severity=Severity(_column(row, "severity")),
                )
                for code, row in raw["incidentCode"].items()
            }
        ),
        roles_counting_for_youth=frozenset(
            code for code, row in roles.items() if _column(row, "counts_for_youth") is True
        ),
        roles=frozenset(roles),
    )


# --- access teams --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Provision:
    """What an access team's ``voorziening`` says about law, target group and service."""

    law: Law
    vulnerable_group: VulnerableGroup
    care_service: CareService | None


@dataclass(frozen=True, slots=True)
class AccessTeamSignalKind:
    """What an access team's ``signaal`` means in Zicht's terms."""

    category: Category
    crime_indicator: CrimeIndicator | None
    shortcoming: Shortcoming | None
    administrative_error: bool
    default_severity: Severity


@dataclass(frozen=True, slots=True)
class AccessTeamCodes:
    """The access teams' code lists (access-team.md)."""

    provisions: Mapping[str, Provision]
    signals: Mapping[str, AccessTeamSignalKind]
    severities: Mapping[str, Severity]


@cache
def access_team_codes() -> AccessTeamCodes:
    """The access teams' code lists, read once."""
    raw = raw_code_lists(CodeListFile.ACCESS_TEAM)
    return AccessTeamCodes(
        provisions=_frozen(
            {
                code: Provision(
                    law=Law(_column(row, "law")),
                    vulnerable_group=VulnerableGroup(_column(row, "vulnerable_group")),
                    care_service=_optional(CareService, _column(row, "care_service")),
                )
                for code, row in raw["voorziening"].items()
            }
        ),
        signals=_frozen(
            {
                code: AccessTeamSignalKind(
                    category=Category(_column(row, "category")),
                    crime_indicator=_optional(CrimeIndicator, _column(row, "crime_indicator")),
                    shortcoming=_optional(Shortcoming, _column(row, "shortcoming")),
                    administrative_error=bool(_column(row, "administrative_error")),
                    default_severity=Severity(_column(row, "default_severity")),
                )
                for code, row in raw["signaal"].items()
            }
        ),
        severities=_frozen(
            {code: Severity(_column(row, "severity")) for code, row in raw["ernst"].items()}
        ),
    )


# --- registry ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """A registry service code: the care service, and the law and target group it implies."""

    care_service: CareService
    law: Law
    vulnerable_group: VulnerableGroup


@dataclass(frozen=True, slots=True)
class RegistryCodes:
    """The registry's code lists (registry.md)."""

    legal_forms: Mapping[str, LegalForm]
    services: Mapping[str, ServiceInfo]

    def service(self, care_service: CareService) -> ServiceInfo:
        """What a care service implies (every CareService is a registry service code)."""
        return self.services[care_service.value]


@cache
def registry_codes() -> RegistryCodes:
    """The registry's code lists, read once."""
    raw = raw_code_lists(CodeListFile.REGISTRY)
    return RegistryCodes(
        legal_forms=_frozen(
            {code: LegalForm(_column(row, "legal_form")) for code, row in raw["legal_form"].items()}
        ),
        services=_frozen(
            {
                code: ServiceInfo(
                    care_service=CareService(_column(row, "care_service")),
                    law=Law(_column(row, "law")),
                    vulnerable_group=VulnerableGroup(_column(row, "vulnerable_group")),
                )
                for code, row in raw["service"].items()
            }
        ),
    )


# --- indicators ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndicatorInfo:
    """A barrier-model indicator: its code, the kind of value and where it usually comes from."""

    code: IndicatorCode
    kind: IndicatorValueKind
    usual_source: IndicatorSource


@dataclass(frozen=True, slots=True)
class IndicatorCodes:
    """The indicator code list (indicators.md)."""

    indicators: Mapping[str, IndicatorInfo]


@cache
def indicator_codes() -> IndicatorCodes:
    """The indicator code list, read once."""
    raw = raw_code_lists(CodeListFile.INDICATORS)
    return IndicatorCodes(
        indicators=_frozen(
            {
                code: IndicatorInfo(
                    code=IndicatorCode(code),
                    kind=IndicatorValueKind(_column(row, "type")),
                    usual_source=IndicatorSource(_column(row, "usual_source")),
                )
                for code, row in raw["indicator"].items()
            }
        )
    )
