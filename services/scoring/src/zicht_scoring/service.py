"""The scoring service's use cases: keep each provider's inputs, score it, publish changes.

Every input event is stored in scoring's own tables and the provider is evaluated again in
the same transaction; a change of at least one point or of level is published (outbox).
A daily re-evaluation lets decay lower scores without news; a replay rebuilds every score
under a model version without publishing what was already published.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
from opentelemetry import trace

from zicht_runtime.clock import Clock
from zicht_runtime.db import DbConnection
from zicht_runtime.outbox import write_events
from zicht_runtime.telemetry import business_span, commit_scope
from zicht_schemas import (
    Category,
    IndicatorCode,
    IndicatorSource,
    IndicatorsReportedV1,
    InvestigationChange,
    InvestigationChangedV1,
    InvestigationDecision,
    Outcome,
    ProviderRegisteredV1,
    ProviderRiskChangedV1,
    RiskChangeReason,
    RiskLevel,
    Severity,
    SignalAssessedV1,
    new_event,
)
from zicht_scoring.domain import (
    AssessedSignal,
    Evaluation,
    IndicatorReading,
    InvestigationOutcome,
    PreviousRisk,
    ProviderFacts,
    RiskModel,
    evaluate,
    is_change,
    listed,
    newest_readings,
)
from zicht_scoring.metrics import ScoringMetrics, default_metrics

__all__ = ["ReplayReport", "ScoringService"]

log = logging.getLogger(__name__)
tracer = trace.get_tracer("zicht.scoring")

# Inputs older than this cannot count any more (signal window 24 months, holds 24 months).
_LOOKBACK = timedelta(days=3 * 366)


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What a replay did."""

    model_version: str
    providers: int
    published: int


@dataclass
class ScoringService:
    """Keeps every provider's risk under the risk model in force."""

    clock: Clock
    model: RiskModel
    source: str
    metrics: ScoringMetrics = field(default_factory=default_metrics)

    # --- inputs -------------------------------------------------------------------------

    async def record_provider(self, conn: DbConnection, provider: ProviderRegisteredV1) -> None:
        """Keep the provider's name, KvK and related municipalities (for the register)."""
        municipalities = sorted(
            {loc.municipality_code for loc in provider.locations}
            | set(provider.contracting_municipalities)
        )
        await conn.execute(
            """
            INSERT INTO providers (provider_id, name, kvk, municipalities, active,
                                   registry_version)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (provider_id) DO UPDATE SET name = $2, kvk = $3, municipalities = $4,
                active = $5, registry_version = $6
            WHERE providers.registry_version <= $6
            """,
            provider.provider_id,
            provider.name,
            provider.kvk,
            municipalities,
            provider.active,
            provider.registry_version,
        )

    async def record_indicators(
        self, conn: DbConnection, report: IndicatorsReportedV1, event_id: str
    ) -> None:
        """Store a report's values and score the provider again."""
        await conn.executemany(
            """
            INSERT INTO indicator_readings (provider_id, code, report_id, source, period_year,
                                            reported_at, value)
            VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
            ON CONFLICT DO NOTHING
            """,
            [
                (
                    report.provider_id,
                    item.code.value,
                    report.report_id,
                    report.source.value,
                    report.period_year,
                    report.reported_at,
                    item.value,
                )
                for item in report.indicators
            ],
        )
        await self.score_provider(conn, report.provider_id, RiskChangeReason.EVENT, event_id)

    async def record_assessment(
        self, conn: DbConnection, assessed: SignalAssessedV1, event_id: str
    ) -> None:
        """Store the latest assessment of a signal and score the provider again."""
        await conn.execute(
            """
            INSERT INTO signals (signal_id, provider_id, assessment_id, outcome, category,
                                 severity, occurred_at, assessed_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (signal_id) DO UPDATE SET assessment_id = $3, outcome = $4,
                category = $5, severity = $6, occurred_at = $7, assessed_at = $8
            WHERE signals.assessed_at <= $8
            """,
            assessed.signal_id,
            assessed.provider_id,
            assessed.assessment_id,
            assessed.outcome.value,
            assessed.category.value,
            assessed.severity.value,
            assessed.occurred_at,
            assessed.assessed_at,
        )
        await self.score_provider(conn, assessed.provider_id, RiskChangeReason.EVENT, event_id)

    async def record_investigation(
        self, conn: DbConnection, changed: InvestigationChangedV1, event_id: str
    ) -> None:
        """A closed investigation's decision counts; opening or bundling changes no score."""
        if changed.change is not InvestigationChange.CLOSED or changed.decision is None:
            return
        await conn.execute(
            """
            INSERT INTO investigations (investigation_id, provider_id, decision, closed_at,
                                        signal_ids)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (investigation_id) DO NOTHING
            """,
            changed.investigation_id,
            changed.provider_id,
            changed.decision.value,
            changed.closed_at,
            list(changed.signal_ids),
        )
        await self.score_provider(conn, changed.provider_id, RiskChangeReason.EVENT, event_id)

    # --- scoring --------------------------------------------------------------------------

    async def facts(self, conn: DbConnection, provider_id: str, at: datetime) -> ProviderFacts:
        """Everything the model weighs about one provider, from scoring's own tables."""
        since = at - _LOOKBACK
        readings = await conn.fetch(
            "SELECT code, report_id, source, period_year, reported_at, value "
            "FROM indicator_readings WHERE provider_id = $1",
            provider_id,
        )
        signals = await conn.fetch(
            "SELECT signal_id, assessment_id, outcome, category, severity, occurred_at, "
            "assessed_at FROM signals WHERE provider_id = $1 AND occurred_at > $2 "
            "AND occurred_at <= $3",
            provider_id,
            since,
            at,
        )
        investigations = await conn.fetch(
            "SELECT investigation_id, decision, closed_at, signal_ids FROM investigations "
            "WHERE provider_id = $1 AND closed_at > $2",
            provider_id,
            since,
        )
        return ProviderFacts(
            provider_id=provider_id,
            readings=newest_readings(
                IndicatorReading(
                    code=IndicatorCode(r["code"]),
                    value=r["value"],
                    period_year=r["period_year"],
                    reported_at=r["reported_at"],
                    source=IndicatorSource(r["source"]),
                    report_id=r["report_id"],
                )
                for r in readings
            ),
            signals=tuple(
                AssessedSignal(
                    signal_id=s["signal_id"],
                    assessment_id=s["assessment_id"],
                    outcome=Outcome(s["outcome"]),
                    category=Category(s["category"]),
                    severity=Severity(s["severity"]),
                    occurred_at=s["occurred_at"],
                    assessed_at=s["assessed_at"],
                )
                for s in signals
            ),
            investigations=tuple(
                InvestigationOutcome(
                    investigation_id=i["investigation_id"],
                    decision=InvestigationDecision(i["decision"]),
                    closed_at=i["closed_at"],
                    signal_ids=tuple(i["signal_ids"]),
                )
                for i in investigations
            ),
        )

    async def score_provider(
        self,
        conn: DbConnection,
        provider_id: str,
        reason: RiskChangeReason,
        cause_event_id: str | None,
        *,
        at: datetime | None = None,
        model: RiskModel | None = None,
    ) -> ProviderRiskChangedV1 | None:
        """Evaluate a provider now; publish and keep the evaluation when it is a change."""
        model = model or self.model
        at = at or self.clock.now()
        with (
            self.metrics.scoring(),
            business_span(
                tracer,
                "score provider",
                {"zicht.provider_id": provider_id, "zicht.model_version": model.version},
            ) as span,
        ):
            # One scorer per provider at a time, also before its first risk row exists (then
            # FOR UPDATE locks nothing): a second one waits here until the first has
            # committed, and then reads the facts the first wrote. A statement of its own, so
            # the reads after it see what the first committed.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('zicht.scoring.provider'), hashtext($1))",
                provider_id,
            )
            current = await conn.fetchrow(
                "SELECT score, level FROM risk WHERE provider_id = $1", provider_id
            )
            previous = (
                PreviousRisk(score=float(current["score"]), level=RiskLevel(current["level"]))
                if current
                else None
            )
            evaluation = evaluate(await self.facts(conn, provider_id, at), model, at, previous)
            span.set_attribute("zicht.score", evaluation.score)
            span.set_attribute("zicht.level", evaluation.level.value)
            if not is_change(previous, evaluation):
                return None
            changed = _changed_event(provider_id, evaluation, previous, at, reason, cause_event_id)
            await self._keep(conn, changed, evaluation)
            await write_events(
                conn,
                new_event(
                    changed,
                    source=self.source,
                    event_id=changed.evaluation_id,
                    causation_id=cause_event_id,
                    time=self.clock.now(),
                ),
            )
            span.set_attribute("zicht.risk_changed", value=True)
            self.metrics.risk_changed(
                evaluation.level.value, previous.level.value if previous else None
            )
            return changed

    async def _keep(
        self, conn: DbConnection, changed: ProviderRiskChangedV1, evaluation: Evaluation
    ) -> None:
        # The register keeps every contribution of the current evaluation; the history keeps
        # what the event listed, so it grows with evaluations, not with signals squared.
        every = [c.model_dump(mode="json") for c in evaluation.contributions]
        contributions = [c.model_dump(mode="json") for c in changed.contributions]
        decaying = evaluation.changes_with_time
        await conn.execute(
            """
            INSERT INTO risk (provider_id, evaluation_id, score, level, model_version,
                evaluated_at, contributions, unknown_indicators, has_decaying_points)
            VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9)
            ON CONFLICT (provider_id) DO UPDATE SET evaluation_id = $2, score = $3, level = $4,
                model_version = $5, evaluated_at = $6, contributions = $7::jsonb,
                unknown_indicators = $8::jsonb, has_decaying_points = $9
            """,
            changed.provider_id,
            changed.evaluation_id,
            changed.score,
            changed.level.value,
            changed.model_version,
            changed.evaluated_at,
            every,
            [c.value for c in changed.unknown_indicators],
            decaying,
        )
        await conn.execute(
            """
            INSERT INTO risk_history (evaluation_id, provider_id, score, level, previous_score,
                previous_level, model_version, evaluated_at, reason, cause_event_id,
                contributions)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
            ON CONFLICT (evaluation_id) DO NOTHING
            """,
            changed.evaluation_id,
            changed.provider_id,
            changed.score,
            changed.level.value,
            changed.previous_score,
            changed.previous_level.value if changed.previous_level else None,
            changed.model_version,
            changed.evaluated_at,
            changed.reason.value,
            changed.cause_event_id,
            contributions,
        )

    # --- for operators --------------------------------------------------------------------

    async def count_levels(self, pool: asyncpg.Pool) -> dict[str, int]:
        """Count the providers per level (one query) for the providers-per-level gauge."""
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT level, count(*) AS n FROM risk GROUP BY level")
        counts = {level.value: 0 for level in RiskLevel}
        counts.update({row["level"]: int(row["n"]) for row in rows})
        self.metrics.levels.reset(counts)
        return counts

    # --- time and replay ------------------------------------------------------------------

    async def decay_all(self, pool: asyncpg.Pool, *, batch: int = 500) -> int:
        """Re-evaluate every provider whose points decay; return how many changed."""
        changed = 0
        last = ""
        while True:
            # The scope first: changes count once their batch has committed.
            async with commit_scope(), pool.acquire() as conn, conn.transaction():
                ids = await conn.fetch(
                    "SELECT provider_id FROM risk WHERE has_decaying_points AND provider_id > $1 "
                    "ORDER BY provider_id LIMIT $2",
                    last,
                    batch,
                )
                for row in ids:
                    if await self.score_provider(
                        conn, row["provider_id"], RiskChangeReason.DECAY, None
                    ):
                        changed += 1
            if len(ids) < batch:
                return changed
            last = ids[-1]["provider_id"]

    async def replay(
        self, pool: asyncpg.Pool, model: RiskModel, *, at: datetime | None = None, batch: int = 500
    ) -> ReplayReport:
        """Score every provider again under ``model`` from the stored inputs.

        Deterministic for a given moment; only evaluations that differ from what was last
        published (by a point or a level) are published, so nothing is sent twice.
        """
        at = at or self.clock.now()
        providers = published = 0
        last = ""
        while True:
            # The scope first: changes count once their batch has committed.
            async with commit_scope(), pool.acquire() as conn, conn.transaction():
                ids = await conn.fetch(
                    """
                    SELECT provider_id FROM (
                        SELECT provider_id FROM indicator_readings
                        UNION SELECT provider_id FROM signals
                        UNION SELECT provider_id FROM risk) p
                    WHERE provider_id > $1 ORDER BY provider_id LIMIT $2
                    """,
                    last,
                    batch,
                )
                for row in ids:
                    providers += 1
                    if await self.score_provider(
                        conn, row["provider_id"], RiskChangeReason.REPLAY, None, at=at, model=model
                    ):
                        published += 1
            if len(ids) < batch:
                return ReplayReport(model.version, providers, published)
            last = ids[-1]["provider_id"]


def _changed_event(  # noqa: PLR0917  # the parts of one event, in its field order
    provider_id: str,
    evaluation: Evaluation,
    previous: PreviousRisk | None,
    at: datetime,
    reason: RiskChangeReason,
    cause_event_id: str | None,
) -> ProviderRiskChangedV1:
    evaluation_id = uuid.uuid5(
        uuid.NAMESPACE_URL,
        f"zicht:risk/{provider_id}/{evaluation.model_version}/{at.isoformat()}/{cause_event_id}",
    )
    shown, left_out = listed(evaluation.contributions)
    return ProviderRiskChangedV1(
        evaluation_id=evaluation_id,
        provider_id=provider_id,
        score=evaluation.score,
        previous_score=previous.score if previous else None,
        level=evaluation.level,
        previous_level=previous.level if previous else None,
        model_version=evaluation.model_version,
        contributions=shown,
        signals_left_out=left_out,
        unknown_indicators=evaluation.unknown_indicators,
        evaluated_at=at,
        reason=reason,
        cause_event_id=UUID(cause_event_id) if cause_event_id else None,
    )
