"""Contract management's provider registry (docs/partners/registry.md): PUT bodies and CSV.

An entry replaces the provider's whole registration. A CSV import holds one row per location;
rows with the same ``provider_id`` (anywhere in the file) form one provider, converted to
exactly the PUT body and accepted or refused as a whole, because applying a provider without
its faulty row would silently delete that location.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from zicht_intake.domain.codelists import registry_codes
from zicht_intake.domain.csvfiles import CsvRecord, read_csv
from zicht_intake.domain.drafts import add_rule, read_json_document, unique_in_order
from zicht_intake.domain.identify import RegistryLocation
from zicht_intake.domain.limits import MAX_IMPORT_CSV_BYTES, MAX_IMPORT_CSV_ROWS, MAX_REGISTRY_BYTES
from zicht_intake.domain.moments import parse_iso_date, require_aware
from zicht_intake.domain.problems import Detail, Refusal, Rejection, pointer_of, pointer_tokens
from zicht_intake.domain.validation import PartnerFormat, keyword_problems
from zicht_schemas.codes import CareService, LegalForm, RejectionCode
from zicht_schemas.events.intake import ProviderLocation, ProviderRegisteredV1
from zicht_schemas.regions import regions
from zicht_schemas.values import looks_like_bsn

__all__ = [
    "PROVIDER_ID_PATTERN",
    "REGISTRY_CSV_COLUMNS",
    "EntryLocation",
    "RegistryCsvProvider",
    "RegistryEntry",
    "normalise_registry",
    "parse_registry_csv",
    "provider_id_rules",
    "registry_locations",
    "shown_provider_id",
]

PROVIDER_ID_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9-]{2,63}")
"""Contract management's stable provider id (the ``{id}`` of ``PUT /v1/providers/{id}``)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]{1,9}")
_MUNICIPALITY_CODE = re.compile(r"GM[0-9]{4}")


@dataclass(frozen=True, slots=True)
class EntryLocation:
    """A location of a registry entry, with Zicht's service codes."""

    location_id: str
    name: str | None
    street: str
    house_number: int
    house_number_addition: str | None
    postcode: str
    municipality_code: str
    services: tuple[CareService, ...]

    @property
    def label(self) -> str:
        """The location's name; its address when contract management gave it no name."""
        if self.name:
            return self.name
        return f"{self.street} {self.house_number}{self.house_number_addition or ''}"


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """A provider's whole registry entry, as contract management registered it."""

    name: str
    kvk: str
    agb: str | None
    legal_form: LegalForm
    founded_on: date
    locations: tuple[EntryLocation, ...]
    contracting_municipalities: tuple[str, ...]

    @property
    def related_municipalities(self) -> tuple[str, ...]:
        """Every municipality of a location, then the contracting ones, without repeats."""
        return unique_in_order(
            [location.municipality_code for location in self.locations]
            + list(self.contracting_municipalities)
        )

    def to_event(
        self, provider_id: str, registry_version: int, updated_at: datetime
    ) -> ProviderRegisteredV1:
        """The entry as ``intake.provider-registered.v1``.

        ``active`` is always true: ending a registration is not part of v1 (registry.md); an
        entry without contracting municipalities still provides care (e.g. pgb only).
        """
        return ProviderRegisteredV1(
            provider_id=provider_id,
            name=self.name,
            kvk=self.kvk,
            agb=self.agb,
            legal_form=self.legal_form,
            founded_on=self.founded_on,
            active=True,
            locations=tuple(
                ProviderLocation(
                    location_id=location.location_id,
                    name=location.label,
                    postcode=location.postcode,
                    municipality_code=location.municipality_code,
                    services=location.services,
                )
                for location in self.locations
            ),
            contracting_municipalities=self.contracting_municipalities,
            registry_version=registry_version,
            updated_at=require_aware(updated_at),
        )


def registry_locations(entry: RegistryEntry) -> tuple[RegistryLocation, ...]:
    """The entry's locations as identification matches them."""
    return tuple(
        RegistryLocation(
            location_id=location.location_id,
            postcode=location.postcode,
            house_number=location.house_number,
            house_number_addition=location.house_number_addition,
            municipality_code=location.municipality_code,
            services=location.services,
        )
        for location in entry.locations
    )


# --- checking a body -----------------------------------------------------------------------


def provider_id_rules(provider_id: str, wrong_form: RejectionCode) -> list[Rejection]:
    """The rules on a provider id (the path's ``{id}``): its form, and never a BSN."""
    if looks_like_bsn(provider_id):
        # Ids travel in events and status answers, where a BSN must never appear.
        return [Rejection(RejectionCode.PERSONAL_DATA_NOT_ALLOWED, Detail.ID_IS_BSN)]
    if not PROVIDER_ID_PATTERN.fullmatch(provider_id):
        return [Rejection(wrong_form, Detail.PROVIDER_ID)]
    return []


def shown_provider_id(provider_id: str) -> str:
    """A provider id fit to be shown back: an id that looks like a BSN is withheld."""
    return "" if looks_like_bsn(provider_id) else provider_id


def _rules(document: dict[str, Any], provider_id: str | None, today: date) -> list[Rejection]:
    """registry.md's rules beyond the schema; pointer None means the provider id (the path)."""
    found: list[Rejection] = []
    if provider_id is not None:
        found.extend(provider_id_rules(provider_id, RejectionCode.INVALID_VALUE))
    name = document.get("name")
    if isinstance(name, str) and _CONTROL.search(name):
        found.append(Rejection(RejectionCode.INVALID_VALUE, Detail.CONTROL_CHARACTERS, "/name"))
    founded = document.get("founded_on")
    founded_on = parse_iso_date(founded) if isinstance(founded, str) else None
    if founded_on is not None and founded_on > today:
        found.append(
            Rejection(RejectionCode.INVALID_VALUE, Detail.FOUNDED_IN_FUTURE, "/founded_on")
        )
    locations = document.get("locations")
    seen: set[str] = set()
    for index, location in enumerate(locations if isinstance(locations, list) else ()):
        if not isinstance(location, dict):
            continue
        location_id = location.get("location_id")
        if isinstance(location_id, str):
            if looks_like_bsn(location_id):
                pointer = pointer_of(["locations", index, "location_id"])
                found.append(
                    Rejection(RejectionCode.PERSONAL_DATA_NOT_ALLOWED, Detail.ID_IS_BSN, pointer)
                )
            if location_id in seen:
                pointer = pointer_of(["locations", index, "location_id"])
                found.append(
                    Rejection(RejectionCode.INVALID_VALUE, Detail.DUPLICATE_LOCATION_ID, pointer)
                )
            seen.add(location_id)
        location_name = location.get("name")
        if isinstance(location_name, str) and _CONTROL.search(location_name):
            pointer = pointer_of(["locations", index, "name"])
            found.append(Rejection(RejectionCode.INVALID_VALUE, Detail.CONTROL_CHARACTERS, pointer))
    contracting = document.get("contracting_municipalities")
    known = regions().municipality_codes
    for index, code in enumerate(contracting if isinstance(contracting, list) else ()):
        if isinstance(code, str) and _MUNICIPALITY_CODE.fullmatch(code) and code not in known:
            pointer = pointer_of(["contracting_municipalities", index])
            found.append(
                Rejection(RejectionCode.INVALID_VALUE, Detail.NOT_A_REGION_MUNICIPALITY, pointer)
            )
    return found


def _check(document: dict[str, Any], provider_id: str | None, today: date) -> list[Rejection]:
    problems = keyword_problems(PartnerFormat.REGISTRY, document)
    rejections = [problem.rejection() for problem in problems]
    for rule in _rules(document, provider_id, today):
        add_rule(rejections, rule)
    return rejections


def _entry(document: dict[str, Any]) -> RegistryEntry:
    """The entry of a body that passed the schema and the rules."""
    codes = registry_codes()
    founded_on = parse_iso_date(document["founded_on"])
    if founded_on is None:  # pragma: no cover - the schema's format refuses it
        raise ValueError("founded_on passed the schema, so it is a date")
    return RegistryEntry(
        name=document["name"],
        kvk=document["kvk"],
        agb=document.get("agb"),
        legal_form=codes.legal_forms[document["legal_form"]],
        founded_on=founded_on,
        locations=tuple(
            EntryLocation(
                location_id=location["location_id"],
                name=location.get("name"),
                street=location["street"],
                house_number=int(location["house_number"]),
                house_number_addition=location.get("house_number_addition"),
                postcode=location["postcode"],
                municipality_code=location["municipality_code"],
                services=tuple(
                    codes.services[service].care_service for service in location["services"]
                ),
            )
            for location in document["locations"]
        ),
        contracting_municipalities=tuple(document["contracting_municipalities"]),
    )


def normalise_registry(body: bytes, *, provider_id: str, today: date) -> RegistryEntry | Refusal:
    """A ``PUT /v1/providers/{id}`` body as a registry entry, or the refusal of the whole entry.

    Args:
        body: The JSON body as received.
        provider_id: The ``{id}`` of the path.
        today: Today's date (Europe/Amsterdam) for "founded_on is not after today".

    Returns:
        The entry, or a refusal listing every schema keyword and rule the body fails (a
        rejection without pointer concerns the provider id in the path).
    """
    read = read_json_document(PartnerFormat.REGISTRY, body, MAX_REGISTRY_BYTES)
    if isinstance(read, Refusal):
        return read
    document, _ = read
    rejections = _check(document, provider_id, today)
    if rejections:
        return Refusal(tuple(rejections))
    return _entry(document)


# --- CSV import ----------------------------------------------------------------------------

REGISTRY_CSV_COLUMNS: Final = (
    "provider_id",
    "name",
    "kvk",
    "agb",
    "legal_form",
    "founded_on",
    "contracting_municipalities",
    "location_id",
    "location_name",
    "street",
    "house_number",
    "house_number_addition",
    "postcode",
    "municipality_code",
    "services",
)
"""The agreed columns of the registry CSV import (registry.md, "CSV import")."""

# JSON field -> CSV column, for the provider and for each location.
_PROVIDER_COLUMNS: Final = {
    "name": "name",
    "kvk": "kvk",
    "agb": "agb",
    "legal_form": "legal_form",
    "founded_on": "founded_on",
    "contracting_municipalities": "contracting_municipalities",
}
_LOCATION_COLUMNS: Final = {
    "location_id": "location_id",
    "name": "location_name",
    "street": "street",
    "house_number": "house_number",
    "house_number_addition": "house_number_addition",
    "postcode": "postcode",
    "municipality_code": "municipality_code",
    "services": "services",
}


@dataclass(frozen=True, slots=True)
class RegistryCsvProvider:
    """One provider of a registry CSV import: its rows and its entry or refusal (as a whole)."""

    provider_id: str
    rows: tuple[int, ...]
    result: RegistryEntry | Refusal


def _split_list(cell: str) -> list[str]:
    return [item.strip() for item in cell.split("|") if item.strip()]


def _provider_cell(column: str, cells: dict[str, str]) -> object:
    if column == "contracting_municipalities":
        return frozenset(_split_list(cells[column]))
    return cells[column]


def _body(records: list[CsvRecord]) -> dict[str, Any]:
    """The PUT body a provider's rows convert to (registry.md, "CSV import")."""
    first = records[0].cells
    body: dict[str, Any] = {
        field: first[column]
        for field, column in _PROVIDER_COLUMNS.items()
        if first[column] and field != "contracting_municipalities"
    }
    body["contracting_municipalities"] = _split_list(first["contracting_municipalities"])
    locations = []
    for record in records:
        cells = record.cells
        location: dict[str, Any] = {
            field: cells[column] for field, column in _LOCATION_COLUMNS.items() if cells[column]
        }
        # Digits only become a number; anything else stays text and fails the schema's type.
        if "house_number" in location and _DIGITS.fullmatch(location["house_number"]):
            location["house_number"] = int(location["house_number"])
        if "postcode" in location:
            location["postcode"] = re.sub(r"\s", "", location["postcode"]).upper()
        location["services"] = _split_list(cells["services"])
        locations.append(location)
    body["locations"] = locations
    return body


def _cell_of(rejection: Rejection, records: list[CsvRecord]) -> Rejection:
    """A body rejection moved to the CSV cell it comes from."""
    if rejection.pointer is None:
        return Rejection(rejection.code, rejection.detail, row=records[0].row, column="provider_id")
    tokens = pointer_tokens(rejection.pointer)
    if len(tokens) >= 2 and tokens[0] == "locations" and tokens[1].isdigit():  # noqa: PLR2004
        index = int(tokens[1])
        row = records[index].row if index < len(records) else records[0].row
        column = _LOCATION_COLUMNS.get(tokens[2]) if len(tokens) > 2 else None  # noqa: PLR2004
        return Rejection(rejection.code, rejection.detail, row=row, column=column)
    column = _PROVIDER_COLUMNS.get(tokens[0]) if tokens else None
    return Rejection(rejection.code, rejection.detail, row=records[0].row, column=column)


def _provider(provider_id: str, records: list[CsvRecord], today: date) -> RegistryCsvProvider:
    rows = tuple(record.row for record in records)
    shown = shown_provider_id(provider_id)
    unreadable = [record.problem for record in records if record.problem is not None]
    if unreadable:
        return RegistryCsvProvider(shown, rows, Refusal(tuple(unreadable)))
    rejections: list[Rejection] = []
    if not provider_id:
        rejections.append(
            Rejection(
                RejectionCode.MISSING_FIELD,
                Detail.required("provider_id"),
                row=records[0].row,
                column="provider_id",
            )
        )
    first = records[0].cells
    for record in records[1:]:
        rejections.extend(
            Rejection(
                RejectionCode.INVALID_VALUE,
                Detail.PROVIDER_COLUMNS_DIFFER,
                row=record.row,
                column=column,
            )
            for column in _PROVIDER_COLUMNS.values()
            if _provider_cell(column, record.cells) != _provider_cell(column, first)
        )
    body = _body(records)
    # A missing provider id is refused above; the rule on its form needs one.
    checked = _check(body, provider_id or None, today)
    rejections.extend(_cell_of(rejection, records) for rejection in checked)
    if rejections:
        return RegistryCsvProvider(shown, rows, Refusal(tuple(rejections)))
    return RegistryCsvProvider(provider_id, rows, _entry(body))


def parse_registry_csv(data: bytes, *, today: date) -> Refusal | tuple[RegistryCsvProvider, ...]:
    """A registry CSV import: one result per provider, or the refusal of the whole file.

    Args:
        data: The file as received.
        today: Today's date (Europe/Amsterdam) for "founded_on is not after today".

    Returns:
        One :class:`RegistryCsvProvider` per ``provider_id``, in order of first appearance;
        or a refusal when the file cannot be read as agreed.
    """
    records = read_csv(
        data,
        columns=REGISTRY_CSV_COLUMNS,
        max_bytes=MAX_IMPORT_CSV_BYTES,
        max_rows=MAX_IMPORT_CSV_ROWS,
    )
    if isinstance(records, Refusal):
        return records
    groups: dict[str, list[CsvRecord]] = {}
    for record in records:
        groups.setdefault(record.cells.get("provider_id", ""), []).append(record)
    return tuple(_provider(provider_id, group, today) for provider_id, group in groups.items())
