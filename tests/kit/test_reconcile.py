"""The reconciliation: the four services' flows of a period, checked against each other."""

from __future__ import annotations

from typing import Any

import pytest

from zicht_devtools.reconcile import CONSUMERS, Flow, reconcile
from zicht_intake.app import create_kit as intake_kit
from zicht_intake.config import IntakeSettings
from zicht_notify.app import create_kit as notify_kit
from zicht_notify.config import NotifySettings
from zicht_schemas import topics
from zicht_scoring.app import create_kit as scoring_kit
from zicht_scoring.config import ScoringSettings
from zicht_triage.app import create_kit as triage_kit
from zicht_triage.config import TriageSettings

pytestmark = pytest.mark.unit

R, A, P = topics.SIGNAL_RECEIVED, topics.SIGNAL_ASSESSED, topics.PROVIDER_REGISTERED


def sent(n: int) -> dict[str, int]:
    return {"written": n, "sent": n}


def balanced() -> dict[str, dict[str, Any]]:
    """Three signals, one provider, two alerts: everything taken in and delivered."""
    return {
        "intake": {
            "service": "intake",
            "produced": {R: sent(3), P: sent(1)},
            "consumed": {A: 3},
            "counts": {
                "submissions": {"accepted": 3},
                "items": {"accepted": 4, "rejected": 1},
                "signal_parts": {"accepted": 3},
                "signals": {"igj": 3},
            },
        },
        "triage": {
            "service": "triage",
            "produced": {A: sent(3)},
            "consumed": {R: 3, P: 1},
            "counts": {"assessed": {"investigate": 2, "no_investigation": 1}},
        },
        "scoring": {
            "service": "scoring",
            "consumed": {A: 3, P: 1},
            "counts": {"risk_changes": {}},
        },
        "notify": {
            "service": "notify",
            "produced": {topics.ALERT_DELIVERED: sent(2)},
            "consumed": {A: 3, P: 1},
            "counts": {"alerts": {"delivered": 2}},
        },
    }


def flows(bodies: dict[str, dict[str, Any]]) -> dict[str, Flow]:
    return {name: Flow.from_json(body) for name, body in bodies.items()}


def test_a_period_the_chain_finished_with_reconciles() -> None:
    result = reconcile(flows(balanced()))

    assert result.ok, result.report()
    assert result.line() == (
        "reconciliation: submissions 3, signals 3, assessed 3, risk changes 0, alerts 2 "
        "(delivered 2, failed 0, undeliverable 0, in flight 0), dead letters 0: reconciles"
    )


def test_a_signal_triage_never_took_in_is_flagged() -> None:
    bodies = balanced()
    bodies["triage"]["consumed"][R] = 2
    bodies["triage"]["counts"]["assessed"] = {"investigate": 2}

    result = reconcile(flows(bodies))

    assert not result.ok
    assert [p.what for p in result.problems] == [f"{R} -> triage"]
    assert "intake sent 3, triage took in 2" in result.problems[0].detail


def test_dead_letters_unsent_events_and_undelivered_alerts_are_flagged() -> None:
    bodies = balanced()
    bodies["triage"]["consumed"][R] = 3
    bodies["triage"]["dead_letters"] = {R: 1}
    bodies["triage"]["counts"]["assessed"] = {"investigate": 2}
    bodies["intake"]["produced"][P] = {"written": 2, "sent": 1}
    bodies["notify"]["counts"]["alerts"] = {"delivered": 1, "retrying": 1, "failed": 1}

    result = reconcile(flows(bodies))

    flagged = {p.what for p in result.problems}
    assert flagged == {"triage dead letters", "intake outbox", "notify alerts"}
    assert "in flight 1" in result.line()
    assert "dead letters 1" in result.line()


def test_alerts_for_recipients_without_a_subscription_are_recorded_not_lost() -> None:
    bodies = balanced()
    bodies["notify"]["counts"]["alerts"] = {"delivered": 2, "undeliverable": 1}
    bodies["notify"]["counts"]["alerts_per_recipient"] = {
        "municipality:GM0153": {"delivered": 2},
        "municipality:GM1700": {"undeliverable": 1},
    }

    result = reconcile(flows(bodies))

    assert result.ok, result.report()
    assert "    alerts to municipality:GM1700: undeliverable 1" in result.report().splitlines()
    assert "alerts 3 (delivered 2, failed 0, undeliverable 1, in flight 0)" in result.line()


def test_an_accepted_part_without_its_signal_event_is_flagged() -> None:
    bodies = balanced()
    bodies["intake"]["counts"]["signal_parts"] = {"accepted": 4}

    result = reconcile(flows(bodies))

    assert [p.what for p in result.problems] == ["intake signals"]
    assert result.problems[0].detail == "4 parts accepted, 3 signal events written"


def test_a_service_that_did_not_answer_is_a_problem() -> None:
    bodies = balanced()
    del bodies["scoring"]

    result = reconcile(flows(bodies))

    assert [p.what for p in result.problems] == ["services"]


def test_the_consumers_it_expects_are_the_services_own() -> None:
    kits = {
        "intake": intake_kit(IntakeSettings()),
        "triage": triage_kit(TriageSettings()),
        "scoring": scoring_kit(ScoringSettings()),
        "notify": notify_kit(NotifySettings()),
    }
    consumed = {(spec.topic, name) for name, kit in kits.items() for spec in kit.consumers}
    expected = {(topic, name) for topic, names in CONSUMERS.items() for name in names}
    assert consumed == expected
