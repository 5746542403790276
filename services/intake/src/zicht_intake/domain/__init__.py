"""Pure, synchronous domain code of intake: no I/O.

Partner formats to canonical signals (:mod:`signals`), the provider registry (:mod:`registry`),
indicator reports (:mod:`indicators`), provider identification (:mod:`identify`), personal data
(:mod:`privacy`), and the problems intake reports back (:mod:`problems`).
"""

from zicht_intake.domain import limits
from zicht_intake.domain.identify import (
    Identification,
    RegistryLocation,
    RegistryProvider,
    complete,
    derive_law,
    derive_vulnerable_group,
    identify,
)
from zicht_intake.domain.indicators import (
    IndicatorReport,
    IndicatorsCsvReport,
    normalise_indicators,
    parse_indicators_csv,
)
from zicht_intake.domain.names import (
    normalise_postcode,
    provider_name_key,
    resolve_municipality,
)
from zicht_intake.domain.privacy import Pseudonymiser, is_valid_bsn, mask_free_text
from zicht_intake.domain.problems import (
    Detail,
    IntakeWarning,
    Refusal,
    Rejection,
    WarningCode,
)
from zicht_intake.domain.registry import (
    PROVIDER_ID_PATTERN,
    EntryLocation,
    RegistryCsvProvider,
    RegistryEntry,
    normalise_registry,
    parse_registry_csv,
    registry_locations,
)
from zicht_intake.domain.signals import (
    CsvRow,
    InvolvedPerson,
    PartnerContact,
    ProviderHint,
    SignalDraft,
    normalise_igj,
    normalise_police,
    parse_access_team_csv,
    reference_of,
)
from zicht_intake.domain.statuses import ItemStatus, SubmissionStatus
from zicht_intake.domain.validation import (
    PartnerFormat,
    canonical_json,
    format_schema,
    parse_json,
    validate_json,
)

__all__ = [
    "PROVIDER_ID_PATTERN",
    "CsvRow",
    "Detail",
    "EntryLocation",
    "Identification",
    "IndicatorReport",
    "IndicatorsCsvReport",
    "IntakeWarning",
    "InvolvedPerson",
    "ItemStatus",
    "PartnerContact",
    "PartnerFormat",
    "ProviderHint",
    "Pseudonymiser",
    "Refusal",
    "RegistryCsvProvider",
    "RegistryEntry",
    "RegistryLocation",
    "RegistryProvider",
    "Rejection",
    "SignalDraft",
    "SubmissionStatus",
    "WarningCode",
    "canonical_json",
    "complete",
    "derive_law",
    "derive_vulnerable_group",
    "format_schema",
    "identify",
    "is_valid_bsn",
    "limits",
    "mask_free_text",
    "normalise_igj",
    "normalise_indicators",
    "normalise_police",
    "normalise_postcode",
    "normalise_registry",
    "parse_access_team_csv",
    "parse_indicators_csv",
    "parse_json",
    "parse_registry_csv",
    "provider_name_key",
    "reference_of",
    "registry_locations",
    "resolve_municipality",
    "validate_json",
]
