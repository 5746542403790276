"""Every event's ``data`` model, and the registry of models by CloudEvents type."""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from zicht_schemas.events._base import EventData, WireModel
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
from zicht_schemas.events.scoring import Contribution, ProviderRiskChangedV1
from zicht_schemas.events.triage import (
    InvestigationChangedV1,
    InvestigationLink,
    Reassessment,
    RuleFired,
    SignalAssessedV1,
)

__all__ = [
    "EVENT_MODELS",
    "AlertDeliveredV1",
    "AlertFailedV1",
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
    "Reassessment",
    "RejectionReason",
    "RuleFired",
    "ShortcomingFinding",
    "SignalAssessedV1",
    "SignalLocation",
    "SignalProvider",
    "SignalReceivedV1",
    "SignalRejectedV1",
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


def model_for_type(event_type: str) -> type[EventData]:
    """The data model of a CloudEvents ``type``.

    Raises:
        KeyError: When Zicht knows no such type.
    """
    try:
        return EVENT_MODELS[event_type]
    except KeyError:
        raise KeyError(f"unknown event type {event_type!r}") from None
