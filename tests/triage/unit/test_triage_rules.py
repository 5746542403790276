"""The 2025.1 assessment framework, rule by rule and where rules compete (policy section 1)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from triage.unit.triage_builders import (
    OPEN_INVESTIGATION,
    context,
    default_framework_text,
    facts,
    received_signal,
)
from zicht_schemas import (
    AdviceTo,
    Category,
    CrimeIndicator,
    Law,
    Outcome,
    Priority,
    Severity,
    Shortcoming,
    Source,
    Strategy,
    VulnerableGroup,
)
from zicht_triage.domain import (
    AssessmentContext,
    CannotAssess,
    InvestigationAction,
    InvestigationActionKind,
    SignalFacts,
    assess,
    default_framework,
    load_framework,
)

pytestmark = pytest.mark.unit

OPEN = InvestigationAction(InvestigationActionKind.OPEN)
LINKED = InvestigationAction(InvestigationActionKind.LINK, OPEN_INVESTIGATION)
BUNDLED = InvestigationAction(InvestigationActionKind.BUNDLE, OPEN_INVESTIGATION)


@dataclass(frozen=True)
class Case:
    """One row of the table: a signal in its context, and the decision a supervisor sees."""

    signal: SignalFacts
    outcome: Outcome
    rules: tuple[str, ...]
    strategy: Strategy | None = None
    priority: Priority = Priority.P4
    advice: AdviceTo | None = None
    investigation: InvestigationAction | None = None
    situation: AssessmentContext = field(default_factory=context)


QUALITY = Category.QUALITY
OPEN_CASE = context(open_investigation=OPEN_INVESTIGATION)

RULES = {
    # --- one case (or more) per outcome rule -------------------------------------------------
    "R1 wlz care is out of scope": Case(
        facts(law=Law.WLZ, category=QUALITY, severity=Severity.MEDIUM),
        Outcome.OUT_OF_SCOPE,
        ("R1", "P3"),
        priority=Priority.P3,
    ),
    "R2 youth-care quality is referred to igj": Case(
        facts(law=Law.JEUGDWET, category=QUALITY, severity=Severity.HIGH),
        Outcome.REFER_TO_IGJ,
        ("R2", "P2"),
        priority=Priority.P2,
    ),
    "R2 does not take youth-care governance": Case(
        facts(law=Law.JEUGDWET, category=Category.GOVERNANCE, severity=Severity.MEDIUM),
        Outcome.INVESTIGATE,
        ("R8", "S2", "P3"),
        strategy=Strategy.QUICKSCAN,
        priority=Priority.P3,
        investigation=OPEN,
    ),
    "R3 a provider without relation to the region is out of region": Case(
        facts(category=QUALITY, severity=Severity.HIGH),
        Outcome.OUT_OF_REGION,
        ("R3", "P2"),
        priority=Priority.P2,
        situation=context(related=False),
    ),
    "R4 a crime indicator is a criminal referral": Case(
        facts(category=QUALITY, crime_indicators=[CrimeIndicator.AMMUNITION]),
        Outcome.CRIMINAL_REFERRAL,
        ("R4", "P1"),
        priority=Priority.P1,
    ),
    "R4 legitimacy with a fraud suspicion is a criminal referral": Case(
        facts(category=Category.LEGITIMACY, fraud_suspected=True),
        Outcome.CRIMINAL_REFERRAL,
        ("R4", "P1"),
        priority=Priority.P1,
    ),
    "R4 a fraud suspicion outside legitimacy is no criminal referral": Case(
        facts(category=QUALITY, fraud_suspected=True),
        Outcome.NO_INVESTIGATION,
        ("R10", "P4"),
        advice=AdviceTo.SIGNALLER,
    ),
    "R5 a calamity is always investigated in full": Case(
        facts(category=Category.CALAMITY, shortcomings=[Shortcoming.INSURANCE]),
        Outcome.INVESTIGATE,
        ("R5", "S1", "P1"),
        strategy=Strategy.FULL_INVESTIGATION,
        priority=Priority.P1,
        investigation=OPEN,
    ),
    "R5 violence is always investigated in full": Case(
        facts(category=Category.VIOLENCE),
        Outcome.INVESTIGATE,
        ("R5", "S1", "P1"),
        strategy=Strategy.FULL_INVESTIGATION,
        priority=Priority.P1,
        investigation=OPEN,
    ),
    "R6 an administrative error goes to the contract manager": Case(
        facts(category=Category.LEGITIMACY, severity=Severity.MEDIUM, administrative_error=True),
        Outcome.ADMINISTRATIVE_ERROR,
        ("R6", "P3"),
        priority=Priority.P3,
        advice=AdviceTo.CONTRACT_MANAGER,
    ),
    "R7 a signal about a provider under investigation is bundled": Case(
        facts(category=QUALITY, severity=Severity.MEDIUM),
        Outcome.BUNDLE,
        ("R7", "P3"),
        priority=Priority.P3,
        investigation=BUNDLED,
        situation=OPEN_CASE,
    ),
    "R8 medium quality is investigated": Case(
        facts(category=QUALITY, severity=Severity.MEDIUM),
        Outcome.INVESTIGATE,
        ("R8", "S2", "P3"),
        strategy=Strategy.QUICKSCAN,
        priority=Priority.P3,
        investigation=OPEN,
    ),
    "R8 a vulnerable group makes low-severity legitimacy worth investigating": Case(
        facts(category=Category.LEGITIMACY, vulnerable_group=VulnerableGroup.YOUTH),
        Outcome.INVESTIGATE,
        ("R8", "S3", "P2"),
        strategy=Strategy.FULL_INVESTIGATION,
        priority=Priority.P2,
        investigation=OPEN,
    ),
    "R8 the third governance signal in 12 months is investigated": Case(
        facts(category=Category.GOVERNANCE),
        Outcome.INVESTIGATE,
        ("R8", "S2", "P4"),
        strategy=Strategy.QUICKSCAN,
        investigation=OPEN,
        situation=context(prior=5),
    ),
    "R9 a financial signal is for information": Case(
        facts(category=Category.FINANCIAL, severity=Severity.HIGH),
        Outcome.FOR_INFORMATION,
        ("R9", "P2"),
        priority=Priority.P2,
    ),
    "R10 a low quality signal gets advice to the signaller": Case(
        facts(category=QUALITY),
        Outcome.NO_INVESTIGATION,
        ("R10", "P4"),
        advice=AdviceTo.SIGNALLER,
    ),
    "R10 other signals get no advice": Case(
        facts(category=Category.OTHER, severity=Severity.MEDIUM),
        Outcome.NO_INVESTIGATION,
        ("R10", "P3"),
        priority=Priority.P3,
    ),
    # --- where rules compete ------------------------------------------------------------------
    "open investigation and a calamity: investigated in full and linked": Case(
        facts(category=Category.CALAMITY, severity=Severity.HIGH),
        Outcome.INVESTIGATE,
        ("R5", "S1", "P1", "L1"),
        strategy=Strategy.FULL_INVESTIGATION,
        priority=Priority.P1,
        investigation=LINKED,
        situation=OPEN_CASE,
    ),
    "open investigation and a crime indicator: criminal referral, linked": Case(
        facts(category=Category.GOVERNANCE, crime_indicators=[CrimeIndicator.MONEY_LAUNDERING]),
        Outcome.CRIMINAL_REFERRAL,
        ("R4", "P1", "L1"),
        priority=Priority.P1,
        investigation=LINKED,
        situation=OPEN_CASE,
    ),
    "open investigation and an administrative error: not linked (only rules 4 and 5 link)": Case(
        facts(category=Category.LEGITIMACY, administrative_error=True),
        Outcome.ADMINISTRATIVE_ERROR,
        ("R6", "P4"),
        advice=AdviceTo.CONTRACT_MANAGER,
        situation=OPEN_CASE,
    ),
    "open investigation and a financial signal: bundled, not for information": Case(
        facts(category=Category.FINANCIAL),
        Outcome.BUNDLE,
        ("R7", "P4"),
        investigation=BUNDLED,
        situation=OPEN_CASE,
    ),
    "wlz signal with crime indicators stays out of scope": Case(
        facts(law=Law.WLZ, category=Category.LEGITIMACY, crime_indicators=[CrimeIndicator.FORGERY]),
        Outcome.OUT_OF_SCOPE,
        ("R1", "P4"),
    ),
    "wlz calamity is out of scope but keeps priority 1 (priority follows the category)": Case(
        facts(law=Law.WLZ, category=Category.CALAMITY),
        Outcome.OUT_OF_SCOPE,
        ("R1", "P1"),
        priority=Priority.P1,
    ),
    "youth-care quality with crime indicators goes to igj (rule 2 before 4)": Case(
        facts(law=Law.JEUGDWET, category=QUALITY, crime_indicators=[CrimeIndicator.DRUGS]),
        Outcome.REFER_TO_IGJ,
        ("R2", "P4"),
    ),
    "police raid at a provider outside the region is out of region (rule 3 before 4)": Case(
        facts(source=Source.POLICE, category=QUALITY, crime_indicators=[CrimeIndicator.RAID]),
        Outcome.OUT_OF_REGION,
        ("R3", "P4"),
        situation=context(related=False),
    ),
    "an administrative error with a crime indicator is a criminal referral (4 before 6)": Case(
        facts(
            category=Category.LEGITIMACY,
            administrative_error=True,
            crime_indicators=[CrimeIndicator.FORGERY],
        ),
        Outcome.CRIMINAL_REFERRAL,
        ("R4", "P1"),
        priority=Priority.P1,
    ),
    "a calamity marked as administrative error is investigated (5 before 6)": Case(
        facts(category=Category.CALAMITY, administrative_error=True),
        Outcome.INVESTIGATE,
        ("R5", "S1", "P1"),
        strategy=Strategy.FULL_INVESTIGATION,
        priority=Priority.P1,
        investigation=OPEN,
    ),
    # --- strategy -----------------------------------------------------------------------------
    "quick shortcomings without a vulnerable group: quickscan": Case(
        facts(
            category=QUALITY,
            severity=Severity.MEDIUM,
            shortcomings=[Shortcoming.INSURANCE, Shortcoming.CERTIFICATION],
        ),
        Outcome.INVESTIGATE,
        ("R8", "S2", "P3"),
        strategy=Strategy.QUICKSCAN,
        priority=Priority.P3,
        investigation=OPEN,
    ),
    "a complex shortcoming beside quick ones: full investigation": Case(
        facts(
            category=QUALITY,
            severity=Severity.MEDIUM,
            shortcomings=[Shortcoming.INSURANCE, Shortcoming.HOUSING],
        ),
        Outcome.INVESTIGATE,
        ("R8", "S3", "P3"),
        strategy=Strategy.FULL_INVESTIGATION,
        priority=Priority.P3,
        investigation=OPEN,
    ),
    "quick shortcomings with a vulnerable group: full investigation": Case(
        facts(
            category=QUALITY,
            vulnerable_group=VulnerableGroup.SHELTERED_HOUSING,
            shortcomings=[Shortcoming.REGISTRATION],
        ),
        Outcome.INVESTIGATE,
        ("R8", "S3", "P2"),
        strategy=Strategy.FULL_INVESTIGATION,
        priority=Priority.P2,
        investigation=OPEN,
    ),
    "complex shortcomings with a vulnerable group: full investigation": Case(
        facts(
            category=QUALITY,
            severity=Severity.MEDIUM,
            vulnerable_group=VulnerableGroup.COMPLEX_CARE,
            shortcomings=[Shortcoming.SAFETY, Shortcoming.STAFF_NUMBERS],
        ),
        Outcome.INVESTIGATE,
        ("R8", "S3", "P2"),
        strategy=Strategy.FULL_INVESTIGATION,
        priority=Priority.P2,
        investigation=OPEN,
    ),
    "quick shortcomings at high severity: full investigation": Case(
        facts(category=QUALITY, severity=Severity.HIGH, shortcomings=[Shortcoming.REPORTING]),
        Outcome.INVESTIGATE,
        ("R8", "S3", "P2"),
        strategy=Strategy.FULL_INVESTIGATION,
        priority=Priority.P2,
        investigation=OPEN,
    ),
    # --- priority -----------------------------------------------------------------------------
    "high severity with a vulnerable group is priority 1": Case(
        facts(category=QUALITY, severity=Severity.HIGH, vulnerable_group=VulnerableGroup.YOUTH),
        Outcome.INVESTIGATE,
        ("R8", "S3", "P1"),
        strategy=Strategy.FULL_INVESTIGATION,
        priority=Priority.P1,
        investigation=OPEN,
    ),
    "a vulnerable group at low severity is priority 2": Case(
        facts(category=Category.OTHER, vulnerable_group=VulnerableGroup.YOUTH),
        Outcome.NO_INVESTIGATION,
        ("R10", "P2"),
        priority=Priority.P2,
    ),
}


@pytest.mark.parametrize("case", RULES.values(), ids=RULES.keys())
def test_framework_2025_1_decides_each_case_as_the_policy_says(case: Case) -> None:
    decision = assess(case.signal, case.situation, default_framework())

    assert decision.outcome is case.outcome
    assert tuple(rule.rule_id for rule in decision.rules_fired) == case.rules
    assert decision.strategy is case.strategy
    assert decision.priority is case.priority
    assert decision.advice is case.advice
    assert decision.investigation == case.investigation
    assert decision.framework_version == "2025.1"


def test_every_outcome_rule_is_covered_by_the_table() -> None:
    covered = {case.rules[0] for case in RULES.values()}
    outcome_rules = {rule.rule_id for rule in default_framework().outcome_rules}
    assert outcome_rules == covered
    assert [rule.rule_id for rule in default_framework().outcome_rules] == [
        f"R{n}" for n in range(1, 11)
    ]


@pytest.mark.parametrize(
    ("prior", "outcome", "advice"),
    [
        (1, Outcome.NO_INVESTIGATION, AdviceTo.SIGNALLER),
        (2, Outcome.INVESTIGATE, None),
    ],
)
def test_the_third_signal_in_12_months_counting_this_one_tips_quality_into_investigation(
    prior: int, outcome: Outcome, advice: AdviceTo | None
) -> None:
    decision = assess(facts(category=QUALITY), context(prior=prior), default_framework())

    assert decision.outcome is outcome
    assert decision.advice is advice
    assert decision.rules_fired[0].inputs["signals_12_months_including_this"] == prior + 1


def test_a_rule_reports_the_inputs_that_made_it_fire() -> None:
    signal = facts(
        category=Category.LEGITIMACY,
        fraud_suspected=True,
        crime_indicators=[CrimeIndicator.RAID, CrimeIndicator.DRUGS],
    )
    decision = assess(signal, context(), default_framework())

    referral, priority = decision.rules_fired
    assert referral.inputs == {
        "crime_indicators": ("drugs", "raid"),
        "category": "legitimacy",
        "fraud_suspected": True,
    }
    assert priority.inputs == {"outcome": "criminal_referral"}
    assert referral.text_nl.startswith("Er zijn strafrechtelijke indicatoren")


def test_an_investigation_opened_by_a_signal_explains_its_strategy() -> None:
    signal = facts(category=QUALITY, severity=Severity.MEDIUM, shortcomings=[Shortcoming.HOUSING])
    decision = assess(signal, context(), default_framework())

    strategy = decision.rules_fired[1]
    assert strategy.rule_id == "S3"
    assert strategy.inputs == {
        "shortcomings": ("housing",),
        "vulnerable_group": "none",
        "severity": "medium",
    }


def test_a_linked_decision_names_the_open_investigation() -> None:
    decision = assess(facts(category=Category.VIOLENCE), OPEN_CASE, default_framework())

    assert decision.investigation is not None
    assert decision.investigation.investigation_id == OPEN_INVESTIGATION
    assert decision.investigation.kind.relation.value == "linked"
    assert decision.rules_fired[-1].inputs == {"open_investigation": True}


def test_the_same_signal_context_and_version_give_the_same_decision() -> None:
    signal = facts(
        category=QUALITY,
        severity=Severity.HIGH,
        crime_indicators=[CrimeIndicator.WEAPONS, CrimeIndicator.DRUGS],
        shortcomings=[Shortcoming.SAFETY, Shortcoming.INSURANCE],
    )
    reordered = facts(
        category=QUALITY,
        severity=Severity.HIGH,
        crime_indicators=[CrimeIndicator.DRUGS, CrimeIndicator.WEAPONS, CrimeIndicator.DRUGS],
        shortcomings=[Shortcoming.INSURANCE, Shortcoming.SAFETY],
    )
    loaded_again = load_framework(default_framework_text(), origin="again.yaml")

    first = assess(signal, OPEN_CASE, default_framework())
    assert assess(signal, OPEN_CASE, default_framework()) == first
    assert assess(reordered, OPEN_CASE, default_framework()) == first
    assert assess(signal, OPEN_CASE, loaded_again) == first
    assert first.rules_fired[0].model_dump_json() == (
        assess(reordered, OPEN_CASE, loaded_again).rules_fired[0].model_dump_json()
    )


def test_facts_are_taken_from_a_received_signal() -> None:
    result = SignalFacts.from_event(received_signal())

    assert result == SignalFacts(
        law=Law.WMO,
        category=QUALITY,
        severity=Severity.MEDIUM,
        source=Source.POLICE,
        vulnerable_group=VulnerableGroup.SHELTERED_HOUSING,
        crime_indicators=(CrimeIndicator.DRUGS, CrimeIndicator.RAID),
        fraud_suspected=True,
        administrative_error=True,
        shortcomings=(Shortcoming.INSURANCE, Shortcoming.SAFETY),
    )
    assert assess(result, context(), default_framework()).outcome is Outcome.CRIMINAL_REFERRAL


def test_a_category_the_framework_does_not_know_cannot_be_assessed() -> None:
    text = default_framework_text().replace(
        "category: [calamity, violence, quality, legitimacy, financial, governance, other]",
        "category: [calamity, violence, quality, legitimacy, financial, governance]",
    )
    narrower = load_framework(text, origin="narrower.yaml")

    with pytest.raises(CannotAssess, match=r"^category 'other' is not in the vocabulary"):
        assess(facts(category=Category.OTHER), context(), narrower)
    assert assess(facts(category=QUALITY), context(), narrower).outcome is Outcome.NO_INVESTIGATION


def test_a_crime_indicator_the_framework_does_not_know_cannot_be_assessed() -> None:
    text = default_framework_text().replace("fraud_suspicion, diploma_fraud]", "fraud_suspicion]")
    narrower = load_framework(text, origin="narrower.yaml")

    with pytest.raises(CannotAssess, match=r"^crime_indicators holds 'diploma_fraud'"):
        assess(facts(crime_indicators=[CrimeIndicator.DIPLOMA_FRAUD]), context(), narrower)


def test_the_shipped_framework_knows_every_code_of_the_contracts() -> None:
    vocabulary = default_framework().vocabulary
    for name, codes in {
        "law": Law,
        "category": Category,
        "severity": Severity,
        "vulnerable_group": VulnerableGroup,
        "source": Source,
        "crime_indicators": CrimeIndicator,
        "shortcomings": Shortcoming,
    }.items():
        assert vocabulary[name] == {code.value for code in codes}, name


def test_every_rule_gives_its_reason_in_dutch_and_english() -> None:
    rules = default_framework().rules

    assert [rule.rule_id for rule in rules] == [
        *(f"R{n}" for n in range(1, 11)),
        "S1",
        "S2",
        "S3",
        "P1",
        "P2",
        "P3",
        "P4",
        "L1",
    ]
    for rule in rules:
        assert rule.text_nl.strip(), rule.rule_id
        assert rule.text_en.strip(), rule.rule_id
        assert rule.text_nl != rule.text_en, rule.rule_id


def test_a_negative_count_of_earlier_signals_is_refused() -> None:
    with pytest.raises(ValueError, match="prior_signals_12_months"):
        AssessmentContext(related_to_region=True, prior_signals_12_months=-1)
