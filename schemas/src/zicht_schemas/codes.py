"""The vocabulary of Zicht's events: every code a partner, supervisor or service may send.

Values are lower-case ASCII and never change once published: a consumer may have stored them.
Adding a value is backward compatible for the JSON Schemas; removing or renaming one is a new
event version. Each enum keeps the Dutch term a supervisor would look for (see domain.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "SHORTCOMING_KIND",
    "AdviceTo",
    "AlertFailureReason",
    "CareService",
    "Category",
    "ContributionKind",
    "CrimeIndicator",
    "IndicatorCode",
    "IndicatorSource",
    "IndicatorValueKind",
    "InvestigationChange",
    "InvestigationDecision",
    "InvestigationRelation",
    "Law",
    "LegalForm",
    "Outcome",
    "PayloadEncoding",
    "Priority",
    "ProviderMatch",
    "RejectionCode",
    "RiskChangeReason",
    "RiskLevel",
    "Severity",
    "Shortcoming",
    "ShortcomingKind",
    "Source",
    "Strategy",
    "SubscriberKind",
    "VulnerableGroup",
]


class Source(StrEnum):
    """Who reported a signal (melder, bron van het signaal)."""

    IGJ = "igj"
    """Health and Youth Care Inspectorate (Inspectie Gezondheidszorg en Jeugd)."""
    POLICE = "police"
    """Police (politie): incidents such as violence, fire, raids, ammunition finds."""
    ACCESS_TEAM = "access_team"
    """A municipal access or neighbourhood team (toegang, wijkteam)."""
    CONTRACT_MANAGEMENT = "contract_management"
    """The contract manager of the municipality or region (contractmanagement)."""
    PROVIDER = "provider"
    """The provider itself, e.g. a mandatory calamity report (Meldingsprotocol Calamiteiten)."""
    RESIDENT = "resident"
    """A resident, client or relative (inwoner, cliënt, naaste)."""
    RIEC = "riec"
    """Regional information and expertise centre on organised crime (RIEC)."""
    OTHER = "other"
    """Any other partner (tax office, UWV, IKZ care-fraud hub, ...)."""


class Law(StrEnum):
    """The law under which the care concerned is provided (wettelijk kader)."""

    WMO = "wmo"
    """Social Support Act 2015 (Wmo 2015): sheltered housing, day care, household help."""
    JEUGDWET = "jeugdwet"
    """Youth Act (Jeugdwet): youth care."""
    WLZ = "wlz"
    """Long-term Care Act (Wlz): not municipal, supervised by IGJ and the care office."""
    UNKNOWN = "unknown"
    """The partner did not say and intake could not tell."""


class Category(StrEnum):
    """What a signal is about (soort signaal)."""

    CALAMITY = "calamity"
    """A calamity (calamiteit): an unintended event with serious harm to a client."""
    VIOLENCE = "violence"
    """A violence incident in the care relationship (geweldsincident)."""
    QUALITY = "quality"
    """Quality of care (kwaliteit)."""
    LEGITIMACY = "legitimacy"
    """Lawful use of care funds, suspected fraud (rechtmatigheid)."""
    FINANCIAL = "financial"
    """Financial distress: bankruptcy, unpaid wages (financiële signalen)."""
    GOVERNANCE = "governance"
    """Governance and management of the provider (bestuur, governance)."""
    OTHER = "other"
    """Anything else."""


class Severity(StrEnum):
    """How serious the reported matter is, as intake normalised it (ernst)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class VulnerableGroup(StrEnum):
    """The vulnerable target group involved, if any (kwetsbare doelgroep)."""

    YOUTH = "youth"
    """Children and young people (jeugd)."""
    SHELTERED_HOUSING = "sheltered_housing"
    """Residents of sheltered housing (Beschermd Wonen)."""
    COMPLEX_CARE = "complex_care"
    """Clients with complex care needs (complexe zorg)."""
    NONE = "none"
    """No vulnerable group is involved."""


class CrimeIndicator(StrEnum):
    """An indication of crime reported with a signal (strafrechtelijke indicator).

    Any of these makes a signal a criminal referral under the 2025.1 framework (rule 4).
    """

    RAID = "raid"
    """Police raid or search at a location (inval, doorzoeking)."""
    AMMUNITION = "ammunition"
    """Ammunition found (munitie aangetroffen)."""
    WEAPONS = "weapons"
    """Weapons found or used (wapens)."""
    DRUGS = "drugs"
    """Drugs found or drug trade (drugs)."""
    MONEY_LAUNDERING = "money_laundering"
    """Suspected money laundering (witwassen)."""
    FORGERY = "forgery"
    """Forged documents, e.g. invoices or care plans (valsheid in geschrifte)."""
    HUMAN_EXPLOITATION = "human_exploitation"
    """Exploitation of clients or staff (uitbuiting)."""
    FRAUD_SUSPICION = "fraud_suspicion"
    """A partner's explicit, substantiated suspicion of care fraud (fraudevermoeden)."""
    DIPLOMA_FRAUD = "diploma_fraud"
    """Forged or false diplomas of staff (diplomafraude)."""


class ShortcomingKind(StrEnum):
    """Whether a shortcoming is quickly recoverable (decides QuickScan vs full investigation)."""

    QUICK = "quick"
    """Quickly recoverable (snel herstelbaar): a QuickScan suffices."""
    COMPLEX = "complex"
    """Complex to recover (complex): needs a full investigation."""


class Shortcoming(StrEnum):
    """A shortcoming of the provider reported with a signal (tekortkoming)."""

    INSURANCE = "insurance"
    """No valid liability insurance (verzekering)."""
    CERTIFICATION = "certification"
    """No valid quality certification (certificering, keurmerk)."""
    REGISTRATION = "registration"
    """Missing registrations, e.g. in the care register (registratie)."""
    REPORTING = "reporting"
    """Mandatory reports or accounts not filed (verantwoording, meldplicht)."""
    HOUSING = "housing"
    """Unsuitable housing for the clients (geen passende huisvesting)."""
    STAFF_QUALIFICATION = "staff_qualification"
    """Staff insufficiently trained or qualified (onvoldoende gekwalificeerd personeel)."""
    STAFF_NUMBERS = "staff_numbers"
    """Too few staff for the care promised (onderbezetting)."""
    SAFETY = "safety"
    """Unsafe situation for clients (onveiligheid)."""
    CARE_PLANS = "care_plans"
    """Care plans missing or not followed (zorgplannen, ondersteuningsplannen)."""

    @property
    def kind(self) -> ShortcomingKind:
        """Whether this shortcoming is quickly recoverable or complex (policy section 1)."""
        return SHORTCOMING_KIND[self]


SHORTCOMING_KIND: Mapping[Shortcoming, ShortcomingKind] = MappingProxyType(
    {
        Shortcoming.INSURANCE: ShortcomingKind.QUICK,
        Shortcoming.CERTIFICATION: ShortcomingKind.QUICK,
        Shortcoming.REGISTRATION: ShortcomingKind.QUICK,
        Shortcoming.REPORTING: ShortcomingKind.QUICK,
        Shortcoming.HOUSING: ShortcomingKind.COMPLEX,
        Shortcoming.STAFF_QUALIFICATION: ShortcomingKind.COMPLEX,
        Shortcoming.STAFF_NUMBERS: ShortcomingKind.COMPLEX,
        Shortcoming.SAFETY: ShortcomingKind.COMPLEX,
        Shortcoming.CARE_PLANS: ShortcomingKind.COMPLEX,
    }
)
"""Every shortcoming's kind; a contract, so a code's kind never changes within a version."""


class Outcome(StrEnum):
    """The outcome of assessing a signal against the assessment framework (afwegingskader)."""

    INVESTIGATE = "investigate"
    """Worth investigating (onderzoekwaardig)."""
    CRIMINAL_REFERRAL = "criminal_referral"
    """Criminally worth investigating (strafrechtelijk onderzoekwaardig): casus table, RIEC."""
    ADMINISTRATIVE_ERROR = "administrative_error"
    """An administrative error without intent (administratieve fout)."""
    NO_INVESTIGATION = "no_investigation"
    """Not worth investigating (niet onderzoekwaardig)."""
    FOR_INFORMATION = "for_information"
    """For information (ter kennisname); scoring still weighs it."""
    BUNDLE = "bundle"
    """Bundled with the provider's open investigation (bundelen bij lopend onderzoek)."""
    OUT_OF_SCOPE = "out_of_scope"
    """Not municipal (Wlz): referred to IGJ and the care office (buiten scope)."""
    REFER_TO_IGJ = "refer_to_igj"
    """Youth-care quality: referred to IGJ, the municipality is informed (doorverwijzen IGJ)."""
    OUT_OF_REGION = "out_of_region"
    """The provider has no relation to the region (buiten de regio)."""


class Strategy(StrEnum):
    """How an investigation is carried out (onderzoeksstrategie)."""

    QUICKSCAN = "quickscan"
    """A QuickScan: every shortcoming is quickly recoverable."""
    FULL_INVESTIGATION = "full_investigation"
    """A full investigation (volledig onderzoek)."""


class Priority(StrEnum):
    """Urgency of an assessed signal (prioriteit); P1 is the most urgent."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        """1 for P1 (most urgent) up to 4 for P4; sort ascending for most urgent first."""
        return int(self.value[1:])


class AdviceTo(StrEnum):
    """Who triage advises with its decision (advies)."""

    SIGNALLER = "signaller"
    """Advice to the signaller (advies aan de melder)."""
    CONTRACT_MANAGER = "contract_manager"
    """Advice to the contract manager (advies aan contractmanagement)."""


class InvestigationRelation(StrEnum):
    """How an assessed signal relates to an investigation of its provider."""

    OPENED = "opened"
    """The signal opened the investigation (aanleiding)."""
    BUNDLED = "bundled"
    """The signal was bundled with the open investigation, for information (gebundeld)."""
    LINKED = "linked"
    """The signal had its own outcome (criminal referral, calamity) and is linked to it."""


class InvestigationChange(StrEnum):
    """What happened to an investigation (onderzoek)."""

    OPENED = "opened"
    """The investigation was opened (onderzoek gestart)."""
    SIGNAL_BUNDLED = "signal_bundled"
    """A signal was bundled with it (signaal gebundeld)."""
    SIGNAL_LINKED = "signal_linked"
    """A signal with its own outcome was linked to it (signaal gekoppeld)."""
    CLOSED = "closed"
    """Supervisors closed it with a decision (onderzoek afgerond)."""


class InvestigationDecision(StrEnum):
    """The decision that closes an investigation (besluit)."""

    NO_FINDINGS = "no_findings"
    """Nothing found (geen bevindingen); the bundled signals no longer weigh in the score."""
    IMPROVEMENT_PLAN = "improvement_plan"
    """A corrective improvement plan with monitoring (verbeterplan)."""
    CONTRACT_DISSOLVED = "contract_dissolved"
    """The contract was dissolved (ontbinding contract); the provider is held at red."""


class RiskLevel(StrEnum):
    """A provider's traffic light in the barrier model (stoplicht, barrièremodel)."""

    GREEN = "green"
    ORANGE = "orange"
    RED = "red"

    @property
    def rank(self) -> int:
        """0 for green, 1 for orange, 2 for red; compare ranks, never the strings."""
        return _RISK_RANK[self]

    def is_higher_than(self, other: RiskLevel) -> bool:
        """Whether this level is more severe than ``other`` (a rise from other to self)."""
        return self.rank > other.rank

    def is_lower_than(self, other: RiskLevel) -> bool:
        """Whether this level is less severe than ``other`` (a fall from other to self)."""
        return self.rank < other.rank

    @classmethod
    def highest(cls, levels: Iterable[RiskLevel]) -> RiskLevel:
        """The most severe of ``levels``; green when there are none."""
        return max(levels, key=lambda level: level.rank, default=cls.GREEN)


_RISK_RANK: Mapping[RiskLevel, int] = MappingProxyType(
    {RiskLevel.GREEN: 0, RiskLevel.ORANGE: 1, RiskLevel.RED: 2}
)


class IndicatorValueKind(StrEnum):
    """The kind of value an indicator carries, which decides how it is validated."""

    RATIO = "ratio"
    """A number, usually a fraction (0.5 = 50%); may be negative (e.g. negative equity)."""
    COUNT = "count"
    """A whole number of zero or more."""
    FLAG = "flag"
    """A yes/no answer."""


class IndicatorCode(StrEnum):
    """A barrier-model risk indicator (risico-indicator, barrièremodel); policy section 2."""

    EQUITY_RATIO = "equity_ratio"
    """Equity / total assets (solvabiliteit)."""
    PERSONNEL_COST_RATIO = "personnel_cost_ratio"
    """Personnel costs / revenue (personeelskosten t.o.v. omzet)."""
    PROFIT_MARGIN = "profit_margin"
    """Profit / revenue (winstmarge)."""
    INDICATION_REALISATION = "indication_realisation"
    """Share of indications realised (verzilvering van indicaties)."""
    GOVERNANCE_CHANGES_3Y = "governance_changes_3y"
    """Changes of directors or legal form in the last 3 years (bestuurswisselingen)."""
    REAL_ESTATE_RELATED_PARTY = "real_estate_related_party"
    """Real estate rented from a director or related party (vastgoed van gelieerde partij)."""
    DIRECTOR_PRIOR_BANKRUPTCY = "director_prior_bankruptcy"
    """A director linked to an earlier bankruptcy (eerder faillissement bestuurder)."""
    DIRECTOR_PAY_ABOVE_WNT = "director_pay_above_wnt"
    """Director pay above the public-sector norm (bezoldiging boven WNT-norm)."""
    SELF_EMPLOYED_SHARE = "self_employed_share"
    """Share of revenue paid to self-employed contractors (inhuur zzp'ers)."""
    HIGH_RISK_SECTOR_LINKS = "high_risk_sector_links"
    """Links to high-risk sectors: hospitality, car trade, cash-intensive (risicobranches)."""
    DIRECTOR_EDUCATION_RELEVANT = "director_education_relevant"
    """Directors' education relevant to care (relevante opleiding bestuurders)."""
    PROVIDER_YOUNGER_THAN_TWO_YEARS = "provider_younger_than_two_years"
    """The provider was founded less than two years ago (jonge onderneming)."""
    CERTIFICATION_AND_INSURANCE_MISSING = "certification_and_insurance_missing"
    """How many of certification and liability insurance are missing: 0, 1 or 2."""
    DIPLOMA_FRAUD = "diploma_fraud"
    """Diploma fraud established (diplomafraude vastgesteld)."""

    @property
    def value_kind(self) -> IndicatorValueKind:
        """The kind of value this indicator carries (ratio, count or flag)."""
        return _INDICATOR_VALUE_KIND[self]


_INDICATOR_VALUE_KIND: Mapping[IndicatorCode, IndicatorValueKind] = MappingProxyType(
    {
        IndicatorCode.EQUITY_RATIO: IndicatorValueKind.RATIO,
        IndicatorCode.PERSONNEL_COST_RATIO: IndicatorValueKind.RATIO,
        IndicatorCode.PROFIT_MARGIN: IndicatorValueKind.RATIO,
        IndicatorCode.INDICATION_REALISATION: IndicatorValueKind.RATIO,
        IndicatorCode.GOVERNANCE_CHANGES_3Y: IndicatorValueKind.COUNT,
        IndicatorCode.REAL_ESTATE_RELATED_PARTY: IndicatorValueKind.FLAG,
        IndicatorCode.DIRECTOR_PRIOR_BANKRUPTCY: IndicatorValueKind.FLAG,
        IndicatorCode.DIRECTOR_PAY_ABOVE_WNT: IndicatorValueKind.FLAG,
        IndicatorCode.SELF_EMPLOYED_SHARE: IndicatorValueKind.RATIO,
        IndicatorCode.HIGH_RISK_SECTOR_LINKS: IndicatorValueKind.FLAG,
        IndicatorCode.DIRECTOR_EDUCATION_RELEVANT: IndicatorValueKind.FLAG,
        IndicatorCode.PROVIDER_YOUNGER_THAN_TWO_YEARS: IndicatorValueKind.FLAG,
        IndicatorCode.CERTIFICATION_AND_INSURANCE_MISSING: IndicatorValueKind.COUNT,
        IndicatorCode.DIPLOMA_FRAUD: IndicatorValueKind.FLAG,
    }
)


class IndicatorSource(StrEnum):
    """Where a set of indicator values comes from."""

    ANNUAL_ACCOUNTS = "annual_accounts"
    """The provider's annual accounts (jaarrekening, e.g. via Annual Insights)."""
    CONTRACT_MANAGEMENT = "contract_management"
    """Contract management's own findings (contractmanagement)."""
    SUPERVISION = "supervision"
    """Established by supervisors in an investigation (toezicht), e.g. diploma fraud."""


class ProviderMatch(StrEnum):
    """How intake identified the provider a signal is about."""

    KVK = "kvk"
    """By Chamber of Commerce number (KvK-nummer)."""
    AGB = "agb"
    """By care-provider code (AGB-code)."""
    NAME_AND_POSTCODE = "name_and_postcode"
    """By name and the postcode of a location (naam en postcode)."""
    REGISTRY_ID = "registry_id"
    """By Zicht's own provider id, given by the partner."""


class CareService(StrEnum):
    """A kind of care offered at a location (voorziening)."""

    SHELTERED_HOUSING = "sheltered_housing"
    """Sheltered housing (Beschermd Wonen), Wmo."""
    YOUTH = "youth"
    """Youth care (jeugdhulp), Jeugdwet."""
    DAY_CARE = "day_care"
    """Day care and activities (dagbesteding), Wmo."""
    HOUSEHOLD_HELP = "household_help"
    """Household help (hulp bij het huishouden), Wmo."""
    GUIDANCE = "guidance"
    """Individual or group guidance (begeleiding), Wmo."""


class LegalForm(StrEnum):
    """The provider's legal form (rechtsvorm), as registered with the Chamber of Commerce."""

    BV = "bv"
    """Private limited company (besloten vennootschap)."""
    NV = "nv"
    """Public limited company (naamloze vennootschap)."""
    STICHTING = "stichting"
    """Foundation (stichting)."""
    VERENIGING = "vereniging"
    """Association (vereniging)."""
    COOPERATIE = "cooperatie"
    """Cooperative (coöperatie)."""
    EENMANSZAAK = "eenmanszaak"
    """Sole proprietorship (eenmanszaak)."""
    VOF = "vof"
    """General partnership (vennootschap onder firma)."""
    MAATSCHAP = "maatschap"
    """Professional partnership (maatschap)."""
    CV = "cv"
    """Limited partnership (commanditaire vennootschap)."""
    OTHER = "other"
    """Any other legal form."""


class SubscriberKind(StrEnum):
    """What kind of party receives alerts (afnemer)."""

    MUNICIPALITY = "municipality"
    """A municipality (gemeente)."""
    CASUS_TABLE = "casus_table"
    """A casus table (casustafel), e.g. a care-fraud table with RIEC."""
    IGJ = "igj"
    """The Health and Youth Care Inspectorate (IGJ)."""
    SUPERVISORS = "supervisors"
    """The region's supervisors (toezichthouders)."""


class ContributionKind(StrEnum):
    """What a contribution to a provider's risk score comes from."""

    INDICATOR = "indicator"
    """A barrier-model indicator; the ref is its indicator code."""
    SIGNAL = "signal"
    """An assessed signal; the ref is the signal id."""
    INVESTIGATION = "investigation"
    """An investigation decision (e.g. improvement plan); the ref is the investigation id."""
    HOLD = "hold"
    """A hold at a level (contract dissolved); the ref is the investigation id."""


class RiskChangeReason(StrEnum):
    """Why a provider's risk was evaluated again."""

    EVENT = "event"
    """A relevant event arrived (signal assessed, indicators, investigation)."""
    DECAY = "decay"
    """The daily re-evaluation: signal points decay with age."""
    REPLAY = "replay"
    """A replay under a new risk model version."""


class AlertFailureReason(StrEnum):
    """Why an alert could not be delivered."""

    RETRIES_EXHAUSTED = "retries_exhausted"
    """Every attempt failed with a retryable error (5xx, timeout, connection)."""
    REJECTED_BY_RECEIVER = "rejected_by_receiver"
    """The receiver answered with a non-retryable client error (4xx)."""
    ENDPOINT_GONE = "endpoint_gone"
    """The receiver answered 410 Gone: the subscription is disabled."""
    NO_SUBSCRIPTION = "no_subscription"
    """The party that should be told has no subscription (recorded as undeliverable)."""
    SUBSCRIPTION_DISABLED = "subscription_disabled"
    """The subscription exists but is disabled."""


class RejectionCode(StrEnum):
    """Why intake refused (part of) a submission; never echoes the refused value."""

    MALFORMED_PAYLOAD = "malformed_payload"
    """The submission is not valid JSON or not in the partner's agreed format."""
    MISSING_FIELD = "missing_field"
    """A required field is absent."""
    INVALID_VALUE = "invalid_value"
    """A field has a value of the wrong type or format."""
    UNKNOWN_CODE = "unknown_code"
    """A code is not in the agreed vocabulary."""
    SOURCE_NOT_PERMITTED = "source_not_permitted"
    """The partner may not submit signals of this source."""
    PROVIDER_NOT_IDENTIFIED = "provider_not_identified"
    """No provider could be identified from KvK, AGB, or name and postcode."""
    PERSONAL_DATA_NOT_ALLOWED = "personal_data_not_allowed"
    """Personal data (e.g. a BSN) in a field that must not carry it."""
    OCCURRED_IN_FUTURE = "occurred_in_future"
    """The reported moment lies in the future."""
    DUPLICATE_REFERENCE = "duplicate_reference"
    """The partner reference was already used for a different submission."""


class PayloadEncoding(StrEnum):
    """How raw bytes of a dead-lettered message are written as text."""

    UTF8 = "utf-8"
    """The bytes were valid UTF-8 and are written as that text."""
    BASE64 = "base64"
    """The bytes were not valid UTF-8 and are written in standard base64 (RFC 4648)."""
