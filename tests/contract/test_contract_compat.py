"""The schema compatibility check: passes on the committed schemas, fails on breaking edits."""

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zicht_schemas import SignalReceivedV1
from zicht_schemas.compat import incompatibilities, main
from zicht_schemas.export import main as export_main
from zicht_schemas.jsonschema import event_json_schema

pytestmark = pytest.mark.unit

RECEIVED = f"{SignalReceivedV1.EVENT_TYPE}.json"
Schema = dict[str, Any]


@pytest.fixture
def schema_copy(tmp_path: Path, schema_dir: Path) -> Path:
    """A scratch copy of the committed schemas, to break on purpose."""
    target = tmp_path / "json"
    shutil.copytree(schema_dir, target)
    return target


def _edit(directory: Path, name: str, change: Callable[[Schema], None]) -> None:
    """Edit one committed schema as if it had been published in that form."""
    path = directory / name
    schema = json.loads(path.read_text(encoding="utf-8"))
    change(schema)
    path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _check(directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--dir", str(directory)])
    return code, capsys.readouterr().out


def _object(
    properties: Schema, required: list[str] | None = None, extra: Schema | None = None
) -> Schema:
    return {"type": "object", "properties": properties, "required": required or [], **(extra or {})}


def test_the_committed_schemas_are_current_and_compatible(
    schema_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _check(schema_dir, capsys)

    assert code == 0, out
    assert "are current and compatible" in out


def test_export_reproduces_the_committed_schemas_byte_for_byte(
    tmp_path: Path, schema_dir: Path
) -> None:
    assert export_main(["--dir", str(tmp_path)]) == 0

    exported = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    committed = {p.name: p.read_bytes() for p in schema_dir.glob("*.json")}
    assert exported == committed
    assert export_main(["--dir", str(tmp_path)]) == 0  # running it again changes nothing
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.json")} == exported


def test_each_schema_is_identified_by_its_dataschema_uri(schema_dir: Path) -> None:
    schema = json.loads((schema_dir / RECEIVED).read_text(encoding="utf-8"))

    assert schema["$id"] == (
        "https://zicht.example/schemas/nl.zorgtoezicht.signal.received.v1.json"
    )
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["x-zicht-topic"] == "intake.signal-received.v1"


def test_a_removed_field_fails_the_compatibility_check(
    schema_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Published with a field the model no longer has.
    _edit(schema_copy, RECEIVED, lambda s: s["properties"].update(legacy_flag={"type": "boolean"}))

    code, out = _check(schema_copy, capsys)

    assert code == 1
    assert f"{RECEIVED}: legacy_flag: property removed" in out


def test_a_renamed_field_fails_the_compatibility_check(
    schema_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def published_as_partner_ref(schema: Schema) -> None:
        schema["properties"]["partner_ref"] = schema["properties"].pop("partner_reference")
        schema["required"] = [
            "partner_ref" if name == "partner_reference" else name for name in schema["required"]
        ]

    _edit(schema_copy, RECEIVED, published_as_partner_ref)

    code, out = _check(schema_copy, capsys)

    assert code == 1
    assert "partner_ref: property removed (renamed to partner_reference?)" in out
    assert "new required field(s): partner_reference" in out


def test_a_new_required_field_fails_the_compatibility_check(
    schema_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def published_without_occurred_at(schema: Schema) -> None:
        del schema["properties"]["occurred_at"]
        schema["required"].remove("occurred_at")

    _edit(schema_copy, RECEIVED, published_without_occurred_at)

    code, out = _check(schema_copy, capsys)

    assert code == 1
    assert f"{RECEIVED}: (root): new required field(s): occurred_at" in out


def test_a_narrowed_type_fails_the_compatibility_check(
    schema_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Published as any number; the model now says integer.
    _edit(
        schema_copy,
        RECEIVED,
        lambda s: s["properties"]["clients_involved"].update(type="number"),
    )

    code, out = _check(schema_copy, capsys)

    assert code == 1
    assert "clients_involved: type narrowed: number no longer accepted (now integer)" in out


def test_a_removed_enum_value_fails_the_compatibility_check(
    schema_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(schema_copy, RECEIVED, lambda s: s["$defs"]["Source"]["enum"].append("fax"))

    code, out = _check(schema_copy, capsys)

    assert code == 1
    assert "source: enum value(s) removed: fax" in out


def test_a_committed_schema_without_a_model_fails_the_check(
    schema_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(schema_copy / RECEIVED, schema_copy / "nl.zorgtoezicht.signal.withdrawn.v1.json")

    code, out = _check(schema_copy, capsys)

    assert code == 1
    assert "nl.zorgtoezicht.signal.withdrawn.v1.json: no model generates this schema" in out


def test_a_stale_but_compatible_schema_fails_with_a_hint_to_export(
    schema_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(schema_copy, RECEIVED, lambda s: s.update(description="an older wording"))
    (schema_copy / "nl.zorgtoezicht.alert.failed.v1.json").unlink()

    code, out = _check(schema_copy, capsys)

    assert code == 1
    assert "out of date" in out
    assert "nl.zorgtoezicht.alert.failed.v1.json" in out
    assert "python -m zicht_schemas.export" in out
    assert "property removed" not in out


def test_the_command_line_entry_point_runs(schema_copy: Path) -> None:
    _edit(schema_copy, RECEIVED, lambda s: s["properties"].update(legacy_flag={"type": "boolean"}))

    result = subprocess.run(  # noqa: S603 - fixed argv: this interpreter running our module
        [sys.executable, "-m", "zicht_schemas.compat", "--dir", str(schema_copy)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "legacy_flag: property removed" in result.stdout


# The pure function, on small schemas.


def test_adding_an_optional_field_or_an_enum_value_is_compatible() -> None:
    old = _object({"code": {"enum": ["a", "b"], "type": "string"}}, ["code"])
    new = _object(
        {"code": {"enum": ["a", "b", "c"], "type": "string"}, "note": {"type": "string"}},
        ["code"],
    )

    assert incompatibilities(old, new) == []


def test_widening_a_type_or_loosening_a_bound_is_compatible() -> None:
    old = _object({"n": {"type": "integer", "maximum": 10}, "s": {"type": "string"}})
    new = _object(
        {
            "n": {"type": "number", "maximum": 20},
            "s": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        }
    )

    assert incompatibilities(old, new) == []


def test_the_current_model_is_compatible_with_itself() -> None:
    schema = event_json_schema(SignalReceivedV1)

    assert incompatibilities(schema, copy.deepcopy(schema)) == []


@pytest.mark.parametrize(
    ("old_property", "new_property", "problem"),
    [
        ({"type": "string"}, {"type": "string", "pattern": "^[0-9]+$"}, "s: pattern added"),
        ({"type": "string"}, {"type": "string", "format": "uuid"}, "s: format added"),
        ({"type": "string", "maxLength": 50}, {"type": "string", "maxLength": 20}, "lowered to 20"),
        ({"type": "integer"}, {"type": "integer", "minimum": 1}, "s: minimum added or raised"),
        ({"type": "string"}, {"enum": ["x"], "type": "string"}, "restricted to a fixed set"),
        (
            {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            {"type": "string"},
            "s: type narrowed: integer no longer accepted (now string)",
        ),
        (
            {"type": "array", "items": {"type": "number"}},
            {"type": "array", "items": {"type": "integer"}},
            "s[]: type narrowed",
        ),
        ({}, {"type": "string"}, "s: type narrowed: any no longer accepted"),
    ],
)
def test_a_tightened_constraint_is_incompatible(
    old_property: Schema, new_property: Schema, problem: str
) -> None:
    problems = incompatibilities(_object({"s": old_property}), _object({"s": new_property}))

    assert any(problem in line for line in problems), problems


def test_closing_additional_properties_is_incompatible() -> None:
    problems = incompatibilities(_object({}), _object({}, extra={"additionalProperties": False}))

    assert problems == ["(root): additionalProperties closed"]


def test_changes_inside_refs_and_nested_objects_are_found_with_their_path() -> None:
    def document(location: Schema) -> Schema:
        return _object(
            {"location": {"anyOf": [{"$ref": "#/$defs/Location"}, {"type": "null"}]}},
            extra={"$defs": {"Location": location}},
        )

    old = document(_object({"postcode": {"type": "string"}, "code": {"type": "string"}}))
    new = document(_object({"code": {"type": "string"}}, ["code"]))

    assert incompatibilities(old, new) == [
        "location.postcode: property removed",
        "location: new required field(s): code",
    ]


def test_a_recursive_schema_is_walked_without_end() -> None:
    children = {"type": "array", "items": {"$ref": "#/$defs/Node"}}
    tree = _object(
        {"children": children}, extra={"$defs": {"Node": _object({"children": children})}}
    )

    assert incompatibilities(tree, copy.deepcopy(tree)) == []


def test_a_changed_topic_or_type_is_incompatible() -> None:
    old = _object({}, extra={"x-zicht-topic": "intake.signal-received.v1"})
    new = _object({}, extra={"x-zicht-topic": "intake.signal-received.v2"})

    assert incompatibilities(old, new) == [
        "(root): x-zicht-topic changed from 'intake.signal-received.v1'"
    ]
