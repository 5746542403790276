"""Pure, synchronous domain code of scoring: no I/O."""

from zicht_scoring.domain.facts import (
    AssessedSignal,
    IndicatorReading,
    InvestigationOutcome,
    ProviderFacts,
    latest_assessments,
    newest_readings,
)
from zicht_scoring.domain.loading import (
    DEFAULT_MODEL_RESOURCE,
    ModelError,
    default_model,
    load_model,
    load_model_file,
)
from zicht_scoring.domain.model import (
    Comparison,
    IndicatorRule,
    InvestigationRules,
    LevelBoundaries,
    OutcomeRule,
    RiskModel,
    SignalRules,
    Threshold,
)
from zicht_scoring.domain.scorer import Evaluation, PreviousRisk, evaluate, is_change, listed

__all__ = [
    "DEFAULT_MODEL_RESOURCE",
    "AssessedSignal",
    "Comparison",
    "Evaluation",
    "IndicatorReading",
    "IndicatorRule",
    "InvestigationOutcome",
    "InvestigationRules",
    "LevelBoundaries",
    "ModelError",
    "OutcomeRule",
    "PreviousRisk",
    "ProviderFacts",
    "RiskModel",
    "SignalRules",
    "Threshold",
    "default_model",
    "evaluate",
    "is_change",
    "latest_assessments",
    "listed",
    "load_model",
    "load_model_file",
    "newest_readings",
]
