"""Whatever a signal says, the engine's decision makes a valid signal.assessed event."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage.unit.triage_builders import assessed_event
from zicht_schemas import (
    Category,
    CrimeIndicator,
    InvestigationRelation,
    Law,
    Outcome,
    Severity,
    Shortcoming,
    Source,
    VulnerableGroup,
)
from zicht_triage.domain import AssessmentContext, SignalFacts, assess, default_framework

pytestmark = pytest.mark.unit

signals = st.builds(
    SignalFacts,
    law=st.sampled_from(Law),
    category=st.sampled_from(Category),
    severity=st.sampled_from(Severity),
    source=st.sampled_from(Source),
    vulnerable_group=st.sampled_from(VulnerableGroup),
    crime_indicators=st.lists(st.sampled_from(CrimeIndicator), unique=True).map(tuple),
    fraud_suspected=st.booleans(),
    administrative_error=st.booleans(),
    shortcomings=st.lists(st.sampled_from(Shortcoming), unique=True).map(tuple),
)
contexts = st.builds(
    AssessmentContext,
    related_to_region=st.booleans(),
    open_investigation_id=st.none() | st.uuids(),
    prior_signals_12_months=st.integers(min_value=0, max_value=10_000),
)


@given(signal=signals, situation=contexts)
def test_every_decision_is_a_valid_assessed_event_and_reproducible(
    signal: SignalFacts, situation: AssessmentContext
) -> None:
    decision = assess(signal, situation, default_framework())

    event = assessed_event(signal, decision)

    assert event.outcome is decision.outcome
    assert event.rules_fired == decision.rules_fired
    assert assess(signal, situation, default_framework()) == decision
    # Explained in evaluation order: the outcome rule first, a priority rule always.
    assert decision.rules_fired[0].rule_id.startswith("R")
    assert any(rule.rule_id.startswith("P") for rule in decision.rules_fired)
    link = event.investigation
    opened = link is not None and link.relation is InvestigationRelation.OPENED
    no_open_one = situation.open_investigation_id is None
    assert opened == (decision.outcome is Outcome.INVESTIGATE and no_open_one)
    if link is not None and not opened:
        assert link.investigation_id == situation.open_investigation_id
