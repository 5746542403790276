"""Pure, synchronous domain code of triage: no I/O.

The assessment framework (afwegingskader) is data, loaded from YAML by :mod:`.framework`; the
rule engine in :mod:`.engine` weighs a signal's :class:`SignalFacts` in its
:class:`AssessmentContext` against it and returns an explained :class:`Decision`.
"""

from zicht_triage.domain.engine import (
    CannotAssess,
    Decision,
    InvestigationAction,
    InvestigationActionKind,
    assess,
)
from zicht_triage.domain.facts import AssessmentContext, SignalFacts
from zicht_triage.domain.framework import (
    Framework,
    FrameworkError,
    LinkRule,
    OutcomeRule,
    PriorityRule,
    Rule,
    StrategyRule,
    default_framework,
    load_framework,
    load_framework_file,
)

__all__ = [
    "AssessmentContext",
    "CannotAssess",
    "Decision",
    "Framework",
    "FrameworkError",
    "InvestigationAction",
    "InvestigationActionKind",
    "LinkRule",
    "OutcomeRule",
    "PriorityRule",
    "Rule",
    "SignalFacts",
    "StrategyRule",
    "assess",
    "default_framework",
    "load_framework",
    "load_framework_file",
]
