"""Kafka topic names: the only place a topic string may be written (STYLE rule 4).

A topic carries one version of one event; a breaking change is a new topic with a new version
suffix, published beside the old one until every consumer has moved.
"""

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from zicht_schemas.codes import Source

__all__ = [
    "ALERT_DELIVERED",
    "ALERT_FAILED",
    "ALL_TOPICS",
    "COMPACTED_TOPICS",
    "DEAD_LETTER_SUFFIX",
    "DEAD_LETTER_TOPIC_PATTERN",
    "INDICATORS_REPORTED",
    "INVESTIGATION_CHANGED",
    "PARTNER_ACCESS_TEAM",
    "PARTNER_IGJ",
    "PARTNER_POLICE",
    "PARTNER_TOPICS",
    "PARTNER_TOPIC_BY_SOURCE",
    "PROVIDER_REGISTERED",
    "PROVIDER_RISK_CHANGED",
    "SIGNAL_ASSESSED",
    "SIGNAL_RECEIVED",
    "SIGNAL_REJECTED",
    "dead_letter_topic",
    "is_dead_letter_topic",
]

# Partners that publish on Kafka write their own format to their own topic (ACL per partner),
# keyed by the partner's reference.
PARTNER_IGJ: Final = "partner.igj.v1"
PARTNER_POLICE: Final = "partner.police.v1"
PARTNER_ACCESS_TEAM: Final = "partner.access-team.v1"

# Intake: the canonical, pseudonymised signal and what intake knows about providers.
SIGNAL_RECEIVED: Final = "intake.signal-received.v1"
SIGNAL_REJECTED: Final = "intake.signal-rejected.v1"
PROVIDER_REGISTERED: Final = "intake.provider-registered.v1"
INDICATORS_REPORTED: Final = "intake.indicators-reported.v1"

# Triage: decisions under the assessment framework.
SIGNAL_ASSESSED: Final = "triage.signal-assessed.v1"
INVESTIGATION_CHANGED: Final = "triage.investigation-changed.v1"

# Scoring: the barrier model's traffic light.
PROVIDER_RISK_CHANGED: Final = "scoring.provider-risk-changed.v1"

# Notify: delivery outcomes, for audit.
ALERT_DELIVERED: Final = "notify.alert-delivered.v1"
ALERT_FAILED: Final = "notify.alert-failed.v1"

PARTNER_TOPICS: Final[tuple[str, ...]] = (PARTNER_IGJ, PARTNER_POLICE, PARTNER_ACCESS_TEAM)
"""The partner-format topics intake consumes."""

PARTNER_TOPIC_BY_SOURCE: Final[Mapping[Source, str]] = MappingProxyType(
    {
        Source.IGJ: PARTNER_IGJ,
        Source.POLICE: PARTNER_POLICE,
        Source.ACCESS_TEAM: PARTNER_ACCESS_TEAM,
    }
)
"""The partner topic of each source that publishes on Kafka (the others use HTTP)."""

ALL_TOPICS: Final[tuple[str, ...]] = (
    *PARTNER_TOPICS,
    SIGNAL_RECEIVED,
    SIGNAL_REJECTED,
    PROVIDER_REGISTERED,
    INDICATORS_REPORTED,
    SIGNAL_ASSESSED,
    INVESTIGATION_CHANGED,
    PROVIDER_RISK_CHANGED,
    ALERT_DELIVERED,
    ALERT_FAILED,
)
"""Every business topic, in pipeline order; dead-letter topics are derived per consumed topic."""

COMPACTED_TOPICS: Final[frozenset[str]] = frozenset({PROVIDER_REGISTERED})
"""Topics created with ``cleanup.policy=compact``: the latest value per key is the state."""

DEAD_LETTER_SUFFIX: Final = ".dlq"

DEAD_LETTER_TOPIC_PATTERN: Final = r"^.+\.dlq$"
"""A regular expression matching every dead-letter topic, for a pattern subscription."""

# Kafka's own rule for topic names (legal characters, at most 249 of them).
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def is_dead_letter_topic(topic: str) -> bool:
    """Whether ``topic`` is a dead-letter topic (``<topic>.dlq``)."""
    return topic.endswith(DEAD_LETTER_SUFFIX)


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic of ``topic``: ``f"{topic}.dlq"``.

    Args:
        topic: The topic a consumer reads.

    Returns:
        The topic its poison messages go to.

    Raises:
        ValueError: When ``topic`` is not a legal Kafka topic name, or is itself a dead-letter
            topic (a dead letter is never dead-lettered again: that would loop).
    """
    if is_dead_letter_topic(topic):
        raise ValueError(f"{topic!r} is already a dead-letter topic")
    result = f"{topic}{DEAD_LETTER_SUFFIX}"
    if not _TOPIC_NAME.fullmatch(result):
        raise ValueError(f"{topic!r} is not a legal Kafka topic name")
    return result
