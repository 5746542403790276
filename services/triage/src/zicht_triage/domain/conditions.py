"""The condition language of a framework file, compiled once into plain predicates.

A condition is ``always``, ``{all: [...]}``, ``{any: [...]}``, ``{not: ...}`` or a test of one
named input: ``{input: NAME, OPERATOR: VALUE}``. There is no expression syntax and nothing is
evaluated as Python: each form becomes a closure when the file is loaded, so assessing a signal
walks no YAML and no dictionaries of rules.

A compiled test answers, for the inputs of one signal, either None (the condition does not
hold) or the names of the inputs that made it hold, in the order the file names them: every
part of an ``all``, every part of an ``any`` that held, and for ``not`` the inputs it looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from yaml.nodes import MappingNode, Node, ScalarNode

from zicht_schemas.codes import ShortcomingKind
from zicht_triage.domain.inputs import INPUTS, InputKind, InputSpec
from zicht_triage.domain.yamlnodes import NodeReader

__all__ = ["OPERATORS", "Condition", "Env", "Scope", "Test", "compile_condition"]

Env = Mapping[str, Any]
"""The inputs of one assessment by name: codes as text, lists as sorted tuples of text."""

Test = Callable[[Env], tuple[str, ...] | None]
"""A compiled condition: the names of the inputs that made it hold, or None."""

ALWAYS: Final = "always"

OPERATORS: Mapping[InputKind, tuple[str, ...]] = {
    InputKind.CODE: ("is", "is_not", "in", "not_in"),
    InputKind.CODES: ("is_empty", "contains_any"),
    InputKind.SHORTCOMINGS: ("is_empty", "contains_any", "all_kind", "any_kind"),
    InputKind.FLAG: ("is",),
    InputKind.COUNT: ("is", "at_least", "at_most"),
}
"""The operators each kind of input accepts."""

_FORMS: Final = (
    "a condition is 'always', {all: [...]}, {any: [...]}, {not: ...} "
    "or {input: NAME, OPERATOR: VALUE}"
)


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition with what the loader needs to know about it."""

    test: Test | None
    """None for ``always``."""
    inputs: tuple[str, ...]
    """Every input the condition looks at, in file order, without repeats."""
    requires_true: frozenset[str]
    """Flags that must be true for the condition to hold (e.g. ``open_investigation``)."""

    @property
    def always(self) -> bool:
        """Whether the condition holds for every signal."""
        return self.test is None


@dataclass(frozen=True, slots=True)
class Scope:
    """What a condition may refer to: the inputs allowed where it stands and their values."""

    vocabulary: Mapping[str, frozenset[str]]
    """The values each code or list input may take in this framework."""
    allowed: frozenset[str]
    """The inputs a condition may look at here."""


def compile_condition(node: Node, reader: NodeReader, scope: Scope, what: str) -> Condition:
    """Compile the condition at ``node`` (a rule's ``when``), or refuse it naming its line.

    Args:
        node: The condition's YAML node.
        reader: Reads nodes and raises errors with the file's origin.
        scope: The inputs and values the condition may use.
        what: Where the condition stands, for messages (e.g. ``rule R4``).

    Returns:
        The compiled condition.

    Raises:
        FrameworkError: When the condition is malformed or names an unknown input or value.
    """
    if isinstance(node, ScalarNode) and node.value == ALWAYS:
        return Condition(None, (), frozenset())
    return _compile(node, reader, scope, what)


def _compile(node: Node, reader: NodeReader, scope: Scope, what: str) -> Condition:
    if not isinstance(node, MappingNode):
        if isinstance(node, ScalarNode) and node.value == ALWAYS:
            raise reader.error(node, f"{what}: 'always' stands alone, not inside all/any/not")
        raise reader.error(node, f"{what}: {_FORMS}")
    values = reader.mapping(node, f"the condition of {what}", open_keys=True)
    if "input" in values:
        return _leaf(node, values, reader, scope, what)
    if len(values) != 1 or next(iter(values)) not in ("all", "any", "not"):
        raise reader.error(node, f"{what}: {_FORMS}")
    form, inner = next(iter(values.items()))
    if form == "not":
        return _not(_compile(inner, reader, scope, what))
    parts = tuple(
        _compile(part, reader, scope, what)
        for part in reader.sequence(inner, f"'{form}' in {what}")
    )
    return _all(parts) if form == "all" else _any(parts)


def _names(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for group in groups for name in group))


def _all(parts: tuple[Condition, ...]) -> Condition:
    tests = tuple(part.test for part in parts if part.test is not None)

    def test(env: Env) -> tuple[str, ...] | None:
        found: tuple[str, ...] = ()
        for part in tests:
            names = part(env)
            if names is None:
                return None
            found += names
        return found

    requires = frozenset[str]().union(*(part.requires_true for part in parts))
    return Condition(test, _names(*(part.inputs for part in parts)), requires)


def _any(parts: tuple[Condition, ...]) -> Condition:
    tests = tuple(part.test for part in parts if part.test is not None)

    def test(env: Env) -> tuple[str, ...] | None:
        found: tuple[str, ...] | None = None
        for part in tests:
            names = part(env)
            if names is not None:
                found = names if found is None else found + names
        return found

    requires = frozenset.intersection(*(part.requires_true for part in parts))
    return Condition(test, _names(*(part.inputs for part in parts)), requires)


def _not(inner: Condition) -> Condition:
    inner_test = inner.test
    names = inner.inputs
    if inner_test is None:
        raise AssertionError("'always' is refused inside not")  # _compile refuses it first

    def test(env: Env) -> tuple[str, ...] | None:
        return names if inner_test(env) is None else None

    return Condition(test, names, frozenset())


def _leaf(
    node: Node, values: Mapping[str, Node], reader: NodeReader, scope: Scope, what: str
) -> Condition:
    name = reader.token(values["input"], f"the input of {what}")
    spec = INPUTS.get(name)
    if spec is None:
        known = ", ".join(INPUTS)
        raise reader.error(values["input"], f"{what}: unknown input {name!r}; known: {known}")
    if name not in scope.allowed:
        raise reader.error(values["input"], f"{what}: input {name!r} cannot be used here")
    operators = [key for key in values if key != "input"]
    allowed = OPERATORS[spec.kind]
    if len(operators) != 1:
        raise reader.error(
            node, f"{what}: a test of {name!r} takes exactly one of: {', '.join(allowed)}"
        )
    operator = operators[0]
    if operator not in allowed:
        raise reader.error(
            node,
            f"{what}: {name!r} ({spec.kind.value}) cannot use {operator!r}; "
            f"use one of: {', '.join(allowed)}",
        )
    test, requires = _operation(
        spec, operator, values[operator], reader=reader, scope=scope, what=what
    )
    return Condition(test, (name,), requires)


def _operation(  # noqa: PLR0911 - one return per operator reads best
    spec: InputSpec,
    operator: str,
    operand: Node,
    *,
    reader: NodeReader,
    scope: Scope,
    what: str,
) -> tuple[Test, frozenset[str]]:
    name = spec.name
    label = f"{what}: {name} {operator}"
    names = (name,)
    if spec.kind is InputKind.FLAG:
        flag = reader.flag(operand, label)
        return _equals(name, flag), frozenset(names) if flag else frozenset()
    if spec.kind is InputKind.COUNT:
        number = reader.count(operand, label)
        if operator == "at_least":
            return (lambda env: names if env[name] >= number else None), frozenset()
        if operator == "at_most":
            return (lambda env: names if env[name] <= number else None), frozenset()
        return _equals(name, number), frozenset()
    if operator in ("is", "is_not"):
        code = _code(operand, reader, scope, spec, label)
        if operator == "is":
            return _equals(name, code), frozenset()
        return (lambda env: names if env[name] != code else None), frozenset()
    if operator in ("in", "not_in", "contains_any"):
        codes = _codes(operand, reader, scope, spec, label)
        if operator == "in":
            return (lambda env: names if env[name] in codes else None), frozenset()
        if operator == "not_in":
            return (lambda env: names if env[name] not in codes else None), frozenset()
        return (lambda env: None if codes.isdisjoint(env[name]) else names), frozenset()
    if operator == "is_empty":
        empty = reader.flag(operand, label)
        return (lambda env: names if (not env[name]) is empty else None), frozenset()
    kind = reader.token(operand, label)
    if kind not in ShortcomingKind.__members__.values():
        kinds = ", ".join(ShortcomingKind)
        raise reader.error(operand, f"{label}: {kind!r} is not a shortcoming kind ({kinds})")
    # The env holds the shortcomings' kinds beside their codes (see the engine).
    kinds_key = f"{name}.kinds"
    if operator == "all_kind":
        return (lambda env: names if all(k == kind for k in env[kinds_key]) else None), frozenset()
    return (lambda env: names if kind in env[kinds_key] else None), frozenset()


def _equals(name: str, expected: object) -> Test:
    names = (name,)
    return lambda env: names if env[name] == expected else None


def _code(operand: Node, reader: NodeReader, scope: Scope, spec: InputSpec, label: str) -> str:
    code = reader.token(operand, label)
    known = scope.vocabulary[spec.name]
    if code not in known:
        raise reader.error(
            operand, f"{label}: {code!r} is not a {spec.name} this framework knows ({_list(known)})"
        )
    return code


def _codes(
    operand: Node, reader: NodeReader, scope: Scope, spec: InputSpec, label: str
) -> frozenset[str]:
    items = reader.sequence(operand, label)
    codes = [_code(item, reader, scope, spec, label) for item in items]
    for item, code in zip(items, codes, strict=True):
        if codes.count(code) > 1:
            raise reader.error(item, f"{label}: {code!r} is listed twice")
    return frozenset(codes)


def _list(codes: frozenset[str]) -> str:
    return ", ".join(sorted(codes))
