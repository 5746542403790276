"""Consumers on the way from a signal to an alert poll briskly; the others, which nobody waits
on, poll slowly, so an idle service does not keep the broker and a core busy."""

from __future__ import annotations

import pytest

from zicht_intake.app import create_kit as intake_kit
from zicht_intake.config import IntakeSettings
from zicht_notify.app import create_kit as notify_kit
from zicht_notify.config import NotifySettings
from zicht_runtime.kit import ConsumerSpec, RecordConsumerSpec, ServiceKit
from zicht_schemas import topics
from zicht_scoring.app import create_kit as scoring_kit
from zicht_scoring.config import ScoringSettings
from zicht_triage.app import create_kit as triage_kit
from zicht_triage.config import TriageSettings

pytestmark = pytest.mark.unit

ALERT_PATH = {
    ("triage", topics.SIGNAL_RECEIVED),
    ("scoring", topics.SIGNAL_ASSESSED),
    ("notify", topics.SIGNAL_ASSESSED),
    ("notify", topics.PROVIDER_RISK_CHANGED),
}
"""Where a signal waits on a fetch on its way to a webhook."""

ORDER_MATTERS = {
    # A provider must be known before a signal about it is assessed, scored or routed.
    ("triage", topics.PROVIDER_REGISTERED),
    ("scoring", topics.PROVIDER_REGISTERED),
    ("notify", topics.PROVIDER_REGISTERED),
    # What scoring weighs besides signals changes the risk, and so the alerts.
    ("scoring", topics.INDICATORS_REPORTED),
    ("scoring", topics.INVESTIGATION_CHANGED),
}


def kits() -> dict[str, ServiceKit]:
    return {
        "intake": intake_kit(IntakeSettings(kafka_fetch_max_wait_ms=20)),
        "triage": triage_kit(TriageSettings(kafka_fetch_max_wait_ms=20)),
        "scoring": scoring_kit(ScoringSettings(kafka_fetch_max_wait_ms=20)),
        "notify": notify_kit(NotifySettings(kafka_fetch_max_wait_ms=20)),
    }


def test_only_what_nobody_waits_on_polls_with_the_long_wait() -> None:
    specs: list[tuple[str, ConsumerSpec | RecordConsumerSpec]] = []
    for name, kit in kits().items():
        specs += [(name, spec) for spec in kit.consumers]
        specs += [(name, spec) for spec in kit.record_consumers]
    waits = {(name, spec.topic): kits()[name].fetch_wait_of(spec) for name, spec in specs}

    brisk = {place for place, wait in waits.items() if wait == 20}
    slow = {place for place, wait in waits.items() if wait == 500}
    assert brisk == ALERT_PATH | ORDER_MATTERS
    assert slow == {
        ("intake", topics.SIGNAL_ASSESSED),
        ("intake", topics.INVESTIGATION_CHANGED),
        ("intake", topics.PARTNER_IGJ),
        ("intake", topics.PARTNER_POLICE),
        ("intake", topics.PARTNER_ACCESS_TEAM),
    }


def test_the_waits_are_settings() -> None:
    settings = TriageSettings(kafka_fetch_max_wait_ms=7, kafka_background_fetch_max_wait_ms=900)
    kit = triage_kit(settings)
    assert {kit.fetch_wait_of(spec) for spec in kit.consumers} == {7}
    intake = intake_kit(IntakeSettings(kafka_background_fetch_max_wait_ms=900))
    assert {intake.fetch_wait_of(spec) for spec in intake.record_consumers} == {900}
