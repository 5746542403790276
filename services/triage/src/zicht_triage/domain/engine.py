"""The rule engine: weighs one signal against a framework and explains the decision.

:func:`assess` is pure and deterministic: no clock, no randomness, no ids of its own. The same
facts, context and framework always give an equal :class:`Decision`.

Investigations, decided here and documented in the framework file:

* **investigate** and no open investigation: the decision opens one (the service makes the id).
* **investigate** with an open investigation: it links that one; a provider has one open
  investigation at most. Under 2025.1 only rule 5 (calamity, violence) gets here, because rule 7
  (bundle) comes before rule 8.
* **bundle** (rule 7): bundled with the open investigation.
* **criminal_referral** (rule 4) with an open investigation: linked, as the policy says.
* Every other outcome (e.g. rule 6, administrative error) leaves an open investigation alone.

A link adds the framework's link rule to ``rules_fired``, after the outcome, strategy and
priority rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from zicht_schemas.codes import (
    AdviceTo,
    Category,
    CrimeIndicator,
    InvestigationRelation,
    Law,
    Outcome,
    Priority,
    Severity,
    Shortcoming,
    Source,
    Strategy,
    VulnerableGroup,
)
from zicht_schemas.events.triage import RuleFired
from zicht_triage.domain.facts import AssessmentContext, SignalFacts
from zicht_triage.domain.framework import Framework, Rule

__all__ = [
    "CannotAssess",
    "Decision",
    "InvestigationAction",
    "InvestigationActionKind",
    "assess",
]


_RuleT = TypeVar("_RuleT", bound=Rule)


class CannotAssess(ValueError):  # noqa: N818 - the name the service and the brief use
    """The signal uses a code the framework does not know; the reason names the field.

    The service sends such a signal to the dead-letter topic with this reason. Reasons hold
    field names and codes only, never personal data.
    """


class InvestigationActionKind(StrEnum):
    """What the decision does with an investigation of the provider."""

    OPEN = "open"
    """Open a new investigation (investigate, none open)."""
    BUNDLE = "bundle"
    """Bundle the signal with the open investigation, for information (outcome bundle)."""
    LINK = "link"
    """Link the signal, which has its own outcome, to the open investigation."""

    @property
    def relation(self) -> InvestigationRelation:
        """The relation the signal gets to the investigation (``InvestigationLink.relation``)."""
        return _RELATION[self]


_OUTCOME_TEXT: Mapping[Outcome, str] = {outcome: outcome.value for outcome in Outcome}

_RELATION = {
    InvestigationActionKind.OPEN: InvestigationRelation.OPENED,
    InvestigationActionKind.BUNDLE: InvestigationRelation.BUNDLED,
    InvestigationActionKind.LINK: InvestigationRelation.LINKED,
}


@dataclass(frozen=True, slots=True)
class InvestigationAction:
    """What to do with an investigation: open one, or bundle or link with the open one."""

    kind: InvestigationActionKind
    investigation_id: UUID | None = None
    """The open investigation for bundle and link; None for open (the service makes the id)."""

    def __post_init__(self) -> None:
        if (self.kind is InvestigationActionKind.OPEN) != (self.investigation_id is None):
            raise ValueError("an investigation id is given exactly for bundle and link")


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The outcome of weighing one signal, with everything needed to explain and reproduce it."""

    outcome: Outcome
    strategy: Strategy | None
    """Set exactly when the outcome is investigate."""
    priority: Priority
    advice: AdviceTo | None
    rules_fired: tuple[RuleFired, ...]
    """Outcome rule, strategy rule (investigate only), priority rule, link rule (on a link)."""
    framework_version: str
    investigation: InvestigationAction | None


def assess(facts: SignalFacts, context: AssessmentContext, framework: Framework) -> Decision:
    """Weigh a signal against ``framework``: outcome, strategy, priority and their reasons.

    Args:
        facts: What the signal says.
        context: What triage knows of the provider (relation to the region, open
            investigation, earlier signals).
        framework: The framework in force.

    Returns:
        The decision; equal for equal arguments.

    Raises:
        CannotAssess: When the signal uses a code outside the framework's vocabulary.
    """
    env = _inputs(facts, context, framework)
    rule, names = _first(framework.outcome_rules, env)
    outcome = rule.outcome
    advice = None
    if rule.advice is not None:
        advice_test = rule.advice_condition.test if rule.advice_condition else None
        advice_names = advice_test(env) if advice_test else ()
        if advice_names is not None:
            advice = rule.advice
            names += advice_names  # the inputs that made the advice count too
    fired = [rule.fired(env, names)]
    env["outcome"] = _OUTCOME_TEXT[outcome]
    strategy = None
    if outcome is Outcome.INVESTIGATE:
        strategy_rule, names = _first(framework.strategy_rules, env)
        strategy = strategy_rule.strategy
        fired.append(strategy_rule.fired(env, names))
    priority_rule, names = _first(framework.priority_rules, env)
    fired.append(priority_rule.fired(env, names))
    open_id = context.open_investigation_id
    investigation = None
    if outcome is Outcome.BUNDLE and open_id is not None:
        investigation = InvestigationAction(InvestigationActionKind.BUNDLE, open_id)
    elif open_id is not None and rule.links_open_investigation:
        investigation = InvestigationAction(InvestigationActionKind.LINK, open_id)
        if framework.link_rule is not None:  # the loader requires one when a rule links
            fired.append(framework.link_rule.fired(env, ()))
    elif outcome is Outcome.INVESTIGATE:
        investigation = InvestigationAction(InvestigationActionKind.OPEN)
    return Decision(
        outcome=outcome,
        strategy=strategy,
        priority=priority_rule.priority,
        advice=advice,
        rules_fired=tuple(fired),
        framework_version=framework.version,
        investigation=investigation,
    )


def _first(rules: tuple[_RuleT, ...], env: dict[str, Any]) -> tuple[_RuleT, tuple[str, ...]]:
    """The first rule that holds, with the inputs that made it hold."""
    for rule in rules:
        test = rule.condition.test
        if test is None:
            return rule, ()
        names = test(env)
        if names is not None:
            return rule, names
    # The loader refuses a section whose last rule does not hold always.
    raise AssertionError("a framework section without a final 'always' rule")


# Each code as plain text, so decisions carry strings (``Enum.value`` is slow on a hot path).
_TEXT: Mapping[StrEnum, str] = {
    code: code.value
    for codes in (Law, Category, Severity, VulnerableGroup, Source, CrimeIndicator, Shortcoming)
    for code in codes
}


def _inputs(facts: SignalFacts, context: AssessmentContext, framework: Framework) -> dict[str, Any]:
    """The named inputs of one assessment; refuses a code outside the vocabulary."""
    vocabulary = framework.vocabulary
    env: dict[str, Any] = {
        "law": _TEXT[facts.law],
        "category": _TEXT[facts.category],
        "severity": _TEXT[facts.severity],
        "vulnerable_group": _TEXT[facts.vulnerable_group],
        "source": _TEXT[facts.source],
    }
    for name, value in env.items():
        if value not in vocabulary[name]:
            raise CannotAssess(
                f"{name} {value!r} is not in the vocabulary of framework {framework.version}"
            )
    crime = tuple([_TEXT[code] for code in facts.crime_indicators])
    shortcomings = tuple([_TEXT[code] for code in facts.shortcomings])
    for name, codes in (("crime_indicators", crime), ("shortcomings", shortcomings)):
        known = vocabulary[name]
        for code in codes:
            if code not in known:
                raise CannotAssess(
                    f"{name} holds {code!r}, which is not in the vocabulary of framework "
                    f"{framework.version}"
                )
    kinds = framework.shortcoming_kinds
    env["crime_indicators"] = crime
    env["shortcomings"] = shortcomings
    env["shortcomings.kinds"] = tuple([kinds[code] for code in shortcomings])
    env["fraud_suspected"] = facts.fraud_suspected
    env["administrative_error"] = facts.administrative_error
    env["related_to_region"] = context.related_to_region
    env["open_investigation"] = context.open_investigation_id is not None
    # Policy rule 8 counts "3 or more signals in 12 months counting this one".
    env["signals_12_months_including_this"] = context.prior_signals_12_months + 1
    return env
