"""Events notify publishes: the outcome of delivering an alert, for audit."""

from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field, StringConstraints

from zicht_schemas import topics
from zicht_schemas.codes import AlertFailureReason, SubscriberKind
from zicht_schemas.events._base import EventData
from zicht_schemas.values import EventType, Identifier, ProviderId, UtcDateTime

__all__ = ["AlertDeliveredV1", "AlertFailedV1", "WebhookId"]

WebhookId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
"""The Standard Webhooks ``webhook-id``: the same on every attempt of one alert."""


class AlertDeliveredV1(EventData):
    """An alert reached its receiver (melding afgeleverd).

    Key: subscriber id, so one subscriber's audit trail is in order.
    """

    EVENT_TYPE: ClassVar[str] = "nl.zorgtoezicht.alert.delivered.v1"
    TOPIC: ClassVar[str] = topics.ALERT_DELIVERED

    alert_id: UUID = Field(description="Notify's id of the alert.")
    webhook_id: WebhookId = Field(description="The webhook-id header the receiver saw.")
    subscriber_id: Identifier = Field(
        description="The receiving party: a CBS code for a municipality, or a casus-table id."
    )
    subscriber_kind: SubscriberKind = Field(description="What kind of party the subscriber is.")
    subscription_id: UUID = Field(description="The subscription the alert was sent under.")
    provider_id: ProviderId = Field(description="The provider the alert is about.")
    source_event_id: UUID = Field(description="CloudEvent id of the event that caused the alert.")
    source_event_type: EventType = Field(
        description="CloudEvent type of the event that caused the alert."
    )
    attempts: int = Field(ge=1, description="How many delivery attempts it took.")
    last_status_code: int = Field(
        ge=200, le=299, description="The receiver's HTTP status on the successful attempt."
    )
    delivered_at: UtcDateTime = Field(description="When the receiver accepted it (UTC).")

    def partition_key(self) -> bytes:
        """Alert outcomes are keyed by subscriber id."""
        return self.subscriber_id.encode()


class AlertFailedV1(EventData):
    """An alert could not be delivered and waits in the operators' failed queue.

    Key: subscriber id.
    """

    EVENT_TYPE: ClassVar[str] = "nl.zorgtoezicht.alert.failed.v1"
    TOPIC: ClassVar[str] = topics.ALERT_FAILED

    alert_id: UUID = Field(description="Notify's id of the alert.")
    webhook_id: WebhookId | None = Field(
        default=None, description="The webhook-id used, absent when nothing was sent."
    )
    subscriber_id: Identifier = Field(
        description="The party that should have been told: a CBS code or a casus-table id."
    )
    subscriber_kind: SubscriberKind = Field(description="What kind of party the subscriber is.")
    subscription_id: UUID | None = Field(
        default=None, description="The subscription, absent when the party has none."
    )
    provider_id: ProviderId = Field(description="The provider the alert is about.")
    source_event_id: UUID = Field(description="CloudEvent id of the event that caused the alert.")
    source_event_type: EventType = Field(
        description="CloudEvent type of the event that caused the alert."
    )
    attempts: int = Field(ge=0, description="How many delivery attempts were made (0: none).")
    last_status_code: int | None = Field(
        default=None,
        ge=100,
        le=599,
        description="The receiver's HTTP status on the last attempt; absent when there was no "
        "response (timeout, connection refused) or no attempt.",
    )
    failed_at: UtcDateTime = Field(description="When notify gave up (UTC).")
    failure_reason: AlertFailureReason = Field(description="Why the alert was not delivered.")

    def partition_key(self) -> bytes:
        """Alert outcomes are keyed by subscriber id."""
        return self.subscriber_id.encode()
