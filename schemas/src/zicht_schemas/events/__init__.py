"""Every event's and webhook's ``data`` model, and the registries of models by CloudEvents type.

Two registries: ``EVENT_MODELS`` for the events on Kafka topics, ``WEBHOOK_MODELS`` for what
notify POSTs to subscribers (see :mod:`zicht_schemas.events.webhooks` for why they are apart).
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from zicht_schemas.events._base import EventData, WebhookData, WireModel
from zicht_schemas.events.dead_letter import DeadLetteredV1, EncodedBytes, OriginalHeader
from zicht_schemas.events.intake import (
    IndicatorsReportedV1,
    IndicatorValue,
    ProviderLocation,
    ProviderRegisteredV1,
    RejectionReason,
    ShortcomingFinding,
    SignalLocation,
    SignalProvider,
    SignalReceivedV1,
    SignalRejectedV1,
)
from zicht_schemas.events.notify import AlertDeliveredV1, AlertFailedV1
from zicht_schemas.events.scoring import (
    MAX_SIGNAL_CONTRIBUTIONS,
    Contribution,
    ProviderRiskChangedV1,
)
from zicht_schemas.events.triage import (
    InvestigationChangedV1,
    InvestigationLink,
    Reassessment,
    RuleFired,
    SignalAssessedV1,
)
from zicht_schemas.events.webhooks import (
    ALERT_EVENT_TYPE,
    VERIFICATION_EVENT_TYPE,
    AlertCounts,
    AlertKind,
    AlertProvider,
    AlertReason,
    AlertRecipient,
    AlertV1,
    ReasonSource,
    VerificationV1,
)

__all__ = [
    "ALERT_EVENT_TYPE",
    "EVENT_MODELS",
    "MAX_SIGNAL_CONTRIBUTIONS",
    "VERIFICATION_EVENT_TYPE",
    "WEBHOOK_MODELS",
    "AlertCounts",
    "AlertDeliveredV1",
    "AlertFailedV1",
    "AlertKind",
    "AlertProvider",
    "AlertReason",
    "AlertRecipient",
    "AlertV1",
    "Contribution",
    "DeadLetteredV1",
    "EncodedBytes",
    "EventData",
    "IndicatorValue",
    "IndicatorsReportedV1",
    "InvestigationChangedV1",
    "InvestigationLink",
    "OriginalHeader",
    "ProviderLocation",
    "ProviderRegisteredV1",
    "ProviderRiskChangedV1",
    "ReasonSource",
    "Reassessment",
    "RejectionReason",
    "RuleFired",
    "ShortcomingFinding",
    "SignalAssessedV1",
    "SignalLocation",
    "SignalProvider",
    "SignalReceivedV1",
    "SignalRejectedV1",
    "VerificationV1",
    "WebhookData",
    "WireModel",
    "model_for_type",
]

_MODELS: Final[tuple[type[EventData], ...]] = (
    SignalReceivedV1,
    SignalRejectedV1,
    ProviderRegisteredV1,
    IndicatorsReportedV1,
    SignalAssessedV1,
    InvestigationChangedV1,
    ProviderRiskChangedV1,
    AlertDeliveredV1,
    AlertFailedV1,
    DeadLetteredV1,
)

EVENT_MODELS: Final[Mapping[str, type[EventData]]] = MappingProxyType(
    {model.EVENT_TYPE: model for model in _MODELS}
)
"""Every event's data model by CloudEvents ``type``; read-only, so no service can add to it."""

_WEBHOOK_MODELS: Final[tuple[type[WebhookData], ...]] = (AlertV1, VerificationV1)

WEBHOOK_MODELS: Final[Mapping[str, type[WebhookData]]] = MappingProxyType(
    {model.EVENT_TYPE: model for model in _WEBHOOK_MODELS}
)
"""Every webhook payload's data model by CloudEvents ``type``: on no topic, POSTed by notify."""


def model_for_type(event_type: str) -> type[EventData]:
    """The data model of a Kafka event's CloudEvents ``type`` (webhooks: ``WEBHOOK_MODELS``).

    Raises:
        KeyError: When Zicht knows no such event type.
    """
    try:
        return EVENT_MODELS[event_type]
    except KeyError:
        raise KeyError(f"unknown event type {event_type!r}") from None
