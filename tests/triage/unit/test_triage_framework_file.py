"""Loading a framework file: a malformed or contradictory file is refused, naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.unit.triage_builders import context, default_framework_text, facts
from zicht_schemas import Category, Outcome
from zicht_triage.domain import (
    FrameworkError,
    assess,
    default_framework,
    load_framework,
    load_framework_file,
)

pytestmark = pytest.mark.unit

MARK = "# <-"

HEADER = """\
version: "2026.3"
vocabulary:
  law: [wmo, wlz]
  category: [quality, calamity, other]
  severity: [low, high]
  vulnerable_group: [none, youth]
  source: [police, resident]
  crime_indicators: [raid]
  shortcomings: {quick: [insurance], complex: [housing]}
"""

OUTCOMES = """\
outcome_rules:
  - id: R1
    when: {input: law, is: wlz}
    outcome: out_of_scope
    text: {nl: Buiten scope., en: Out of scope.}
  - id: R2
    when: always
    outcome: no_investigation
    text: {nl: Geen onderzoek., en: No investigation.}
"""

PRIORITIES = """\
priority_rules:
  - id: P1
    when: always
    priority: P4
    text: {nl: Overig., en: Other.}
"""


def _refusal(text: str) -> FrameworkError:
    with pytest.raises(FrameworkError) as refused:
        load_framework(text, origin="region.yaml")
    return refused.value


def _marked_line(text: str) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if MARK in line]
    assert len(lines) == 1, "mark exactly one line of the snippet"
    return lines[0]


def test_a_small_framework_loads_and_decides() -> None:
    framework = load_framework(HEADER + OUTCOMES + PRIORITIES, origin="region.yaml")

    assert framework.version == "2026.3"
    assert framework.origin == "region.yaml"
    decision = assess(facts(category=Category.QUALITY), context(), framework)
    assert decision.outcome is Outcome.NO_INVESTIGATION
    assert [rule.rule_id for rule in decision.rules_fired] == ["R2", "P1"]
    assert decision.framework_version == "2026.3"


REFUSED = {
    "yaml syntax error": (
        HEADER + OUTCOMES.replace("outcome: out_of_scope", "outcome: out: of  # <-") + PRIORITIES,
        "not valid YAML",
    ),
    "duplicate rule id": (
        HEADER + OUTCOMES.replace("  - id: R2", "  - id: R1  # <-") + PRIORITIES,
        "rule id 'R1' is used twice (first on line 11)",
    ),
    "rule id shared across sections": (
        HEADER + OUTCOMES + PRIORITIES.replace("  - id: P1", "  - id: R2  # <-"),
        "rule id 'R2' is used twice",
    ),
    "unknown input name": (
        HEADER
        + OUTCOMES.replace("{input: law, is: wlz}", "{input: colour, is: red}  # <-")
        + PRIORITIES,
        "unknown input 'colour'",
    ),
    "unknown input value": (
        HEADER
        + OUTCOMES.replace("{input: law, is: wlz}", "{input: category, is: foo}  # <-")
        + PRIORITIES,
        "'foo' is not a category this framework knows",
    ),
    "a contract code the vocabulary leaves out": (
        HEADER
        + OUTCOMES.replace("{input: law, is: wlz}", "{input: category, in: [financial]}  # <-")
        + PRIORITIES,
        "'financial' is not a category this framework knows",
    ),
    "operator that does not fit the input": (
        HEADER
        + OUTCOMES.replace("{input: law, is: wlz}", "{input: law, at_least: 3}  # <-")
        + PRIORITIES,
        "'law' (code) cannot use 'at_least'",
    ),
    "an outcome rule looking at the outcome": (
        HEADER
        + OUTCOMES.replace("{input: law, is: wlz}", "{input: outcome, is: bundle}  # <-")
        + PRIORITIES,
        "input 'outcome' cannot be used here",
    ),
    "outcome that is not a code": (
        HEADER + OUTCOMES.replace("outcome: out_of_scope", "outcome: maybe  # <-") + PRIORITIES,
        "'maybe' is not a code",
    ),
    "priority that is not a code": (
        HEADER + OUTCOMES + PRIORITIES.replace("priority: P4", "priority: P5  # <-"),
        "'P5' is not a code",
    ),
    "advice that is not a code": (
        HEADER
        + OUTCOMES.replace(
            "outcome: out_of_scope", "outcome: out_of_scope\n    advice: mayor  # <-"
        )
        + PRIORITIES,
        "'mayor' is not a code",
    ),
    "strategy that is not a code": (
        HEADER
        + OUTCOMES
        + """\
strategy_rules:
  - id: S1
    when: always
    strategy: thorough  # <-
    text: {nl: Grondig., en: Thorough.}
"""
        + PRIORITIES,
        "'thorough' is not a code",
    ),
    "a rule after an unconditional rule": (
        HEADER
        + OUTCOMES
        + """\
  - id: R3  # <-
    when: {input: law, is: wmo}
    outcome: out_of_scope
    text: {nl: Nooit., en: Never.}
"""
        + PRIORITIES,
        "this rule can never fire: the rule before it (line 15) holds always",
    ),
    "no final fallback outcome rule": (
        HEADER
        + OUTCOMES.replace("  - id: R2", "  - id: R2  # <-").replace(
            "when: always", "when: {input: law, is: wmo}"
        )
        + PRIORITIES,
        "outcome_rules: the last rule must hold 'always'",
    ),
    "a priority list that can leave a signal without a priority": (
        HEADER
        + OUTCOMES
        + PRIORITIES.replace("  - id: P1", "  - id: P1  # <-").replace(
            "when: always", "when: {input: severity, is: high}"
        ),
        "the last rule must hold 'always' (when: always), so that every signal gets a priority",
    ),
    "an investigate outcome without strategy rules": (
        HEADER
        + OUTCOMES.replace("  - id: R1", "  - id: R1  # <-").replace(
            "outcome: out_of_scope", "outcome: investigate\n    open_investigation: link"
        )
        + PRIORITIES
        + "link_rule: {id: L1, text: {nl: Gekoppeld., en: Linked.}}\n",
        "rule R1 decides investigate, but the framework has no strategy_rules",
    ),
    "an investigate outcome that does not say what happens with an open investigation": (
        HEADER
        + OUTCOMES.replace("outcome: out_of_scope", "outcome: investigate  # <-")
        + PRIORITIES,
        "an investigate outcome must say 'open_investigation: link'",
    ),
    "a link without a link rule": (
        HEADER
        + OUTCOMES.replace("  - id: R1", "  - id: R1  # <-").replace(
            "outcome: out_of_scope", "outcome: criminal_referral\n    open_investigation: link"
        )
        + PRIORITIES,
        "rule R1 links an open investigation, but the framework has no link_rule",
    ),
    "a bundle rule that does not require an open investigation": (
        HEADER
        + OUTCOMES.replace("{input: law, is: wlz}  ", "").replace(
            "    when: {input: law, is: wlz}\n    outcome: out_of_scope",
            "    when: {input: law, is: wlz}  # <-\n    outcome: bundle",
        )
        + PRIORITIES,
        "a bundle outcome needs a condition that requires {input: open_investigation, is: true}",
    ),
    "missing dutch text": (
        HEADER
        + OUTCOMES.replace(
            "text: {nl: Buiten scope., en: Out of scope.}", "text: {en: Out of scope.}  # <-"
        )
        + PRIORITIES,
        "rule R1 has no 'nl' text",
    ),
    "missing english text": (
        HEADER
        + OUTCOMES
        + PRIORITIES.replace(
            "    text: {nl: Overig., en: Other.}", "    text:  # <-\n      nl: Overig."
        ),
        "rule P1 has no 'en' text",
    ),
    "version that is not YYYY.N": (
        HEADER.replace('version: "2026.3"', 'version: "2026"  # <-') + OUTCOMES + PRIORITIES,
        "version '2026' is not YYYY.N",
    ),
    "version with letters": (
        HEADER.replace('version: "2026.3"', "version: v3  # <-") + OUTCOMES + PRIORITIES,
        "version 'v3' is not YYYY.N",
    ),
    "vocabulary value that is not a code": (
        HEADER.replace("category: [quality, calamity, other]", "category: [quality, gossip]  # <-")
        + OUTCOMES
        + PRIORITIES,
        "vocabulary category: 'gossip' is not a category code",
    ),
    "a shortcoming of the wrong kind": (
        HEADER.replace(
            "shortcomings: {quick: [insurance], complex: [housing]}",
            "shortcomings: {quick: [insurance, housing]}  # <-",
        )
        + OUTCOMES
        + PRIORITIES,
        "shortcoming 'housing' is complex in the contracts, not quick",
    ),
    "vocabulary without an input": (
        HEADER.replace("vocabulary:", "vocabulary:  # <-").replace(
            "  source: [police, resident]\n", ""
        )
        + OUTCOMES
        + PRIORITIES,
        "vocabulary misses 'source'",
    ),
    "a key written twice": (
        HEADER
        + OUTCOMES.replace(
            "outcome: out_of_scope", "outcome: out_of_scope\n    outcome: out_of_region  # <-"
        )
        + PRIORITIES,
        "has the key 'outcome' twice",
    ),
    "a misspelt key": (
        HEADER
        + OUTCOMES.replace("outcome: out_of_scope", "outcom: out_of_scope  # <-")
        + PRIORITIES,
        "unknown key 'outcom'",
    ),
    "empty all": (
        HEADER + OUTCOMES.replace("{input: law, is: wlz}", "{all: []}  # <-") + PRIORITIES,
        "'all' in rule R1 must not be empty",
    ),
}


@pytest.mark.parametrize(("text", "problem"), REFUSED.values(), ids=REFUSED.keys())
def test_a_malformed_or_contradictory_framework_is_refused_naming_the_line(
    text: str, problem: str
) -> None:
    refused = _refusal(text)

    line = _marked_line(text)
    assert str(refused).startswith(f"region.yaml:{line}: ")
    assert problem in str(refused)
    assert refused.line == line
    assert isinstance(refused, ValueError)


def test_an_empty_file_is_refused() -> None:
    assert str(_refusal("")) == "region.yaml:1: the file is empty"


def test_a_framework_file_is_read_from_its_path(tmp_path: Path) -> None:
    path = tmp_path / "2026.3.yaml"
    path.write_text(HEADER + OUTCOMES + PRIORITIES, encoding="utf-8")

    framework = load_framework_file(path)

    assert framework.version == "2026.3"
    assert framework.origin == str(path)


def test_a_refused_file_names_its_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(HEADER + OUTCOMES + PRIORITIES.replace("P4", "P9"), encoding="utf-8")

    with pytest.raises(FrameworkError, match=rf"^{path}:22: the priority of rule P1: 'P9'"):
        load_framework_file(path)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FrameworkError, match="cannot be read"):
        load_framework_file(tmp_path / "absent.yaml")


def test_the_shipped_framework_is_2025_1() -> None:
    framework = default_framework()

    assert framework.version == "2025.1"
    assert framework.origin == "zicht_triage/frameworks/2025.1.yaml"
    assert framework is default_framework()
    assert load_framework(default_framework_text(), origin="copy").digest == framework.digest


def test_a_version_written_as_a_number_keeps_its_digits() -> None:
    framework = load_framework(
        HEADER.replace('"2026.3"', "2026.10") + OUTCOMES + PRIORITIES, origin="region.yaml"
    )

    assert framework.version == "2026.10"
