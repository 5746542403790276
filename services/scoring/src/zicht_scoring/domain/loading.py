"""Reading a risk model from its YAML file, refusing a malformed one with file and line.

The file is composed into YAML nodes first, so every refusal names the line it is about
(``<origin>:<line>: <problem>``). Every key is checked: an unknown or repeated key is a typo
that would otherwise be silently ignored, and a model must state every value it uses.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import NoReturn, TypeVar

import yaml

from zicht_schemas import (
    Category,
    IndicatorCode,
    InvestigationDecision,
    Outcome,
    RiskLevel,
    Severity,
)
from zicht_scoring.domain.model import (
    MAX_POINTS,
    VERSION_PATTERN,
    Comparison,
    IndicatorRule,
    InvestigationRules,
    LevelBoundaries,
    OutcomeRule,
    RiskModel,
    SignalRules,
    Threshold,
    check_explanation,
    check_threshold_kind,
)

__all__ = ["DEFAULT_MODEL_RESOURCE", "ModelError", "default_model", "load_model", "load_model_file"]

DEFAULT_MODEL_RESOURCE = "models/2025.1.yaml"
"""The shipped default model, inside the ``zicht_scoring`` package."""

_E = TypeVar("_E", bound=Enum)


class ModelError(ValueError):
    """A risk model file is malformed; the message says where (``origin:line: problem``)."""

    def __init__(self, origin: str, line: int | None, problem: str) -> None:
        where = origin if line is None else f"{origin}:{line}"
        super().__init__(f"{where}: {problem}")
        self.origin = origin
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True)
class _Entry:
    """One key of a YAML mapping with its value, both with their positions."""

    key: yaml.ScalarNode
    value: yaml.Node


class _Reader:
    """Turns YAML nodes into values, failing with the line of the offending node."""

    def __init__(self, origin: str, loader: yaml.SafeLoader) -> None:
        self.origin = origin
        self.loader = loader

    def fail(self, node: yaml.Node, problem: str) -> NoReturn:
        raise ModelError(self.origin, node.start_mark.line + 1, problem)

    def mapping(
        self,
        node: yaml.Node,
        what: str,
        *,
        required: Iterable[str] = (),
        optional: Iterable[str] = (),
        closed: bool = True,
    ) -> dict[str, _Entry]:
        """The entries of a mapping; unknown, repeated and missing keys are refused."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping")
        required = tuple(required)
        allowed = set(required) | set(optional)
        entries: dict[str, _Entry] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
                self.fail(key, f"the keys of {what} must be names")
            if key.value in entries:
                self.fail(key, f"{what}: '{key.value}' is given twice")
            if closed and key.value not in allowed:
                expected = ", ".join(sorted(allowed))
                self.fail(key, f"{what}: unknown key '{key.value}' (expected {expected})")
            entries[key.value] = _Entry(key, value)
        for name in required:
            if name not in entries:
                self.fail(node, f"{what} lacks '{name}'")
        return entries

    def codes(self, entry: _Entry, what: str, enum: type[_E]) -> dict[_E, _Entry]:
        """A mapping keyed by every value of ``enum``; an unknown or missing code is refused."""
        entries = self.mapping(entry.value, what, closed=False)
        result: dict[_E, _Entry] = {}
        for name, item in entries.items():
            try:
                result[enum(name)] = item
            except ValueError:
                self.fail(item.key, f"{what}: unknown {_noun(enum)} '{name}'")
        for code in enum:
            if code not in result:
                self.fail(entry.key, f"{what}: {_noun(enum)} '{code.value}' is missing")
        return result

    def scalar(self, node: yaml.Node, what: str) -> object:
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"{what} must be a single value")
        try:
            return self.loader.construct_object(node)
        except yaml.YAMLError as exc:
            self.fail(node, f"{what}: {exc}")

    def number(
        self,
        node: yaml.Node,
        what: str,
        *,
        above: float | None = None,
        at_least: float | None = None,
        at_most: float | None = None,
    ) -> float:
        value = self.scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(node, f"{what} must be a number")
        if not math.isfinite(value):
            self.fail(node, f"{what} must be a finite number")
        if above is not None and not value > above:
            self.fail(node, f"{what} must be more than {above:g}")
        if at_least is not None and not value >= at_least:
            self.fail(node, f"{what} must be {at_least:g} or more")
        if at_most is not None and not value <= at_most:
            self.fail(node, f"{what} must be at most {at_most:g}")
        return float(value)

    def points(self, node: yaml.Node, what: str) -> float:
        return self.number(node, what, at_least=0, at_most=MAX_POINTS)

    def whole(self, node: yaml.Node, what: str, *, at_least: int) -> int:
        value = self.scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(node, f"{what} must be a whole number")
        if value < at_least:
            self.fail(node, f"{what} must be {at_least} or more")
        return value

    def text(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        if not isinstance(value, str):
            self.fail(node, f"{what} must be text (quote it)")
        return value

    def explanation(self, node: yaml.Node, what: str) -> str:
        value = self.text(node, what)
        self.checked(node, lambda: check_explanation(value), what)
        return value

    def checked(self, node: yaml.Node, check: Callable[[], object], what: str) -> None:
        """Run a value's own check, reporting its refusal at ``node``."""
        try:
            check()
        except ValueError as exc:
            self.fail(node, f"{what}: {exc}")


def _noun(enum: type[Enum]) -> str:
    nouns: dict[type[Enum], str] = {
        IndicatorCode: "indicator code",
        Outcome: "outcome",
        Severity: "severity",
        Category: "category",
        RiskLevel: "colour",
        InvestigationDecision: "decision",
    }
    return nouns.get(enum, "code")


def load_model(text: str, *, origin: str) -> RiskModel:
    """Read a risk model from YAML text.

    Args:
        text: The YAML document.
        origin: Where it comes from (a file name), for messages.

    Returns:
        The checked, compiled model.

    Raises:
        ModelError: the text is not a valid risk model; the message names the line.
    """
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            raise ModelError(origin, line, f"not valid YAML: {exc.problem or exc}") from exc
        except yaml.YAMLError as exc:
            position = getattr(exc, "position", 0)
            line = text.count("\n", 0, position) + 1
            raise ModelError(origin, line, f"not valid YAML: {exc}") from exc
        if root is None:
            raise ModelError(origin, 1, "the model is empty")
        return _read_model(_Reader(origin, loader), root)
    finally:
        loader.dispose()


def load_model_file(path: str | os.PathLike[str]) -> RiskModel:
    """Read a risk model from a YAML file (UTF-8).

    Raises:
        ModelError: the file cannot be read or is not a valid risk model.
    """
    origin = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(origin, None, f"cannot read the model file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ModelError(origin, None, "the model file is not UTF-8 text") from exc
    return load_model(text, origin=origin)


@cache
def default_model() -> RiskModel:
    """The model shipped with Zicht (2025.1), read once from the package's data."""
    resource = files("zicht_scoring").joinpath(DEFAULT_MODEL_RESOURCE)
    return load_model(resource.read_text(encoding="utf-8"), origin=f"zicht_scoring/{resource.name}")


_SECTIONS = (
    "version",
    "indicator_points",
    "indicators",
    "signals",
    "decay",
    "investigations",
    "levels",
)


def _read_model(reader: _Reader, root: yaml.Node) -> RiskModel:
    top = reader.mapping(root, "the model", required=_SECTIONS)
    version_node = top["version"].value
    if not isinstance(version_node, yaml.ScalarNode):
        reader.fail(version_node, "the version must be a single value")
    # The raw text, so an unquoted 2025.10 is not read as the number 2025.1.
    version = version_node.value
    if VERSION_PATTERN.fullmatch(version) is None:
        reader.fail(
            version_node, f"the version must look like YYYY.N (e.g. 2025.1), not {version!r}"
        )
    indicator_points = {
        colour: reader.points(entry.value, f"indicator points for {colour.value}")
        for colour, entry in reader.codes(
            top["indicator_points"], "indicator_points", RiskLevel
        ).items()
    }
    if not (
        indicator_points[RiskLevel.GREEN]
        <= indicator_points[RiskLevel.ORANGE]
        <= indicator_points[RiskLevel.RED]
    ):
        reader.fail(
            top["indicator_points"].key,
            "indicator points must not fall from green to orange to red",
        )
    decay = reader.mapping(top["decay"].value, "decay", required=("half_life_days",))
    half_life = reader.number(decay["half_life_days"].value, "the decay half-life (days)", above=0)
    indicators = _read_indicators(reader, top["indicators"])
    signals = _read_signals(reader, top["signals"])
    investigations = _read_investigations(reader, top["investigations"])
    levels = _read_levels(reader, top["levels"])
    try:
        return RiskModel(
            version=version,
            indicator_points=MappingProxyType(indicator_points),
            indicators=indicators,
            signals=signals,
            half_life_days=half_life,
            investigations=investigations,
            levels=levels,
        )
    except ValueError as exc:
        # Everything above was checked where it stands; this is the model's last word.
        reader.fail(root, str(exc))


def _read_indicators(reader: _Reader, section: _Entry) -> Mapping[IndicatorCode, IndicatorRule]:
    rules: dict[IndicatorCode, IndicatorRule] = {}
    for code, entry in reader.codes(section, "indicators", IndicatorCode).items():
        what = f"indicator {code.value}"
        colours = reader.mapping(entry.value, what, optional=("red", "orange"))
        if not colours:
            reader.fail(entry.key, f"{what} needs a red or an orange rule")
        thresholds = {
            name: _read_threshold(reader, code, colour, f"{what} {name}")
            for name, colour in colours.items()
        }
        try:
            rules[code] = IndicatorRule(
                code=code, red=thresholds.get("red"), orange=thresholds.get("orange")
            )
        except ValueError as exc:
            reader.fail((colours.get("red") or colours["orange"]).key, str(exc))
    return MappingProxyType(rules)


def _read_threshold(reader: _Reader, code: IndicatorCode, entry: _Entry, what: str) -> Threshold:
    tests = [test.value for test in Comparison]
    items = reader.mapping(entry.value, what, optional=(*tests, "explanation"))
    given = [name for name in tests if name in items]
    if len(given) != 1:
        reader.fail(entry.key, f"{what} needs exactly one of {', '.join(tests)}")
    test = Comparison(given[0])
    node = items[test.value].value
    value = reader.scalar(node, what)
    if not isinstance(value, bool | int | float):
        reader.fail(node, f"{what}: the threshold must be a number or true/false")
    if "explanation" not in items:
        reader.fail(entry.key, f"{what} lacks 'explanation'")
    explanation = reader.explanation(items["explanation"].value, f"{what} explanation")
    threshold = Threshold(test=test, value=value, explanation_en=explanation)
    reader.checked(node, lambda: check_threshold_kind(code, threshold), what)
    return threshold


def _read_signals(reader: _Reader, section: _Entry) -> SignalRules:
    items = reader.mapping(
        section.value, "signals", required=("window_months", "severity_factors", "outcomes")
    )
    window = reader.whole(items["window_months"].value, "the signal window (months)", at_least=1)
    factors = {
        severity: reader.points(entry.value, f"the severity factor for {severity.value}")
        for severity, entry in reader.codes(
            items["severity_factors"], "severity_factors", Severity
        ).items()
    }
    outcomes: dict[Outcome, OutcomeRule] = {}
    for outcome, entry in reader.codes(items["outcomes"], "outcomes", Outcome).items():
        what = f"outcome {outcome.value}"
        rule = reader.mapping(
            entry.value,
            what,
            required=("points", "explanation"),
            optional=("points_by_category",),
        )
        by_category: dict[Category, float] = {}
        if "points_by_category" in rule:
            listed = reader.mapping(
                rule["points_by_category"].value, f"{what} points_by_category", closed=False
            )
            for name, item in listed.items():
                try:
                    category = Category(name)
                except ValueError:
                    reader.fail(item.key, f"{what}: unknown category '{name}'")
                by_category[category] = reader.points(item.value, f"{what} points for {name}")
        outcomes[outcome] = OutcomeRule(
            points=reader.points(rule["points"].value, f"{what} points"),
            explanation_en=reader.explanation(rule["explanation"].value, f"{what} explanation"),
            points_by_category=MappingProxyType(by_category),
        )
    try:
        return SignalRules(
            outcomes=MappingProxyType(outcomes),
            severity_factors=MappingProxyType(factors),
            window_months=window,
        )
    except ValueError as exc:
        reader.fail(section.key, str(exc))


def _read_investigations(reader: _Reader, section: _Entry) -> InvestigationRules:
    decisions = reader.codes(section, "investigations", InvestigationDecision)
    plan = reader.mapping(
        decisions[InvestigationDecision.IMPROVEMENT_PLAN].value,
        "improvement_plan",
        required=("points", "explanation"),
    )
    dissolved = reader.mapping(
        decisions[InvestigationDecision.CONTRACT_DISSOLVED].value,
        "contract_dissolved",
        required=("hold_months", "explanation"),
    )
    no_findings = reader.mapping(
        decisions[InvestigationDecision.NO_FINDINGS].value, "no_findings", required=("explanation",)
    )
    return InvestigationRules(
        improvement_plan_points=reader.points(plan["points"].value, "improvement_plan points"),
        improvement_plan_explanation_en=reader.explanation(
            plan["explanation"].value, "improvement_plan explanation"
        ),
        hold_months=reader.whole(
            dissolved["hold_months"].value, "the contract_dissolved hold (months)", at_least=1
        ),
        contract_dissolved_explanation_en=reader.explanation(
            dissolved["explanation"].value, "contract_dissolved explanation"
        ),
        no_findings_explanation_en=reader.explanation(
            no_findings["explanation"].value, "no_findings explanation"
        ),
    )


def _read_levels(reader: _Reader, section: _Entry) -> LevelBoundaries:
    items = reader.mapping(
        section.value, "levels", required=("orange", "red", "hysteresis", "score_cap")
    )
    orange = reader.number(items["orange"].value, "the orange boundary", above=0)
    red = reader.number(items["red"].value, "the red boundary")
    if red <= orange:
        reader.fail(items["red"].value, "level boundaries must increase: red must be above orange")
    cap = reader.number(items["score_cap"].value, "the score cap", at_most=MAX_POINTS)
    if cap < red:
        reader.fail(items["score_cap"].value, "the score cap must be at least the red boundary")
    hysteresis = reader.number(items["hysteresis"].value, "hysteresis", at_least=0)
    try:
        return LevelBoundaries(orange=orange, red=red, hysteresis=hysteresis, score_cap=cap)
    except ValueError as exc:
        reader.fail(items["hysteresis"].value, str(exc))
