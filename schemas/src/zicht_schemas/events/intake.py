"""Events intake publishes: received and rejected signals, the provider registry, indicators.

No event carries free text from a partner: descriptions and remarks stay in intake's store.
"""

from datetime import date
from typing import ClassVar, Self
from uuid import UUID

from pydantic import Field, FiniteFloat, model_validator

from zicht_schemas import topics
from zicht_schemas.codes import (
    CareService,
    Category,
    CrimeIndicator,
    IndicatorCode,
    IndicatorSource,
    IndicatorValueKind,
    Law,
    LegalForm,
    ProviderMatch,
    RejectionCode,
    Severity,
    Shortcoming,
    ShortcomingKind,
    Source,
    VulnerableGroup,
)
from zicht_schemas.events._base import EventData, WireModel, unique
from zicht_schemas.values import (
    AgbCode,
    FieldPath,
    Identifier,
    KvkNumber,
    Label,
    MunicipalityCode,
    PartnerReference,
    Postcode,
    ProviderId,
    Pseudonym,
    RuleText,
    UtcDateTime,
)

__all__ = [
    "IndicatorValue",
    "IndicatorsReportedV1",
    "ProviderLocation",
    "ProviderRegisteredV1",
    "RejectionReason",
    "ShortcomingFinding",
    "SignalLocation",
    "SignalProvider",
    "SignalReceivedV1",
    "SignalRejectedV1",
]


class SignalProvider(WireModel):
    """The provider (zorgaanbieder) a signal is about, as intake identified it."""

    provider_id: ProviderId = Field(description="Zicht's provider id (registry id).")
    name: Label = Field(description="The provider's registered name (statutaire naam).")
    kvk: KvkNumber | None = Field(
        default=None, description="Chamber of Commerce number (KvK-nummer), 8 digits, if known."
    )
    agb: AgbCode | None = Field(
        default=None, description="Care-provider code (AGB-code), 8 digits, if known."
    )
    matched_by: ProviderMatch = Field(
        description="How intake identified the provider from the partner's submission."
    )


class SignalLocation(WireModel):
    """The care location a signal is about; its municipality is the one concerned."""

    postcode: Postcode | None = Field(
        default=None, description="Postcode of the location (e.g. 7511AB), if known."
    )
    municipality_code: MunicipalityCode = Field(
        description="CBS code of the municipality where the location is (gemeentecode)."
    )
    location_id: Identifier | None = Field(
        default=None, description="Registry id of the location, when intake matched one."
    )


class ShortcomingFinding(WireModel):
    """A shortcoming (tekortkoming) reported with a signal, with its kind."""

    code: Shortcoming = Field(description="Which shortcoming.")
    kind: ShortcomingKind = Field(
        description="Quick (snel herstelbaar) or complex; must match the code's fixed kind."
    )

    @model_validator(mode="after")
    def _kind_matches_code(self) -> Self:
        if self.code.kind is not self.kind:
            raise ValueError(f"shortcoming {self.code.value} is {self.code.kind.value}")
        return self


class SignalReceivedV1(EventData):
    """A partner's signal (signaal, melding), canonical and pseudonymised by intake.

    Key: provider id. Carries no BSN, no client name and no free text.
    """

    EVENT_TYPE: ClassVar[str] = "nl.zorgtoezicht.signal.received.v1"
    TOPIC: ClassVar[str] = topics.SIGNAL_RECEIVED

    signal_id: UUID = Field(description="Zicht's id of this signal; stable across redeliveries.")
    submission_id: UUID = Field(
        description="Intake's id of the raw submission the signal came from (stays in intake)."
    )
    source: Source = Field(description="Who reported the signal (melder).")
    partner_id: Identifier = Field(description="The authenticated partner that submitted it.")
    partner_reference: PartnerReference = Field(
        description="The partner's own reference for the signal (zaaknummer of the partner)."
    )
    received_at: UtcDateTime = Field(description="When intake stored the submission (UTC).")
    occurred_at: UtcDateTime = Field(
        description="When the reported matter happened (UTC), as the partner states it; "
        "intake uses received_at when the partner gives no moment."
    )
    provider: SignalProvider = Field(description="The provider the signal is about.")
    location: SignalLocation = Field(description="The care location concerned.")
    law: Law = Field(description="The law under which the care is provided (Wmo, Jeugdwet, Wlz).")
    category: Category = Field(description="What the signal is about.")
    severity: Severity = Field(description="How serious the matter is (ernst).")
    vulnerable_group: VulnerableGroup = Field(
        description="The vulnerable target group involved, or none (kwetsbare doelgroep)."
    )
    crime_indicators: tuple[CrimeIndicator, ...] = Field(
        default=(), description="Indications of crime reported with the signal; no repeats."
    )
    fraud_suspected: bool = Field(
        default=False,
        description="The signaller suspects fraud (fraudevermoeden) without a substantiated "
        "crime indicator; with category legitimacy this is a criminal referral (rule 4).",
    )
    administrative_error: bool = Field(
        default=False,
        description="The partner marks it a billing or registration mistake without intent "
        "(administratieve fout).",
    )
    shortcomings: tuple[ShortcomingFinding, ...] = Field(
        default=(), description="Shortcomings reported, each with its kind; no code repeats."
    )
    client_pseudonyms: tuple[Pseudonym, ...] = Field(
        default=(),
        description="Pseudonyms of the clients involved: HMAC-SHA256 (hex) of each BSN under "
        "the region's secret. Never a BSN; no repeats.",
    )
    clients_involved: int = Field(
        default=0,
        ge=0,
        description="How many clients are involved; at least the number of pseudonyms "
        "(clients without a known BSN count too).",
    )

    def about_provider(self) -> str:
        """The provider id of the provider the signal is about."""
        return self.provider.provider_id

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        unique(self.crime_indicators, "crime_indicators")
        unique((s.code for s in self.shortcomings), "shortcomings")
        unique(self.client_pseudonyms, "client_pseudonyms")
        if self.clients_involved < len(self.client_pseudonyms):
            raise ValueError("clients_involved must be at least the number of client_pseudonyms")
        return self


class RejectionReason(WireModel):
    """One reason a submission was refused; names the field, never repeats its value."""

    field: FieldPath = Field(
        description="Where in the submission: dotted field names with list indexes in "
        "brackets (e.g. clients[0].bsn); '$' for the submission as a whole."
    )
    code: RejectionCode = Field(description="Why the field was refused.")
    message: RuleText = Field(
        description="A fixed, human-readable explanation from intake's catalogue; never "
        "contains the refused value."
    )


class SignalRejectedV1(EventData):
    """Intake refused a partner's submission (afgewezen melding), and why.

    Key: partner id. Never contains the refused personal data.
    """

    EVENT_TYPE: ClassVar[str] = "nl.zorgtoezicht.signal.rejected.v1"
    TOPIC: ClassVar[str] = topics.SIGNAL_REJECTED

    rejection_id: UUID = Field(description="Id of this rejection.")
    submission_id: UUID = Field(description="Intake's id of the refused raw submission.")
    partner_id: Identifier = Field(description="The partner that submitted it.")
    source: Source = Field(description="The source the partner submitted as.")
    partner_reference: PartnerReference | None = Field(
        default=None, description="The partner's own reference, if it could be read."
    )
    received_at: UtcDateTime = Field(description="When intake received the submission (UTC).")
    reasons: tuple[RejectionReason, ...] = Field(
        min_length=1, description="Every reason the submission was refused; at least one."
    )

    def partition_key(self) -> bytes:
        """Rejections are keyed by partner id: a partner reads its rejections in order."""
        return self.partner_id.encode()


class ProviderLocation(WireModel):
    """A care location of a provider (vestiging, zorglocatie)."""

    location_id: Identifier = Field(description="Registry id of the location.")
    name: Label = Field(description="The location's name.")
    postcode: Postcode = Field(description="Postcode of the location.")
    municipality_code: MunicipalityCode = Field(
        description="CBS code of the municipality where the location is."
    )
    services: tuple[CareService, ...] = Field(
        default=(), description="Kinds of care offered at the location; no repeats."
    )

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        unique(self.services, "services")
        return self


class ProviderRegisteredV1(EventData):
    """The registry's current view of a provider (zorgaanbieder).

    Key: provider id, on a compacted topic: the latest event per provider is its state. A
    provider leaving is ``active = false``, never a tombstone (a tombstone is no CloudEvent).
    """

    EVENT_TYPE: ClassVar[str] = "nl.zorgtoezicht.provider.registered.v1"
    TOPIC: ClassVar[str] = topics.PROVIDER_REGISTERED

    provider_id: ProviderId = Field(description="Zicht's provider id.")
    name: Label = Field(description="The provider's registered name.")
    kvk: KvkNumber | None = Field(
        default=None, description="Chamber of Commerce number (KvK-nummer), if known."
    )
    agb: AgbCode | None = Field(default=None, description="Care-provider code (AGB), if known.")
    legal_form: LegalForm | None = Field(
        default=None, description="Legal form (rechtsvorm), if known."
    )
    founded_on: date | None = Field(
        default=None, description="Date the provider was founded (datum oprichting), if known."
    )
    active: bool = Field(description="Whether the provider currently provides care in the region.")
    locations: tuple[ProviderLocation, ...] = Field(
        default=(), description="The provider's care locations; location ids do not repeat."
    )
    contracting_municipalities: tuple[MunicipalityCode, ...] = Field(
        default=(),
        description="CBS codes of the municipalities that contract the provider; no repeats.",
    )
    registry_version: int = Field(
        ge=1, description="Version of this provider's registry entry; rises with every change."
    )
    updated_at: UtcDateTime = Field(description="When the registry entry last changed (UTC).")

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        unique((loc.location_id for loc in self.locations), "locations")
        unique(self.contracting_municipalities, "contracting_municipalities")
        return self


class IndicatorValue(WireModel):
    """One barrier-model indicator value; an indicator not reported is unknown, not zero."""

    code: IndicatorCode = Field(description="Which indicator (policy section 2).")
    value: bool | FiniteFloat = Field(
        description="The value: a boolean for yes/no indicators, a number for ratios "
        "(0.5 = 50%) and a whole number of zero or more for counts."
    )

    @model_validator(mode="after")
    def _value_fits_code(self) -> Self:
        kind = self.code.value_kind
        if kind is IndicatorValueKind.FLAG and not isinstance(self.value, bool):
            raise ValueError(f"indicator {self.code.value} takes true or false")
        if kind is not IndicatorValueKind.FLAG and isinstance(self.value, bool):
            raise ValueError(f"indicator {self.code.value} takes a number")
        if kind is IndicatorValueKind.COUNT and (self.value < 0 or self.value != int(self.value)):
            raise ValueError(f"indicator {self.code.value} takes a whole number of zero or more")
        return self


class IndicatorsReportedV1(EventData):
    """Barrier-model indicators of a provider for one reporting year (risico-indicatoren).

    Key: provider id. A later report for the same provider, source and year replaces an
    earlier one.
    """

    EVENT_TYPE: ClassVar[str] = "nl.zorgtoezicht.indicators.reported.v1"
    TOPIC: ClassVar[str] = topics.INDICATORS_REPORTED

    report_id: UUID = Field(description="Id of this report.")
    provider_id: ProviderId = Field(description="Zicht's provider id.")
    source: IndicatorSource = Field(description="Where the values come from.")
    period_year: int = Field(
        ge=2000, le=2100, description="The reporting year the values describe (boekjaar)."
    )
    reported_at: UtcDateTime = Field(description="When the values were reported (UTC).")
    indicators: tuple[IndicatorValue, ...] = Field(
        default=(), description="The values known; each code at most once, absent = unknown."
    )

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        unique((i.code for i in self.indicators), "indicators")
        return self
