"""The provider risk model (barrier model, policy section 2) as a value, checked and compiled.

The model is data: :mod:`zicht_scoring.domain.loading` reads it from a versioned YAML file.
Construction checks every rule the loader checks that does not need a file position, and
precomputes the tables the scorer reads on its hot path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType

from zicht_schemas import (
    Category,
    Contribution,
    ContributionKind,
    IndicatorCode,
    IndicatorValueKind,
    Outcome,
    RiskLevel,
    Severity,
)

__all__ = [
    "AT_LEAST",
    "BELOW",
    "IS",
    "MAX_EXPLANATION",
    "MAX_POINTS",
    "VERSION_PATTERN",
    "Comparison",
    "IndicatorRule",
    "IndicatorTable",
    "InvestigationRules",
    "LevelBoundaries",
    "OutcomeRule",
    "RiskModel",
    "SignalRules",
    "Threshold",
    "check_explanation",
    "check_points",
    "check_threshold_kind",
]

MAX_POINTS = 100.0
"""The most one contribution can show on the wire (``Points``) and the highest score."""

VERSION_PATTERN = re.compile(r"[0-9]{4}\.[1-9][0-9]*")
"""A model version: the year and a sequence number, ``YYYY.N`` (e.g. ``2025.1``)."""

MAX_EXPLANATION = 200
"""The longest explanation line; the scorer appends a little to a signal's (wire limit 500)."""

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class Comparison(StrEnum):
    """How a threshold compares an indicator's value (the keys of the YAML file)."""

    BELOW = "below"
    """The value is below the threshold (a ratio or count)."""
    AT_LEAST = "at_least"
    """The value is the threshold or more (a ratio or count)."""
    IS = "is"
    """The value is exactly this yes/no answer (a flag)."""


@dataclass(frozen=True, slots=True)
class Threshold:
    """One colour's condition on an indicator's value, with the line that explains it."""

    test: Comparison
    value: bool | float
    explanation_en: str

    def __post_init__(self) -> None:
        check_explanation(self.explanation_en)

    def is_stricter_than(self, other: Threshold) -> bool:
        """Whether this threshold is met by fewer values than ``other`` (same test)."""
        if self.test is Comparison.BELOW:
            return self.value < other.value
        return self.value > other.value


@dataclass(frozen=True, slots=True)
class IndicatorRule:
    """When one indicator is red or orange; green otherwise."""

    code: IndicatorCode
    red: Threshold | None
    orange: Threshold | None

    def __post_init__(self) -> None:
        if self.red is None and self.orange is None:
            raise ValueError(f"indicator {self.code.value} has neither a red nor an orange rule")
        kind = self.code.value_kind
        for threshold in (self.red, self.orange):
            if threshold is not None:
                try:
                    check_threshold_kind(self.code, threshold)
                except ValueError as exc:
                    raise ValueError(f"indicator {self.code.value}: {exc}") from exc
        if self.red is not None and self.orange is not None:
            if kind is IndicatorValueKind.FLAG:
                raise ValueError(
                    f"indicator {self.code.value} is a yes/no answer: give red or orange, not both"
                )
            if self.red.test is not self.orange.test:
                raise ValueError(
                    f"indicator {self.code.value}: red and orange must use the same test"
                )
            if not self.red.is_stricter_than(self.orange):
                raise ValueError(
                    f"indicator {self.code.value}: red must be stricter than orange "
                    f"({self.red.test.value} {self.red.value} vs {self.orange.value})"
                )


def check_threshold_kind(code: IndicatorCode, threshold: Threshold) -> None:
    """Refuse a threshold that does not fit the indicator's kind of value (its value_kind).

    Raises:
        ValueError: e.g. a number for a yes/no indicator, or a fraction for a count.
    """
    kind = code.value_kind
    value = threshold.value
    if kind is IndicatorValueKind.FLAG:
        if threshold.test is not Comparison.IS or not isinstance(value, bool):
            raise ValueError("a yes/no indicator takes 'is: true' or 'is: false', not a number")
        return
    if threshold.test is Comparison.IS or isinstance(value, bool):
        raise ValueError(f"a {kind.value} indicator takes 'below' or 'at_least' with a number")
    if not math.isfinite(value):
        raise ValueError("a threshold must be a finite number")
    if kind is IndicatorValueKind.COUNT and (value < 0 or value != int(value)):
        raise ValueError("a count indicator takes a whole number of zero or more")


@dataclass(frozen=True, slots=True)
class OutcomeRule:
    """Base points of a signal with one assessment outcome, and its line of explanation."""

    points: float
    explanation_en: str
    points_by_category: Mapping[Category, float] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def __post_init__(self) -> None:
        check_explanation(self.explanation_en)
        for points in (self.points, *self.points_by_category.values()):
            check_points(points, "signal points")

    def points_for(self, category: Category) -> float:
        """The base points for a signal of ``category`` (e.g. calamities weigh more)."""
        return self.points_by_category.get(category, self.points)


@dataclass(frozen=True, slots=True)
class SignalRules:
    """How assessed signals weigh: base points per outcome times severity factor times decay."""

    outcomes: Mapping[Outcome, OutcomeRule]
    severity_factors: Mapping[Severity, float]
    window_months: int
    """A signal counts while it occurred less than this many calendar months ago."""

    def __post_init__(self) -> None:
        outcomes_missing = sorted(set(Outcome) - set(self.outcomes))
        if outcomes_missing:
            raise ValueError(f"outcome {outcomes_missing[0].value} is missing from the model")
        severities_missing = sorted(set(Severity) - set(self.severity_factors))
        if severities_missing:
            raise ValueError(f"severity {severities_missing[0].value} is missing from the model")
        for factor in self.severity_factors.values():
            check_points(factor, "a severity factor")
        highest_factor = max(self.severity_factors.values())
        for rule in self.outcomes.values():
            for points in (rule.points, *rule.points_by_category.values()):
                if points * highest_factor > MAX_POINTS:
                    raise ValueError(
                        f"one signal may add at most {MAX_POINTS:g} points "
                        "(base points times the highest severity factor)"
                    )
        if self.window_months < 1:
            raise ValueError("the signal window must be at least one month")


@dataclass(frozen=True, slots=True)
class InvestigationRules:
    """What a closed investigation's decision does to the score."""

    improvement_plan_points: float
    improvement_plan_explanation_en: str
    hold_months: int
    """How long a dissolved contract holds the provider at red, from the closing moment."""
    contract_dissolved_explanation_en: str
    no_findings_explanation_en: str

    def __post_init__(self) -> None:
        check_points(self.improvement_plan_points, "improvement plan points")
        check_explanation(self.improvement_plan_explanation_en)
        check_explanation(self.contract_dissolved_explanation_en)
        check_explanation(self.no_findings_explanation_en)
        if self.hold_months < 1:
            raise ValueError("the contract_dissolved hold must last at least one month")


@dataclass(frozen=True, slots=True)
class LevelBoundaries:
    """Where the traffic light changes, and how far a score must fall to step down."""

    orange: float
    red: float
    hysteresis: float
    score_cap: float

    def __post_init__(self) -> None:
        values = (self.orange, self.red, self.hysteresis, self.score_cap)
        if not all(math.isfinite(v) for v in values):
            raise ValueError("level boundaries must be finite numbers")
        if not 0 < self.orange < self.red <= self.score_cap:
            raise ValueError("level boundaries must increase: 0 < orange < red <= score cap")
        if self.score_cap > MAX_POINTS:
            raise ValueError(f"the score cap must be at most {MAX_POINTS:g}")
        if not 0 <= self.hysteresis < min(self.orange, self.red - self.orange):
            raise ValueError(
                "hysteresis must be zero or more and smaller than the green and orange bands"
            )

    def level_of(self, score: float) -> RiskLevel:
        """The level of ``score`` without hysteresis."""
        if score >= self.red:
            return RiskLevel.RED
        if score >= self.orange:
            return RiskLevel.ORANGE
        return RiskLevel.GREEN

    def level_after(self, score: float, previous: RiskLevel | None) -> RiskLevel:
        """The level of ``score`` after hysteresis against the ``previous`` level.

        Rising has no hysteresis. Falling steps down past a boundary only once the score is
        ``hysteresis`` points below it, and never lands above the previous level.
        """
        # Spelled out per previous level: enum ranks hash in Python, and this runs per score.
        if previous is RiskLevel.RED:
            if score >= self.red - self.hysteresis:
                return RiskLevel.RED
            return RiskLevel.ORANGE if score >= self.orange - self.hysteresis else RiskLevel.GREEN
        if previous is RiskLevel.ORANGE:
            if score >= self.red:
                return RiskLevel.RED
            return RiskLevel.ORANGE if score >= self.orange - self.hysteresis else RiskLevel.GREEN
        return self.level_of(score)


def check_points(points: float, what: str) -> None:
    """Refuse points (or a factor) that are negative, not finite, or above 100.

    Raises:
        ValueError: naming ``what``.
    """
    if not math.isfinite(points) or points < 0:
        raise ValueError(f"{what} must be zero or more")
    if points > MAX_POINTS:
        raise ValueError(f"{what} must be at most {MAX_POINTS:g}")


# How the scorer tests an indicator's value: small ints compare faster than enum members.
BELOW, AT_LEAST, IS = 0, 1, 2
_TEST_CODE = {Comparison.BELOW: BELOW, Comparison.AT_LEAST: AT_LEAST, Comparison.IS: IS}

IndicatorTable = tuple[
    int, bool | float | None, bool | float | None, float, float, Contribution, Contribution
]
"""One indicator for the scorer: test, red value, orange value (None when the colour has no
rule), red points, orange points, and the ready contributions for red and orange."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    """Tables the scorer reads per evaluation, computed once per model.

    Keyed by the codes' text values: an enum member hashes in Python, a str in C.
    """

    indicator_codes: tuple[IndicatorCode, ...]
    """Every indicator, sorted, for listing the unknown ones."""
    indicators: Mapping[str, IndicatorTable]
    signal_points: Mapping[tuple[str, str, str], float]
    """Base points times severity factor per (outcome, category, severity), before decay."""
    signal_explanations: Mapping[tuple[str, str, str], str]
    half_life_seconds: float


@dataclass(frozen=True, slots=True)
class RiskModel:
    """A version of the provider risk model: indicators, signals, investigations, levels."""

    version: str
    indicator_points: Mapping[RiskLevel, float]
    """Points per indicator colour (green, orange, red)."""
    indicators: Mapping[IndicatorCode, IndicatorRule]
    signals: SignalRules
    half_life_days: float
    """Signal and improvement-plan points halve every this many days."""
    investigations: InvestigationRules
    levels: LevelBoundaries
    compiled: _Compiled = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check(self)
        object.__setattr__(self, "compiled", _compile(self))


def _check(model: RiskModel) -> None:
    if VERSION_PATTERN.fullmatch(model.version) is None:
        raise ValueError(f"the version must look like YYYY.N (e.g. 2025.1), not {model.version!r}")
    missing = sorted(set(IndicatorCode) - set(model.indicators))
    if missing:
        raise ValueError(f"indicator {missing[0].value} is missing from the model")
    for code, rule in model.indicators.items():
        if rule.code is not code:
            raise ValueError(f"indicator {code.value} is filed under {rule.code.value}")
    if set(model.indicator_points) != set(RiskLevel):
        raise ValueError("indicator points need green, orange and red")
    for points in model.indicator_points.values():
        check_points(points, "indicator points")
    if not (
        model.indicator_points[RiskLevel.GREEN]
        <= model.indicator_points[RiskLevel.ORANGE]
        <= model.indicator_points[RiskLevel.RED]
    ):
        raise ValueError("indicator points must not fall from green to orange to red")
    if not (math.isfinite(model.half_life_days) and model.half_life_days > 0):
        raise ValueError("the decay half-life must be more than zero days")


def check_explanation(text: str) -> None:
    """Refuse an explanation that is empty, longer than one short line, or has control characters.

    Raises:
        ValueError: saying what is wrong (never repeating the text).
    """
    if not text.strip():
        raise ValueError("an explanation must not be empty")
    if len(text) > MAX_EXPLANATION:
        raise ValueError(f"an explanation is one line of at most {MAX_EXPLANATION} characters")
    if _CONTROL_CHARACTERS.search(text):
        raise ValueError("an explanation is one line without control characters")


def _compile(model: RiskModel) -> _Compiled:
    indicators: dict[str, IndicatorTable] = {}
    for code, rule in model.indicators.items():
        ready = {
            colour: Contribution(
                kind=ContributionKind.INDICATOR,
                ref=code.value,
                points=round(model.indicator_points[colour], 1),
                explanation_en=threshold.explanation_en,
            )
            for colour, threshold in ((RiskLevel.RED, rule.red), (RiskLevel.ORANGE, rule.orange))
            if threshold is not None
        }
        # A colour without a rule never matches; its place holds the other's, never used.
        unused = next(iter(ready.values()))
        thresholds = [t for t in (rule.red, rule.orange) if t is not None]
        indicators[code.value] = (
            _TEST_CODE[thresholds[0].test],
            rule.red.value if rule.red is not None else None,
            rule.orange.value if rule.orange is not None else None,
            model.indicator_points[RiskLevel.RED],
            model.indicator_points[RiskLevel.ORANGE],
            ready.get(RiskLevel.RED, unused),
            ready.get(RiskLevel.ORANGE, unused),
        )
    signal_points: dict[tuple[str, str, str], float] = {}
    explanations: dict[tuple[str, str, str], str] = {}
    for outcome, outcome_rule in model.signals.outcomes.items():
        for category in Category:
            for severity, factor in model.signals.severity_factors.items():
                key = (outcome.value, category.value, severity.value)
                signal_points[key] = outcome_rule.points_for(category) * factor
                explanations[key] = (
                    f"{outcome_rule.explanation_en} ({category.value.replace('_', ' ')}, "
                    f"{severity.value} severity)"
                )
    return _Compiled(
        indicator_codes=tuple(sorted(IndicatorCode)),
        indicators=MappingProxyType(indicators),
        signal_points=MappingProxyType(signal_points),
        signal_explanations=MappingProxyType(explanations),
        half_life_seconds=timedelta(days=model.half_life_days).total_seconds(),
    )
