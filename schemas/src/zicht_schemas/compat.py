"""Check committed JSON Schemas against the models: ``python -m zicht_schemas.compat``.

A published version may only widen: a consumer built on the new model must read every event
the old one allowed, and an old consumer must still find every property it knew. Breaking
changes are a new version (a new model class, type and topic), never an edit.
"""

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from zicht_schemas.cloudevents import DEFAULT_SCHEMA_BASE_URL
from zicht_schemas.jsonschema import (
    DEFAULT_SCHEMA_DIR,
    TOPIC_KEYWORD,
    TYPE_KEYWORD,
    all_event_schemas,
    render_schema,
    schema_file_name,
)

__all__ = ["check_directory", "incompatibilities", "main"]

_Schema = Mapping[str, Any] | bool
_Branch = tuple[_Schema, str | None]  # a schema alternative and the $ref it came through


# Python type of a decoded JSON value -> its JSON type (bool before int: bool is an int).
_JSON_TYPE_OF: tuple[tuple[type, str], ...] = (
    (type(None), "null"),
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
)


def _json_type(value: object) -> str:
    return next((name for kind, name in _JSON_TYPE_OF if isinstance(value, kind)), "object")


class _Comparison:
    """Compares one old schema document with one new one; ``$ref`` resolved in each."""

    def __init__(self, old_root: Mapping[str, Any], new_root: Mapping[str, Any]) -> None:
        self._roots = (old_root, new_root)
        # Pairs of definitions being compared further up the walk: meeting one again means
        # the schema is recursive, and the pair is already being checked.
        self._active: set[tuple[str, str]] = set()

    def _resolve(self, node: _Schema, side: int) -> _Branch:
        seen: list[str] = []
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/"):
                raise ValueError(f"cannot resolve $ref {ref!r}")
            seen.append(ref)
            target: Any = self._roots[side]
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings} if isinstance(target, Mapping) else target
        if isinstance(node, Mapping) and len(node.get("allOf", ())) == 1:
            merged = {k: v for k, v in node.items() if k != "allOf"}
            inner, ref = self._resolve({**node["allOf"][0], **merged}, side)
            return inner, ref or (seen[-1] if seen else None)
        return node, seen[-1] if seen else None

    def _branches(self, node: _Schema, side: int) -> list[_Branch]:
        """The alternatives a node accepts: anyOf/oneOf flattened, type lists split."""
        resolved, ref = self._resolve(node, side)
        if not isinstance(resolved, Mapping):
            return [(resolved, ref)]
        for keyword in ("anyOf", "oneOf"):
            if keyword in resolved:
                return [b for sub in resolved[keyword] for b in self._branches(sub, side)]
        types = resolved.get("type")
        if isinstance(types, list):
            return [({**resolved, "type": t}, ref) for t in types]
        return [(resolved, ref)]

    @staticmethod
    def _types(node: _Schema) -> frozenset[str] | None:
        """The JSON types a branch accepts; None for any."""
        if not isinstance(node, Mapping):
            return None if node else frozenset()
        found: frozenset[str] | None = None
        if isinstance(node.get("type"), str):
            found = frozenset({node["type"]})
        elif "const" in node:
            found = frozenset({_json_type(node["const"])})
        elif isinstance(node.get("enum"), list):
            found = frozenset(_json_type(v) for v in node["enum"])
        elif "properties" in node or "additionalProperties" in node:
            found = frozenset({"object"})
        elif "items" in node or "prefixItems" in node:
            found = frozenset({"array"})
        return found

    @classmethod
    def _covers(cls, new: _Schema, old: _Schema) -> bool:
        new_types, old_types = cls._types(new), cls._types(old)
        if new_types is None:
            return True
        if old_types is None:
            return False
        return all(t in new_types or (t == "integer" and "number" in new_types) for t in old_types)

    def compare(self, old: _Schema, new: _Schema, path: str) -> list[str]:
        """Problems that make ``new`` refuse what ``old`` accepted, or drop what it had."""
        old_branches = self._branches(old, 0)
        new_branches = self._branches(new, 1)
        problems: list[str] = []
        for old_branch in old_branches:
            if old_branch[0] is False:
                continue
            candidates = [b for b in new_branches if self._covers(b[0], old_branch[0])]
            if not candidates:
                was = sorted(self._types(old_branch[0]) or {"any"})
                now = sorted({t for b, _ in new_branches for t in (self._types(b) or {"any"})})
                problems.append(
                    f"{path or '(root)'}: type narrowed: {'/'.join(was)} no longer accepted "
                    f"(now {'/'.join(now) or 'nothing'})"
                )
                continue
            outcomes = [self._compare_branch(old_branch, b, path) for b in candidates]
            if all(outcomes):  # every candidate has problems: report the closest one
                closest: list[str] = min(outcomes, key=len)
                problems.extend(closest)
        return problems

    def _compare_branch(self, old_branch: _Branch, new_branch: _Branch, path: str) -> list[str]:
        (old, old_ref), (new, new_ref) = old_branch, new_branch
        if not isinstance(old, Mapping) or not isinstance(new, Mapping):
            return []  # true/false schemas are settled by _covers
        pair = (old_ref, new_ref) if old_ref and new_ref else None
        if pair in self._active:
            return []
        if pair:
            self._active.add(pair)
        try:
            problems = list(self._constraints(old, new, path or "(root)"))
            new_types = self._types(new) or frozenset()
            if "object" in new_types:
                problems += self._objects(old, new, path)
            if "array" in new_types:
                problems += self._arrays(old, new, path)
        finally:
            if pair:
                self._active.discard(pair)
        return problems

    @classmethod
    def _constraints(
        cls, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> Iterator[str]:
        yield from cls._values(old, new, path)
        yield from cls._bounds(old, new, path)

    @staticmethod
    def _values(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> Iterator[str]:
        old_values: list[Any] | None = None
        if "enum" in old:
            old_values = list(old["enum"])
        elif "const" in old:
            old_values = [old["const"]]
        if "enum" in new or "const" in new:
            allowed = list(new["enum"]) if "enum" in new else [new["const"]]
            if old_values is None:
                yield f"{path}: restricted to a fixed set of values"
            else:
                removed = [v for v in old_values if v not in allowed]
                if removed:
                    yield f"{path}: enum value(s) removed: {', '.join(map(str, removed))}"

    @staticmethod
    def _bounds(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> Iterator[str]:
        for keyword in ("pattern", "format", "multipleOf"):
            if keyword in new and new[keyword] != old.get(keyword):
                change = "added" if keyword not in old else "changed"
                yield f"{path}: {keyword} {change} ({new[keyword]!r})"
        lower_bounds = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
        for keyword in lower_bounds:
            if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
                yield f"{path}: {keyword} added or raised to {new[keyword]}"
        upper_bounds = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
        for keyword in upper_bounds:
            if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
                yield f"{path}: {keyword} added or lowered to {new[keyword]}"
        if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
            yield f"{path}: uniqueItems added"

    def _objects(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[str]:
        problems: list[str] = []
        prefix = f"{path}." if path else ""
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        added = sorted(set(new_props) - set(old_props))
        for name in sorted(set(old_props) - set(new_props)):
            hint = f" (renamed to {' or '.join(added)}?)" if added else ""
            problems.append(f"{prefix}{name}: property removed{hint}")
        for name in sorted(set(old_props) & set(new_props)):
            problems += self.compare(old_props[name], new_props[name], f"{prefix}{name}")
        required = sorted(set(new.get("required", ())) - set(old.get("required", ())))
        if required:
            problems.append(f"{path or '(root)'}: new required field(s): {', '.join(required)}")
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if new_extra is False and old_extra is not False:
            problems.append(f"{path or '(root)'}: additionalProperties closed")
        elif isinstance(new_extra, Mapping) and new_extra:
            problems += self.compare(
                old_extra if isinstance(old_extra, Mapping) else {}, new_extra, f"{prefix}*"
            )
        old_patterns: Mapping[str, Any] = old.get("patternProperties", {})
        for pattern, schema in new.get("patternProperties", {}).items():
            if pattern not in old_patterns:
                problems.append(f"{path or '(root)'}: property names restricted to {pattern!r}")
            else:
                problems += self.compare(old_patterns[pattern], schema, f"{prefix}<{pattern}>")
        if "propertyNames" in new:
            problems += self.compare(
                old.get("propertyNames", {}), new["propertyNames"], f"{prefix}<name>"
            )
        return problems

    def _arrays(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[str]:
        problems: list[str] = []
        old_prefix: Sequence[Any] = old.get("prefixItems", ())
        new_prefix: Sequence[Any] = new.get("prefixItems", ())
        for index, schema in enumerate(new_prefix):
            old_item = old_prefix[index] if index < len(old_prefix) else old.get("items", {})
            problems += self.compare(old_item, schema, f"{path}[{index}]")
        if "items" in new:
            problems += self.compare(old.get("items", {}), new["items"], f"{path}[]")
        return problems


def incompatibilities(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Why ``new`` is not a backward-compatible successor of ``old`` (empty when it is).

    Incompatible: a property removed or renamed; a type narrowed (a type dropped from a union,
    number to integer, an enum value removed, a pattern, format or bound added or tightened);
    a new required field; ``additionalProperties`` closed; the event type or topic changed.
    Compatible: new optional properties, new enum values, types or looser bounds.
    Nested objects, ``$defs``/``$ref``, arrays and ``anyOf`` are walked.

    Args:
        old: The committed (published) JSON Schema.
        new: The schema the models generate now.

    Returns:
        One line per problem, located by a dotted path of property names.
    """
    problems: list[str] = []
    for keyword in (TYPE_KEYWORD, TOPIC_KEYWORD):
        if keyword in old and old.get(keyword) != new.get(keyword):
            problems.append(f"(root): {keyword} changed from {old[keyword]!r}")
    return problems + _Comparison(old, new).compare(old, new, "")


def check_directory(directory: Path, *, base_url: str = DEFAULT_SCHEMA_BASE_URL) -> list[str]:
    """Every problem of the committed schemas in ``directory`` against the current models."""
    problems: list[str] = []
    generated = all_event_schemas(base_url=base_url)
    committed_files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    committed_types = {path.name.removesuffix(".json"): path for path in committed_files}
    for event_type, path in committed_types.items():
        try:
            committed = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno})")
            continue
        if event_type not in generated:
            problems.append(
                f"{path.name}: no model generates this schema any more; a published type is "
                "kept until every consumer has moved"
            )
            continue
        found = incompatibilities(committed, generated[event_type])
        problems += [f"{path.name}: {problem}" for problem in found]
    stale = [
        schema_file_name(event_type)
        for event_type, schema in sorted(generated.items())
        if event_type not in committed_types
        or committed_types[event_type].read_text(encoding="utf-8") != render_schema(schema)
    ]
    if stale:
        problems.append(
            f"out of date in {directory}: {', '.join(stale)}; "
            "run `uv run python -m zicht_schemas.export` and commit the result"
        )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m zicht_schemas.compat [--dir DIR]``; exit 1 on any problem."""
    parser = argparse.ArgumentParser(
        prog="python -m zicht_schemas.compat",
        description="Check committed event JSON Schemas against the models.",
    )
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_SCHEMA_DIR, help="committed schemas (schemas/json)"
    )
    parser.add_argument(
        "--base-url", default=DEFAULT_SCHEMA_BASE_URL, help="base of every schema's $id"
    )
    args = parser.parse_args(argv)
    problems = check_directory(args.dir, base_url=args.base_url)
    if problems:
        print(f"{len(problems)} schema problem(s):")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    count = len(all_event_schemas())
    print(f"{count} event and webhook schemas in {args.dir} are current and compatible")
    return 0


if __name__ == "__main__":
    sys.exit(main())
