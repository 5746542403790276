"""Reading a framework file as YAML nodes, so every refusal names the line at fault."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["Fields", "FrameworkError", "NodeReader", "compose", "line_of"]

_STR: Final = "tag:yaml.org,2002:str"
_BOOL: Final = "tag:yaml.org,2002:bool"
_INT: Final = "tag:yaml.org,2002:int"
_NULL: Final = "tag:yaml.org,2002:null"
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FrameworkError(ValueError):
    """A framework file that is malformed or contradicts itself; the message names the line."""

    def __init__(self, origin: str, line: int | None, problem: str) -> None:
        self.origin = origin
        self.line = line
        self.problem = problem
        where = f"{origin}:{line}" if line is not None else origin
        super().__init__(f"{where}: {problem}")


class Fields(dict[str, Node]):
    """A mapping's value nodes by key, with the line of each key.

    A problem with a block value (a list or mapping under its key) is reported on the key's
    line, where a reader looks for it, rather than on the value's first line below.
    """

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[str, int] = {}


def compose(text: str, origin: str) -> Node:
    """The node tree of ``text`` (one YAML document); a syntax error names its line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise FrameworkError(origin, line, f"not valid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise FrameworkError(origin, None, f"not valid YAML: {exc}") from exc
    if node is None:
        raise FrameworkError(origin, 1, "the file is empty")
    return node


def line_of(node: Node) -> int:
    """The 1-based line where ``node`` starts."""
    return int(node.start_mark.line) + 1


@dataclass(frozen=True, slots=True)
class NodeReader:
    """Typed access to YAML nodes that refuses anything unexpected, naming origin and line."""

    origin: str

    def error(self, at: Node | int, problem: str) -> FrameworkError:
        """A refusal at a node's line, or at a line number."""
        return FrameworkError(self.origin, at if isinstance(at, int) else line_of(at), problem)

    def mapping(
        self,
        node: Node,
        what: str,
        *,
        required: Collection[str] = (),
        optional: Collection[str] = (),
        open_keys: bool = False,
        line: int | None = None,
    ) -> Fields:
        """The values of a mapping by key; refuses repeated, unknown and missing keys.

        Args:
            node: The node to read.
            what: What the mapping is, for messages (e.g. ``rule R4``).
            required: Keys that must be present.
            optional: Keys that may be present.
            open_keys: Accept any key (the caller checks them).
            line: The line to name when a key is missing (the parent key's); default: the
                mapping's first line.

        Returns:
            Each key's value node, in file order.

        Raises:
            FrameworkError: When the node is not a mapping or its keys are not as expected.
        """
        if not isinstance(node, MappingNode):
            raise self.error(node, f"{what} must be a mapping (key: value)")
        values = Fields()
        for key_node, value_node in node.value:
            key = self.token(key_node, f"a key of {what}")
            if key in values:
                raise self.error(key_node, f"{what} has the key {key!r} twice")
            if not open_keys and key not in required and key not in optional:
                expected = ", ".join([*required, *optional])
                raise self.error(
                    key_node, f"{what} has an unknown key {key!r}; expected {expected}"
                )
            values[key] = value_node
            values.key_lines[key] = line_of(key_node)
        for key in required:
            if key not in values:
                raise FrameworkError(
                    self.origin,
                    line if line is not None else line_of(node),
                    f"{what} misses {key!r}",
                )
        return values

    def sequence(self, node: Node, what: str, *, non_empty: bool = True) -> list[Node]:
        """The items of a list."""
        if not isinstance(node, SequenceNode):
            raise self.error(node, f"{what} must be a list")
        if non_empty and not node.value:
            raise self.error(node, f"{what} must not be empty")
        return list(node.value)

    def scalar(self, node: Node, what: str) -> ScalarNode:
        """A single value (not a list, not a mapping)."""
        if not isinstance(node, ScalarNode):
            raise self.error(node, f"{what} must be a single value")
        if node.tag == _NULL:
            raise self.error(node, f"{what} must not be empty")
        return node

    def token(self, node: Node, what: str) -> str:
        """A code, id or key as written (``yes`` stays the text ``yes``, not a flag)."""
        value = str(self.scalar(node, what).value)
        if not _TOKEN.fullmatch(value):
            raise self.error(
                node, f"{what} must be a code (letters, digits, '.', '_', '-'), got {value!r}"
            )
        return value

    def text(self, node: Node, what: str, *, max_length: int) -> str:
        """A one-line text; folded blocks (``>``) are joined, outer spaces dropped."""
        scalar = self.scalar(node, what)
        if scalar.tag != _STR:
            raise self.error(node, f"{what} must be text")
        value = str(scalar.value).strip()
        if not value:
            raise self.error(node, f"{what} must not be empty")
        if _CONTROL.search(value):
            raise self.error(
                node, f"{what} must be one line (no line breaks or control characters)"
            )
        if len(value) > max_length:
            raise self.error(node, f"{what} is longer than {max_length} characters")
        return value

    def flag(self, node: Node, what: str) -> bool:
        """``true`` or ``false``."""
        scalar = self.scalar(node, what)
        if scalar.tag != _BOOL:
            raise self.error(node, f"{what} must be true or false, got {scalar.value!r}")
        return bool(yaml.constructor.SafeConstructor().construct_yaml_bool(scalar))

    def count(self, node: Node, what: str) -> int:
        """A whole number of zero or more."""
        scalar = self.scalar(node, what)
        if scalar.tag != _INT:
            raise self.error(node, f"{what} must be a whole number, got {scalar.value!r}")
        value = int(yaml.constructor.SafeConstructor().construct_yaml_int(scalar))
        if value < 0:
            raise self.error(node, f"{what} must be zero or more")
        return value
