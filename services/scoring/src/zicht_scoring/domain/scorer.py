"""The pure scorer: a provider's facts, a risk model and a moment give a score and a level.

Deterministic: the same facts, model and moment give an equal :class:`Evaluation`, whatever
the order of the facts' lists (sums use :func:`math.fsum`, which does not depend on order,
and contributions are sorted). The clock is the caller's: nothing here reads the time.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from math import fsum
from operator import itemgetter
from uuid import UUID

from zicht_schemas import (
    MAX_SIGNAL_CONTRIBUTIONS,
    Contribution,
    ContributionKind,
    IndicatorCode,
    InvestigationDecision,
    RiskLevel,
)
from zicht_scoring.domain.facts import InvestigationOutcome, ProviderFacts
from zicht_scoring.domain.model import AT_LEAST, BELOW, MAX_POINTS, RiskModel

__all__ = [
    "Evaluation",
    "PreviousRisk",
    "evaluate",
    "is_change",
    "listed",
    "months_before",
]


@dataclass(frozen=True, slots=True)
class PreviousRisk:
    """The provider's last published score and level (what hysteresis and changes compare to)."""

    score: float
    level: RiskLevel


# One contribution before it becomes a wire model: the first three items are the sort key
# (largest absolute points first, then kind: 0 indicator, 1 signal, 2 investigation, 3 hold,
# then ref), then kind, exact points, the explanation, and a ready Contribution for
# indicators (they never change within a model). Rounding waits for the wire model: round()
# is among the costliest calls per item.
_Part = tuple[float, int, str | UUID, ContributionKind, float, str, Contribution | None]
_ORDER = itemgetter(0, 1, 2)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A provider's risk under a model at a moment: score, level and every contribution.

    ``contributions`` are built on first use: most evaluations (daily decay, replay) change
    nothing and are never published, and building the wire models is most of the cost.
    """

    score: float
    """min(score cap, indicator + signal + investigation points), never negative, one decimal."""
    level: RiskLevel
    """The traffic light after hysteresis (and red while a contract_dissolved hold lasts)."""
    raw_level: RiskLevel
    """The level the score alone gives (red while a hold lasts), without hysteresis."""
    unknown_indicators: tuple[IndicatorCode, ...]
    """Indicators never reported for the provider, sorted; they count as green."""
    model_version: str
    held: bool
    """Whether a contract_dissolved hold keeps the provider at red."""
    changes_with_time: bool
    """Whether time alone can change the score (decaying points, a hold that ends, or a fact
    dated after the moment): the providers the daily re-evaluation must visit."""
    _parts: tuple[_Part, ...] = field(repr=False)
    # Left unset by __init__ (no default): set on first use of ``contributions``.
    _built: tuple[Contribution, ...] = field(init=False, repr=False, compare=False)

    @property
    def contributions(self) -> tuple[Contribution, ...]:
        """Every non-zero contribution, largest absolute points first; a hold always shows.

        Points are rounded to one decimal and shown within the wire range of -100..100 (a
        no_findings decision over many signals can take away more than 100; the score uses the
        exact sum). Ties keep a fixed order: indicator, signal, investigation, hold, then ref.
        """
        try:
            return self._built
        except AttributeError:
            built = tuple(
                contribution
                for contribution in map(_contribution, self._parts)
                if contribution is not None
            )
            # Frozen, but this is a cache of what _parts already determine.
            object.__setattr__(self, "_built", built)
            return built


def _contribution(part: _Part) -> Contribution | None:
    _, _, ref, kind, points, explanation, ready = part
    if ready is not None:
        return ready
    shown = round(max(-MAX_POINTS, min(MAX_POINTS, points)), 1)
    if not shown and kind is not ContributionKind.HOLD:
        return None
    return Contribution(kind=kind, ref=str(ref), points=shown, explanation_en=explanation)


def listed(
    contributions: tuple[Contribution, ...], max_signals: int = MAX_SIGNAL_CONTRIBUTIONS
) -> tuple[tuple[Contribution, ...], int]:
    """What a risk change lists: every contribution but signals beyond the largest ``max_signals``.

    Returns the listed contributions (in their order, largest first) and how many signal
    contributions were left out. Indicators, investigations and holds are few and always
    listed; signals accumulate for as long as a provider is supervised.
    """
    kept: list[Contribution] = []
    signals = 0
    for contribution in contributions:
        if contribution.kind is ContributionKind.SIGNAL:
            signals += 1
            if signals > max_signals:
                continue
        kept.append(contribution)
    return tuple(kept), max(0, signals - max_signals)


def is_change(previous: PreviousRisk | None, evaluation: Evaluation) -> bool:
    """Whether ``evaluation`` is worth publishing against the last published risk.

    True on the provider's first evaluation, when the level changed, or when the score moved
    by at least one point.
    """
    if previous is None or evaluation.level is not previous.level:
        return True
    # Compare in tenths: scores have one decimal, and 10.3 - 9.3 is not 1.0 in binary floats.
    return abs(round(evaluation.score * 10) - round(previous.score * 10)) >= 10  # noqa: PLR2004


@lru_cache(maxsize=256)
def months_before(at: datetime, months: int) -> datetime:
    """The moment ``months`` calendar months before ``at`` (in UTC; the day clamps to the month).

    Cached: a daily re-evaluation asks this for the same moment for every provider.
    """
    at = at.astimezone(UTC)
    index = at.year * 12 + at.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def evaluate(  # noqa: PLR0912, PLR0915 - one pass over the facts, kept flat for speed
    facts: ProviderFacts,
    model: RiskModel,
    at: datetime,
    previous: PreviousRisk | None = None,
) -> Evaluation:
    """Score a provider under ``model`` at the moment ``at``.

    Indicators add their colour's points; a signal that occurred in the window (before ``at``)
    adds base points times severity factor times decay from ``occurred_at``; an improvement
    plan adds its points with the same decay from ``closed_at`` (within the window); no_findings
    takes away the current points of the investigation's signals (a negative contribution, so
    the signals stay visible); contract_dissolved tops the score up to the red boundary and
    forces red while the hold lasts. Facts dated after ``at`` add nothing yet.

    Args:
        facts: The provider's facts.
        model: The risk model in force.
        at: The moment to score for (timezone-aware); decay is relative to it.
        previous: The last published risk, for hysteresis; None on the first evaluation.

    Returns:
        The evaluation.

    Raises:
        ValueError: ``at`` is naive.
    """
    if at.tzinfo is None:
        raise ValueError("the moment to score for must be timezone-aware")
    compiled = model.compiled
    parts: list[_Part] = []
    points: list[float] = []
    changes_with_time = False

    # Lookups use the codes' text (``_value_``): an enum member hashes in Python, a str in C.
    readings = facts.readings
    tables = compiled.indicators
    for code, reading in readings.items():
        test, red, orange, red_points, orange_points, red_ready, orange_ready = tables[code._value_]
        value = reading.value
        if test == BELOW:
            red_hit = red is not None and value < red
            orange_hit = orange is not None and value < orange
        elif test == AT_LEAST:
            red_hit = red is not None and value >= red
            orange_hit = orange is not None and value >= orange
        else:
            red_hit = value is red
            orange_hit = value is orange
        if red_hit:
            added, ready = red_points, red_ready
        elif orange_hit:
            added, ready = orange_points, orange_ready
        else:
            continue
        if added:
            points.append(added)
            parts.append((-added, 0, code, ContributionKind.INDICATOR, added, "", ready))
    if not readings:
        unknown = compiled.indicator_codes
    elif len(readings) < len(compiled.indicator_codes):
        unknown = tuple(code for code in compiled.indicator_codes if code not in readings)
    else:
        unknown = ()

    cutoff = months_before(at, model.signals.window_months)
    half_life = compiled.half_life_seconds
    base_points = compiled.signal_points
    explanations = compiled.signal_explanations
    investigations = facts.investigations
    # Current points per signal (by the UUID's int: a UUID hashes in Python), for no_findings.
    current: dict[int, float] | None = (
        {} if any(i.decision is InvestigationDecision.NO_FINDINGS for i in investigations) else None
    )
    for signal in facts.signals:
        occurred = signal.occurred_at
        if occurred > at:
            changes_with_time = True
            continue
        if occurred <= cutoff:
            continue
        key = (signal.outcome._value_, signal.category._value_, signal.severity._value_)
        base = base_points[key]
        if not base:
            continue
        added = base * 0.5 ** ((at - occurred).total_seconds() / half_life)
        if current is not None:
            current[signal.signal_id.int] = added
        points.append(added)
        changes_with_time = True
        parts.append(
            (-added, 1, signal.signal_id, ContributionKind.SIGNAL, added, explanations[key], None)
        )

    rules = model.investigations
    hold: InvestigationOutcome | None = None
    if len(investigations) > 1:
        # Oldest first: a signal in two no_findings investigations is taken away once, by the
        # first, and the last active hold is the one that lasts longest.
        investigations = sorted(investigations, key=_closing_order)
    removed: set[int] = set()
    for investigation in investigations:
        closed = investigation.closed_at
        if closed > at:
            changes_with_time = True
            continue
        decision = investigation.decision
        if decision is InvestigationDecision.IMPROVEMENT_PLAN:
            if closed <= cutoff or not rules.improvement_plan_points:
                continue
            added = rules.improvement_plan_points * 0.5 ** (
                (at - closed).total_seconds() / half_life
            )
            explanation = rules.improvement_plan_explanation_en
        elif decision is InvestigationDecision.CONTRACT_DISSOLVED:
            if closed > months_before(at, rules.hold_months):
                hold = investigation
            continue
        else:
            assert current is not None  # noqa: S101 - built whenever a no_findings is present
            ids = [signal_id.int for signal_id in investigation.signal_ids]
            taken = [current[i] for i in ids if i in current and i not in removed]
            removed.update(ids)
            if not taken:
                continue
            added = -fsum(taken)
            explanation = rules.no_findings_explanation_en
        points.append(added)
        changes_with_time = True
        parts.append(
            (
                -abs(added),
                2,
                investigation.investigation_id,
                ContributionKind.INVESTIGATION,
                added,
                explanation,
                None,
            )
        )

    levels = model.levels
    if hold is not None:
        # The hold shows in the score: it adds what lifts the provider to the red boundary,
        # so score and level agree; it is listed even at zero points, as it sets the level.
        top_up = max(0.0, levels.red - fsum(points))
        points.append(top_up)
        changes_with_time = True
        parts.append(
            (
                -top_up,
                3,
                hold.investigation_id,
                ContributionKind.HOLD,
                top_up,
                rules.contract_dissolved_explanation_en,
                None,
            )
        )
    score = round(min(levels.score_cap, max(0.0, fsum(points))), 1)
    if hold is not None:
        raw_level = level = RiskLevel.RED
    else:
        raw_level = levels.level_of(score)
        level = levels.level_after(score, previous.level if previous is not None else None)
    parts.sort(key=_ORDER)
    return Evaluation(
        score=score,
        level=level,
        raw_level=raw_level,
        unknown_indicators=unknown,
        model_version=model.version,
        held=hold is not None,
        changes_with_time=changes_with_time,
        _parts=tuple(parts),
    )


def _closing_order(investigation: InvestigationOutcome) -> tuple[datetime, UUID]:
    return (investigation.closed_at, investigation.investigation_id)
