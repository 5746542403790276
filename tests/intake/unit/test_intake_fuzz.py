"""Whatever a partner sends, intake answers with a draft or a refusal, and never echoes a BSN."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from intake.unit.partner_docs import (
    RECEIVED_AT,
    TEAM,
    TODAY,
    example_bytes,
    example_json,
    pseudonymiser,
    registry_providers,
)
from zicht_intake.domain import (
    IndicatorReport,
    PartnerFormat,
    Refusal,
    RegistryEntry,
    SignalDraft,
    complete,
    identify,
    normalise_igj,
    normalise_indicators,
    normalise_police,
    normalise_registry,
    parse_access_team_csv,
    parse_indicators_csv,
    parse_registry_csv,
    reference_of,
)
from zicht_intake.domain.access_team import ACCESS_TEAM_COLUMNS

pytestmark = pytest.mark.unit

PROVIDERS = registry_providers()
FUZZ = settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)


def igj(data: bytes) -> object:
    return normalise_igj(data, received_at=RECEIVED_AT, pseudonymiser=pseudonymiser())


def police(data: bytes) -> object:
    return normalise_police(data, received_at=RECEIVED_AT, pseudonymiser=pseudonymiser())


def access_team(data: bytes) -> object:
    return parse_access_team_csv(
        data, received_at=RECEIVED_AT, pseudonymiser=pseudonymiser(), team=TEAM
    )


def registry(data: bytes) -> object:
    return normalise_registry(data, provider_id="ozjt-000123", today=TODAY)


def registry_csv(data: bytes) -> object:
    return parse_registry_csv(data, today=TODAY)


def indicators(data: bytes) -> object:
    return normalise_indicators(data, provider_id="ozjt-000123", received_at=RECEIVED_AT)


def indicators_csv(data: bytes) -> object:
    return parse_indicators_csv(data, received_at=RECEIVED_AT)


def rejections_of(result: object) -> list[Any]:
    """Every rejection in a result, whatever its shape (refusal, CSV rows, parts)."""
    if isinstance(result, Refusal):
        return list(result.rejections)
    if isinstance(result, tuple):
        return [r for item in result for r in rejections_of(item.result)]
    return []


def assert_well_formed(result: object) -> None:
    """A draft or refusal (or a CSV tuple of them); a draft can be published."""
    items = [item.result for item in result] if isinstance(result, tuple) else [result]
    for item in items:
        assert isinstance(item, SignalDraft | Refusal | RegistryEntry | IndicatorReport), item
        if isinstance(item, SignalDraft):
            # A draft of a registered provider becomes an event that validates.
            complete(
                item,
                identify(item.provider, PROVIDERS),
                signal_id=uuid4(),
                submission_id=uuid4(),
                partner_id="partner-1",
                received_at=RECEIVED_AT,
            )
        elif isinstance(item, RegistryEntry):
            item.to_event("ozjt-000123", 1, RECEIVED_AT)
        elif isinstance(item, IndicatorReport):
            item.to_event(uuid4(), "ozjt-000123")
    for rejection in rejections_of(result):
        rejection.to_reason()


PARSERS: dict[str, Callable[[bytes], object]] = {
    "igj": igj,
    "police": police,
    "access_team": access_team,
    "registry": registry,
    "registry_csv": registry_csv,
    "indicators": indicators,
    "indicators_csv": indicators_csv,
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@FUZZ
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(name: str, data: bytes) -> None:
    assert_well_formed(PARSERS[name](data))
    for partner_format in PartnerFormat:
        reference = reference_of(partner_format, data)
        assert reference is None or isinstance(reference, str)


# --- mutated examples: close enough to the format to reach the rules ------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def paths(document: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.extend(paths(value, (*prefix, index)))
    return found


def mutate(document: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    draw = data.draw
    path = draw(st.sampled_from(paths(document)[1:]))
    parent: Any = document
    for step in path[:-1]:
        parent = parent[step]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(json_values)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=12))] = draw(json_values)
    else:
        parent.append(draw(json_values))
    return document


JSON_EXAMPLES = {
    "igj": (igj, "igj.json"),
    "police": (police, "police.json"),
    "registry": (registry, "registry/ozjt-000123.json"),
    "indicators": (indicators, "indicators/ozjt-000456.contract_management.2026-03-01.json"),
}


@pytest.mark.parametrize("name", sorted(JSON_EXAMPLES))
@FUZZ
@given(data=st.data())
def test_mutated_json_examples_give_a_draft_or_a_refusal(name: str, data: st.DataObject) -> None:
    normalise, example = JSON_EXAMPLES[name]
    document = example_json(example)
    for _ in range(data.draw(st.integers(1, 3))):
        document = mutate(document, data)

    assert_well_formed(normalise(json.dumps(document).encode()))


cells = st.one_of(
    st.sampled_from(["", "GM0153", "Enschede", "99000011", "98990011", "7511 AB", "02-03-2026"]),
    st.sampled_from(["beschermd wonen", "klacht", "hoog", "ja", "0,5", "ozjt-000123", "999927176"]),
    st.text(max_size=12),
)


def csv_file(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


@FUZZ
@given(rows=st.lists(st.lists(cells, min_size=12, max_size=12), min_size=1, max_size=5))
def test_fuzzed_access_team_rows_each_give_a_draft_or_a_refusal(rows: list[list[str]]) -> None:
    data = csv_file(list(ACCESS_TEAM_COLUMNS), rows)

    result = access_team(data)

    assert_well_formed(result)


# --- BSNs in the wrong places -----------------------------------------------------------------


@st.composite
def valid_bsns(draw: st.DrawFn) -> str:
    digits = draw(st.lists(st.integers(0, 9), min_size=8, max_size=8))
    last = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True)) % 11
    assume(last < 10)
    bsn = "".join(map(str, [*digits, last]))
    assume(bsn != "000000000")
    return bsn


def assert_never_echoed(bsn: str, result: object) -> None:
    for rejection in rejections_of(result):
        assert bsn not in rejection.detail
        assert bsn not in rejection.field_path()
        assert bsn not in (rejection.pointer or "")
        assert bsn not in (rejection.column or "")
    if isinstance(result, tuple):
        for item in result:
            reference = getattr(item, "partner_reference", None)
            assert reference is None or bsn not in reference
            assert bsn not in getattr(item, "provider_id", "")


@pytest.mark.parametrize("name", sorted(JSON_EXAMPLES))
@FUZZ
@given(bsn=valid_bsns(), data=st.data())
def test_a_bsn_in_any_json_field_or_name_is_never_echoed(
    name: str, bsn: str, data: st.DataObject
) -> None:
    normalise, example = JSON_EXAMPLES[name]
    document = example_json(example)
    path = data.draw(st.sampled_from(paths(document)[1:]))
    parent: Any = document
    for step in path[:-1]:
        parent = parent[step]
    how = data.draw(st.sampled_from(["value", "number", "name", "inside"]))
    if how == "value":
        parent[path[-1]] = bsn
    elif how == "number":
        parent[path[-1]] = int(bsn)
    elif how == "name" and isinstance(parent, dict):
        parent[bsn] = "x"
    else:
        parent[path[-1]] = f"ref {bsn} ref"
    body = json.dumps(document).encode()

    result = normalise(body)

    assert_well_formed(result)
    assert_never_echoed(bsn, result)
    assert (
        reference_of(PartnerFormat(name) if name in {"igj", "police"} else PartnerFormat.IGJ, body)
        != bsn
    )
    if isinstance(result, SignalDraft):
        assert bsn not in (result.free_text or "")
        assert bsn not in result.partner_reference


CSV_EXAMPLES = {
    "access_team": (access_team, "access-team.csv"),
    "registry_csv": (registry_csv, "registry.csv"),
    "indicators_csv": (indicators_csv, "indicators.csv"),
}


@pytest.mark.parametrize("name", sorted(CSV_EXAMPLES))
@FUZZ
@given(bsn=valid_bsns(), data=st.data())
def test_a_bsn_in_any_csv_cell_or_header_is_never_echoed(
    name: str, bsn: str, data: st.DataObject
) -> None:
    parse, example = CSV_EXAMPLES[name]
    records = list(csv.reader(io.StringIO(example_bytes(example).decode()), delimiter=";"))
    row = data.draw(st.integers(0, len(records) - 1))
    column = data.draw(st.integers(0, len(records[0]) - 1))
    records[row][column] = data.draw(st.sampled_from([bsn, f"{bsn[:4]}.{bsn[4:6]}.{bsn[6:]}"]))

    result = parse(csv_file(records[0], records[1:]))

    assert_well_formed(result)
    assert_never_echoed(bsn, result)
