"""Each service reads all its topics with one consumer group, so one short fetch wait serves
the whole alert path; the inbox still knows each topic's events by the old per-topic name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from zicht_intake.app import create_kit as intake_kit
from zicht_intake.config import IntakeSettings
from zicht_notify.app import create_kit as notify_kit
from zicht_notify.config import NotifySettings
from zicht_runtime.kit import ServiceKit
from zicht_runtime.settings import ServiceSettings
from zicht_schemas import topics
from zicht_scoring.app import create_kit as scoring_kit
from zicht_scoring.config import ScoringSettings
from zicht_triage.app import create_kit as triage_kit
from zicht_triage.config import TriageSettings

pytestmark = pytest.mark.unit


def kits() -> dict[str, ServiceKit]:
    return {
        "intake": intake_kit(IntakeSettings()),
        "triage": triage_kit(TriageSettings()),
        "scoring": scoring_kit(ScoringSettings()),
        "notify": notify_kit(NotifySettings()),
    }


def test_each_service_reads_all_its_topics_in_one_group_named_after_it() -> None:
    read = {
        name: (
            kit.group,
            {spec.topic for spec in kit.consumers} | {spec.topic for spec in kit.record_consumers},
        )
        for name, kit in kits().items()
    }
    assert read == {
        "intake": (
            "zicht-intake",
            {
                topics.SIGNAL_ASSESSED,
                topics.INVESTIGATION_CHANGED,
                topics.PARTNER_IGJ,
                topics.PARTNER_POLICE,
                topics.PARTNER_ACCESS_TEAM,
            },
        ),
        "triage": ("zicht-triage", {topics.PROVIDER_REGISTERED, topics.SIGNAL_RECEIVED}),
        "scoring": (
            "zicht-scoring",
            {
                topics.PROVIDER_REGISTERED,
                topics.INDICATORS_REPORTED,
                topics.SIGNAL_ASSESSED,
                topics.INVESTIGATION_CHANGED,
            },
        ),
        "notify": (
            "zicht-notify",
            {topics.PROVIDER_REGISTERED, topics.SIGNAL_ASSESSED, topics.PROVIDER_RISK_CHANGED},
        ),
    }


def test_a_topics_subscription_keeps_the_name_of_the_group_that_read_it_before() -> None:
    kit = triage_kit(TriageSettings(kafka_consumer_group="region-a-triage"))
    assert kit.group == "region-a-triage"
    assert kit.subscription_name(topics.SIGNAL_RECEIVED) == (
        "region-a-triage.intake.signal-received.v1"
    )


def test_the_alert_path_waits_briefly_by_default() -> None:
    assert ServiceSettings().kafka_fetch_max_wait_ms <= 10


def test_a_consumer_group_name_the_dead_letter_event_would_refuse_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="kafka_consumer_group"):
        ServiceSettings(service_name="kit-test", kafka_consumer_group="zicht intake")
    named = ServiceSettings(service_name="kit-test", kafka_consumer_group="zicht-intake.v2")
    assert named.kafka_consumer_group == "zicht-intake.v2"
