"""The assessment framework (afwegingskader) as data: its rules, loaded and checked from YAML.

A framework file holds the version, the vocabulary of codes it knows, the ordered outcome
rules, the strategy rules, the priority rules and the link rule, each with a Dutch and an
English reason. Loading compiles every condition once (see :mod:`.conditions`) and refuses a
malformed or contradictory file with a :class:`FrameworkError` naming the line. The shipped
default is ``zicht_triage/frameworks/2025.1.yaml`` (policy section 1).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Final, TypedDict, TypeVar

from yaml.nodes import MappingNode, Node

from zicht_schemas.codes import (
    AdviceTo,
    Outcome,
    Priority,
    Shortcoming,
    ShortcomingKind,
    Strategy,
)
from zicht_schemas.events.triage import RuleFired, RuleInputValue
from zicht_triage.domain.conditions import Condition, Env, Scope, compile_condition
from zicht_triage.domain.inputs import INPUTS, InputKind
from zicht_triage.domain.yamlnodes import Fields, FrameworkError, NodeReader, compose, line_of

__all__ = [
    "DEFAULT_FRAMEWORK_RESOURCE",
    "Framework",
    "FrameworkError",
    "LinkRule",
    "OutcomeRule",
    "PriorityRule",
    "Rule",
    "StrategyRule",
    "default_framework",
    "load_framework",
    "load_framework_file",
]

DEFAULT_FRAMEWORK_RESOURCE: Final = "frameworks/2025.1.yaml"
"""The shipped default framework, inside the ``zicht_triage`` package."""

_VERSION = re.compile(r"^[0-9]{4}\.[1-9][0-9]{0,5}$")
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TEXT_MAX: Final = 500  # RuleText's limit in the contracts
_LINK: Final = "link"
_RECORDS_PER_RULE: Final = 4096

_CodeT = TypeVar("_CodeT", Outcome, Strategy, Priority, AdviceTo)


class _RuleParts(TypedDict):
    """What every rule has, read by :meth:`_Loader._common`."""

    rule_id: str
    line: int
    condition: Condition
    explain: tuple[str, ...]
    text_nl: str
    text_en: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A rule of the framework: when it holds, and its reason in Dutch and English."""

    rule_id: str
    line: int
    """Where the rule starts in the framework file."""
    condition: Condition
    explain: tuple[str, ...] = ()
    """Inputs reported whenever the rule fires, beside those its condition named."""
    text_nl: str
    text_en: str
    _records: Callable[[tuple[str, ...], tuple[RuleInputValue, ...]], RuleFired] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Building a RuleFired costs a few microseconds, most of an assessment; the inputs a
        # rule reports take few distinct values, so each rule keeps the records it made.
        object.__setattr__(self, "_records", lru_cache(maxsize=_RECORDS_PER_RULE)(self._record))

    def fired(self, env: Env, names: tuple[str, ...]) -> RuleFired:
        """The record that this rule fired, with the inputs that made it fire.

        Records are shared between decisions with the same inputs: treat them as read-only.

        Args:
            env: The inputs of the assessment.
            names: The inputs the condition reported (may repeat; the first counts).

        Returns:
            The rule's id, texts and inputs.
        """
        names = tuple(dict.fromkeys(names + self.explain))
        return self._records(names, tuple([env[name] for name in names]))

    def _record(self, names: tuple[str, ...], values: tuple[RuleInputValue, ...]) -> RuleFired:
        return RuleFired(
            rule_id=self.rule_id,
            text_nl=self.text_nl,
            text_en=self.text_en,
            inputs=dict(zip(names, values, strict=True)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OutcomeRule(Rule):
    """An outcome rule (R1..R10): the first that holds decides the outcome."""

    outcome: Outcome
    advice: AdviceTo | None = None
    advice_condition: Condition | None = None
    """When the advice is given; None: whenever the rule fires."""
    links_open_investigation: bool = False
    """With an open investigation, the decision links it (rules 4, 5 and investigate)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyRule(Rule):
    """A strategy rule: the first that holds decides how an investigation is done."""

    strategy: Strategy


@dataclass(frozen=True, slots=True, kw_only=True)
class PriorityRule(Rule):
    """A priority rule: the first that holds decides the priority."""

    priority: Priority


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkRule(Rule):
    """The rule that fires when a decision links the provider's open investigation."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Framework:
    """A loaded, checked and compiled assessment framework; immutable and shareable.

    Two loads of one file are different objects: the version and the digest identify it.
    """

    version: str
    """E.g. ``2025.1``; every decision records it."""
    origin: str
    """Where the file came from (a path or the package resource)."""
    digest: str
    """SHA-256 of the file's text, to tell two files claiming one version apart."""
    description: str | None = None
    vocabulary: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    """The codes the framework knows, per input; a signal with another cannot be assessed."""
    shortcoming_kinds: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Each known shortcoming's kind (quick or complex)."""
    outcome_rules: tuple[OutcomeRule, ...]
    strategy_rules: tuple[StrategyRule, ...] = ()
    priority_rules: tuple[PriorityRule, ...]
    link_rule: LinkRule | None = None

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule: outcome, strategy and priority rules in order, then the link rule."""
        link = (self.link_rule,) if self.link_rule is not None else ()
        return (*self.outcome_rules, *self.strategy_rules, *self.priority_rules, *link)

    def rule(self, rule_id: str) -> Rule:
        """The rule with ``rule_id``; ``KeyError`` when the framework has none."""
        for candidate in self.rules:
            if candidate.rule_id == rule_id:
                return candidate
        raise KeyError(rule_id)


def load_framework(text: str, *, origin: str) -> Framework:
    """Load, check and compile a framework file's text.

    Args:
        text: The YAML text.
        origin: Where it came from (a path), for messages and :attr:`Framework.origin`.

    Returns:
        The compiled framework.

    Raises:
        FrameworkError: When the file is malformed or contradicts itself; the message is
            ``"<origin>:<line>: <problem>"``.
    """
    return _Loader(NodeReader(origin)).load(compose(text, origin), text)


def load_framework_file(path: Path) -> Framework:
    """Load a framework file; an unreadable file is refused like a malformed one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FrameworkError(str(path), None, f"cannot be read: {exc}") from exc
    return load_framework(text, origin=str(path))


@cache
def default_framework() -> Framework:
    """The shipped default framework, 2025.1 (loaded once; a Framework is immutable)."""
    resource = resources.files("zicht_triage").joinpath(DEFAULT_FRAMEWORK_RESOURCE)
    return load_framework(
        resource.read_text(encoding="utf-8"), origin=f"zicht_triage/{DEFAULT_FRAMEWORK_RESOURCE}"
    )


@dataclass
class _Loader:
    """One load of one file: the rule ids seen so far, across every section."""

    reader: NodeReader
    rule_ids: dict[str, int] = field(default_factory=dict)

    def load(self, root: Node, text: str) -> Framework:
        top = self.reader.mapping(
            root,
            "the framework",
            required=("version", "vocabulary", "outcome_rules", "priority_rules"),
            optional=("description", "strategy_rules", "link_rule"),
        )
        version = self.reader.token(top["version"], "version")
        if not _VERSION.fullmatch(version):
            raise self.reader.error(
                top["version"], f"version {version!r} is not YYYY.N (e.g. 2025.1)"
            )
        description = (
            self.reader.text(top["description"], "description", max_length=2000)
            if "description" in top
            else None
        )
        vocabulary, kinds = self._vocabulary(top["vocabulary"], top.key_lines["vocabulary"])
        everything = frozenset(INPUTS)
        outcome_scope = Scope(
            vocabulary, frozenset(name for name, spec in INPUTS.items() if spec.outcome_rules)
        )
        scope = Scope(vocabulary, everything)
        outcome_rules = tuple(
            self._outcome_rule(node, outcome_scope)
            for node in self._section(top["outcome_rules"], "outcome_rules", "an outcome")
        )
        strategy_rules = (
            tuple(
                self._strategy_rule(node, scope)
                for node in self._section(top["strategy_rules"], "strategy_rules", "a strategy")
            )
            if "strategy_rules" in top
            else ()
        )
        priority_rules = tuple(
            self._priority_rule(node, scope)
            for node in self._section(top["priority_rules"], "priority_rules", "a priority")
        )
        link_rule = self._link_rule(top["link_rule"]) if "link_rule" in top else None
        self._check_together(outcome_rules, strategy_rules, link_rule)
        return Framework(
            version=version,
            origin=self.reader.origin,
            digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            description=description,
            vocabulary=vocabulary,
            shortcoming_kinds=kinds,
            outcome_rules=outcome_rules,
            strategy_rules=strategy_rules,
            priority_rules=priority_rules,
            link_rule=link_rule,
        )

    # --- vocabulary -------------------------------------------------------------------------

    def _vocabulary(
        self, node: Node, line: int
    ) -> tuple[Mapping[str, frozenset[str]], Mapping[str, str]]:
        names = tuple(name for name, spec in INPUTS.items() if spec.in_vocabulary)
        values = self.reader.mapping(node, "vocabulary", required=names, line=line)
        vocabulary: dict[str, frozenset[str]] = {}
        kinds: dict[str, str] = {}
        for name in names:
            if INPUTS[name].kind is InputKind.SHORTCOMINGS:
                kinds = self._shortcomings(values[name])
                vocabulary[name] = frozenset(kinds)
            else:
                vocabulary[name] = self._codes(values[name], name)
        vocabulary["outcome"] = frozenset(Outcome)
        return MappingProxyType(vocabulary), MappingProxyType(kinds)

    def _codes(self, node: Node, name: str) -> frozenset[str]:
        codes = INPUTS[name].codes
        contract = frozenset[str]() if codes is None else frozenset(codes)
        seen: set[str] = set()
        for item in self.reader.sequence(node, f"vocabulary {name}"):
            code = self.reader.token(item, f"a {name} in the vocabulary")
            if code not in contract:
                raise self.reader.error(
                    item, f"vocabulary {name}: {code!r} is not a {name} code ({_list(contract)})"
                )
            if code in seen:
                raise self.reader.error(item, f"vocabulary {name}: {code!r} is listed twice")
            seen.add(code)
        return frozenset(seen)

    def _shortcomings(self, node: Node) -> dict[str, str]:
        groups = self.reader.mapping(
            node, "vocabulary shortcomings", optional=tuple(ShortcomingKind)
        )
        kinds: dict[str, str] = {}
        for kind, group in groups.items():
            for item in self.reader.sequence(group, f"vocabulary shortcomings {kind}"):
                code = self.reader.token(item, f"a {kind} shortcoming")
                if code not in frozenset(Shortcoming):
                    raise self.reader.error(
                        item,
                        f"{code!r} is not a shortcoming code ({_list(frozenset(Shortcoming))})",
                    )
                if code in kinds:
                    raise self.reader.error(item, f"shortcoming {code!r} is listed twice")
                fixed = Shortcoming(code).kind.value
                if fixed != kind:
                    raise self.reader.error(
                        item, f"shortcoming {code!r} is {fixed} in the contracts, not {kind}"
                    )
                kinds[code] = kind
        return kinds

    # --- rules ------------------------------------------------------------------------------

    def _section(self, node: Node, name: str, gives: str) -> list[Node]:
        """The rules of a section; refuses unreachable rules and a missing fallback."""
        items = self.reader.sequence(node, name)
        for earlier, item in itertools.pairwise(items):
            if _is_always(earlier):
                raise self.reader.error(
                    item,
                    f"{name}: this rule can never fire: the rule before it "
                    f"(line {line_of(earlier)}) holds always",
                )
        if not _is_always(items[-1]):
            raise self.reader.error(
                items[-1],
                f"{name}: the last rule must hold 'always' (when: always), so that every "
                f"signal gets {gives}",
            )
        return items

    def _common(
        self, node: Node, scope: Scope, section: str, key: str, extra: tuple[str, ...] = ()
    ) -> tuple[Fields, _RuleParts]:
        what = f"a rule in {section}"
        values = self.reader.mapping(
            node, what, required=("id", "when", key, "text"), optional=("explain", *extra)
        )
        rule_id = self.reader.token(values["id"], f"the id of {what}")
        if not _RULE_ID.fullmatch(rule_id):
            raise self.reader.error(values["id"], f"rule id {rule_id!r} is not a valid id")
        if rule_id in self.rule_ids:
            raise self.reader.error(
                values["id"],
                f"rule id {rule_id!r} is used twice (first on line {self.rule_ids[rule_id]})",
            )
        self.rule_ids[rule_id] = line_of(values["id"])
        what = f"rule {rule_id}"
        condition = compile_condition(values["when"], self.reader, scope, what)
        text_nl, text_en = self._texts(values["text"], what, values.key_lines["text"])
        explain = self._explain(values["explain"], scope, what) if "explain" in values else ()
        return values, _RuleParts(
            rule_id=rule_id,
            line=line_of(node),
            condition=condition,
            explain=explain,
            text_nl=text_nl,
            text_en=text_en,
        )

    def _texts(self, node: Node, what: str, line: int) -> tuple[str, str]:
        if not isinstance(node, MappingNode):
            raise self.reader.error(line, f"the text of {what} must be a mapping with nl and en")
        values = self.reader.mapping(node, f"the text of {what}", optional=("nl", "en"))
        for language in ("nl", "en"):
            if language not in values:
                raise self.reader.error(line, f"{what} has no {language!r} text")
        return (
            self.reader.text(values["nl"], f"the nl text of {what}", max_length=_TEXT_MAX),
            self.reader.text(values["en"], f"the en text of {what}", max_length=_TEXT_MAX),
        )

    def _explain(self, node: Node, scope: Scope, what: str) -> tuple[str, ...]:
        names: list[str] = []
        for item in self.reader.sequence(node, f"explain of {what}"):
            name = self.reader.token(item, f"an input in explain of {what}")
            if name not in scope.allowed:
                raise self.reader.error(item, f"{what}: explain names an unknown input {name!r}")
            if name in names:
                raise self.reader.error(item, f"{what}: explain names {name!r} twice")
            names.append(name)
        return tuple(names)

    def _code(self, node: Node, codes: type[_CodeT], what: str) -> _CodeT:
        value = self.reader.token(node, what)
        try:
            return codes(value)
        except ValueError:
            allowed = _list(frozenset(codes))
            raise self.reader.error(node, f"{what}: {value!r} is not a code ({allowed})") from None

    def _outcome_rule(self, node: Node, scope: Scope) -> OutcomeRule:
        values, common = self._common(
            node, scope, "outcome_rules", "outcome", ("advice", "open_investigation")
        )
        what = f"rule {common['rule_id']}"
        outcome = self._code(values["outcome"], Outcome, f"the outcome of {what}")
        advice, advice_condition = (
            self._advice(values["advice"], scope, what, values.key_lines["advice"])
            if "advice" in values
            else (None, None)
        )
        links = False
        if "open_investigation" in values:
            behaviour = self.reader.token(
                values["open_investigation"], f"open_investigation of {what}"
            )
            if behaviour != _LINK:
                raise self.reader.error(
                    values["open_investigation"],
                    f"{what}: open_investigation can only be 'link', got {behaviour!r}",
                )
            if outcome is Outcome.BUNDLE:
                raise self.reader.error(
                    values["open_investigation"],
                    f"{what}: a bundle outcome is bundled with the open investigation, not linked",
                )
            links = True
        condition = common["condition"]
        if outcome is Outcome.INVESTIGATE and not links:
            raise self.reader.error(
                values["outcome"],
                f"{what}: an investigate outcome must say 'open_investigation: link': a provider "
                "has one open investigation at most, so a signal that finds one open links it",
            )
        if outcome is Outcome.BUNDLE and "open_investigation" not in condition.requires_true:
            raise self.reader.error(
                values.key_lines["when"],
                f"{what}: a bundle outcome needs a condition that requires "
                "{input: open_investigation, is: true}",
            )
        return OutcomeRule(
            **common,
            outcome=outcome,
            advice=advice,
            advice_condition=advice_condition,
            links_open_investigation=links,
        )

    def _advice(
        self, node: Node, scope: Scope, what: str, line: int
    ) -> tuple[AdviceTo, Condition | None]:
        if not isinstance(node, MappingNode):
            return self._code(node, AdviceTo, f"the advice of {what}"), None
        values = self.reader.mapping(
            node, f"the advice of {what}", required=("to", "when"), line=line
        )
        advice = self._code(values["to"], AdviceTo, f"the advice of {what}")
        condition = compile_condition(values["when"], self.reader, scope, f"the advice of {what}")
        return advice, None if condition.always else condition

    def _strategy_rule(self, node: Node, scope: Scope) -> StrategyRule:
        values, common = self._common(node, scope, "strategy_rules", "strategy")
        strategy = self._code(
            values["strategy"], Strategy, f"the strategy of rule {common['rule_id']}"
        )
        return StrategyRule(**common, strategy=strategy)

    def _priority_rule(self, node: Node, scope: Scope) -> PriorityRule:
        values, common = self._common(node, scope, "priority_rules", "priority")
        priority = self._code(
            values["priority"], Priority, f"the priority of rule {common['rule_id']}"
        )
        return PriorityRule(**common, priority=priority)

    def _link_rule(self, node: Node) -> LinkRule:
        values = self.reader.mapping(node, "link_rule", required=("id", "text"))
        rule_id = self.reader.token(values["id"], "the id of link_rule")
        if rule_id in self.rule_ids:
            raise self.reader.error(
                values["id"],
                f"rule id {rule_id!r} is used twice (first on line {self.rule_ids[rule_id]})",
            )
        self.rule_ids[rule_id] = line_of(values["id"])
        text_nl, text_en = self._texts(values["text"], f"rule {rule_id}", values.key_lines["text"])
        return LinkRule(
            rule_id=rule_id,
            line=line_of(node),
            condition=Condition(None, (), frozenset()),
            explain=("open_investigation",),
            text_nl=text_nl,
            text_en=text_en,
        )

    def _check_together(
        self,
        outcome_rules: tuple[OutcomeRule, ...],
        strategy_rules: tuple[StrategyRule, ...],
        link_rule: LinkRule | None,
    ) -> None:
        for rule in outcome_rules:
            if rule.outcome is Outcome.INVESTIGATE and not strategy_rules:
                raise FrameworkError(
                    self.reader.origin,
                    rule.line,
                    f"rule {rule.rule_id} decides investigate, but the framework has no "
                    "strategy_rules to choose a strategy",
                )
            if rule.links_open_investigation and link_rule is None:
                raise FrameworkError(
                    self.reader.origin,
                    rule.line,
                    f"rule {rule.rule_id} links an open investigation, but the framework has "
                    "no link_rule to explain the link",
                )


def _is_always(node: Node) -> bool:
    """Whether a rule's ``when`` is ``always`` (read before the rule itself is checked)."""
    if not isinstance(node, MappingNode):
        return False
    for key, value in node.value:
        if key.value == "when":
            return bool(value.value == "always")
    return False


def _list(codes: frozenset[str]) -> str:
    return ", ".join(sorted(codes))
