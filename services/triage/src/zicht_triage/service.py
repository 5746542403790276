"""The triage service's use cases: assess signals, keep investigations, re-assess.

Each use case runs in the caller's transaction: the decision, the investigation it opened or
joined, and the events announcing both (in the outbox) commit together.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from opentelemetry import trace

from zicht_runtime.clock import Clock
from zicht_runtime.consumer import PoisonMessageError
from zicht_runtime.db import DbConnection
from zicht_runtime.outbox import write_events
from zicht_runtime.telemetry import business_span
from zicht_schemas import (
    CloudEvent,
    InvestigationChange,
    InvestigationChangedV1,
    InvestigationDecision,
    InvestigationLink,
    InvestigationRelation,
    ProviderRegisteredV1,
    Reassessment,
    SignalAssessedV1,
    SignalReceivedV1,
    new_event,
)
from zicht_schemas.regions import regions
from zicht_triage.domain import (
    AssessmentContext,
    CannotAssess,
    Decision,
    Framework,
    SignalFacts,
    assess,
)
from zicht_triage.metrics import TriageMetrics, default_metrics

__all__ = ["ReassessmentReport", "TriageService"]

log = logging.getLogger(__name__)
tracer = trace.get_tracer("zicht.triage")

_WINDOW = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class ReassessmentReport:
    """What a re-assessment did: how many signals it weighed and how many decisions changed."""

    from_versions: tuple[str, ...]
    to_version: str
    assessed: int
    changed: int


def _context_json(context: AssessmentContext) -> dict[str, Any]:
    return {
        "related_to_region": context.related_to_region,
        "open_investigation_id": str(context.open_investigation_id)
        if context.open_investigation_id
        else None,
        "prior_signals_12_months": context.prior_signals_12_months,
    }


def _context_from(data: Any) -> AssessmentContext:
    open_id = data.get("open_investigation_id")
    return AssessmentContext(
        related_to_region=bool(data["related_to_region"]),
        open_investigation_id=UUID(open_id) if open_id else None,
        prior_signals_12_months=int(data["prior_signals_12_months"]),
    )


@dataclass
class TriageService:
    """Weighs every signal against the region's assessment framework."""

    clock: Clock
    framework: Framework
    source: str
    region_ids: tuple[str, ...] = ("twente", "nmd")
    metrics: TriageMetrics = field(default_factory=default_metrics)

    def __post_init__(self) -> None:
        catalogue = regions()
        self._region_municipalities = frozenset(
            m.code for r in catalogue.regions if r.id in self.region_ids for m in r.municipalities
        )

    # --- the registry -------------------------------------------------------------------

    async def record_provider(self, conn: DbConnection, provider: ProviderRegisteredV1) -> None:
        """Keep what triage needs of a provider: its municipalities, its relation to us."""
        municipalities = sorted(
            {loc.municipality_code for loc in provider.locations}
            | set(provider.contracting_municipalities)
        )
        related = provider.active and bool(self._region_municipalities.intersection(municipalities))
        await conn.execute(
            """
            INSERT INTO providers (provider_id, name, municipalities, related_to_region, active,
                                   registry_version)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (provider_id) DO UPDATE SET name = $2, municipalities = $3,
                related_to_region = $4, active = $5, registry_version = $6
            WHERE providers.registry_version <= $6
            """,
            provider.provider_id,
            provider.name,
            municipalities,
            related,
            provider.active,
            provider.registry_version,
        )

    # --- assessing ------------------------------------------------------------------------

    async def assess_signal(
        self, conn: DbConnection, received: CloudEvent[SignalReceivedV1]
    ) -> SignalAssessedV1 | None:
        """Assess a new signal; open or join an investigation; publish both.

        Returns None when the signal was assessed before (a redelivery past the inbox).
        """
        signal = received.data
        with (
            self.metrics.assessing(),
            business_span(
                tracer,
                "assess signal",
                {
                    "zicht.provider_id": signal.provider.provider_id,
                    "zicht.signal_id": str(signal.signal_id),
                    "zicht.framework_version": self.framework.version,
                },
            ) as span,
        ):
            inserted = await conn.fetchval(
                """
                INSERT INTO signals (signal_id, provider_id, occurred_at, received_at, event_id,
                                     data)
                VALUES ($1, $2, $3, $4, $5, $6::text::jsonb)
                ON CONFLICT (signal_id) DO NOTHING
                RETURNING signal_id
                """,
                signal.signal_id,
                signal.provider.provider_id,
                signal.occurred_at,
                signal.received_at,
                received.id,
                signal.model_dump_json(),
            )
            if inserted is None:
                span.set_attribute("zicht.duplicate", value=True)
                return None
            context = await self._context(conn, signal)
            try:
                decision = assess(SignalFacts.from_event(signal), context, self.framework)
            except CannotAssess as exc:
                raise PoisonMessageError(f"signal cannot be assessed: {exc}") from exc
            now = self.clock.now()
            link = await self._investigation(conn, signal, decision, received, now)
            assessed = _assessed_event(
                signal,
                decision,
                assessment_id=uuid.uuid5(
                    signal.signal_id, f"assessment/{decision.framework_version}"
                ),
                assessed_at=now,
                link=link,
            )
            await self._store_assessment(conn, assessed, context)
            await write_events(
                conn,
                new_event(
                    assessed,
                    source=self.source,
                    event_id=uuid.uuid5(assessed.assessment_id, "signal.assessed"),
                    correlation_id=received.correlationid or signal.signal_id,
                    causation_id=received.id,
                    time=now,
                ),
            )
            span.set_attribute("zicht.outcome", assessed.outcome.value)
            span.set_attribute("zicht.priority", assessed.priority.value)
            self.metrics.signal_assessed(assessed.outcome.value, assessed.priority.value)
            return assessed

    async def _context(self, conn: DbConnection, signal: SignalReceivedV1) -> AssessmentContext:
        provider_id = signal.provider.provider_id
        related = await conn.fetchval(
            "SELECT related_to_region FROM providers WHERE provider_id = $1", provider_id
        )
        if related is None:
            # Not (yet) in triage's registry: the signal's own location decides.
            related = signal.location.municipality_code in self._region_municipalities
        open_id = await conn.fetchval(
            "SELECT investigation_id FROM investigations "
            "WHERE provider_id = $1 AND state = 'open' FOR UPDATE",
            provider_id,
        )
        prior = await conn.fetchval(
            """
            SELECT count(*) FROM assessments
            WHERE provider_id = $1 AND current AND signal_id <> $2
              AND occurred_at > $3 AND occurred_at <= $4
            """,
            provider_id,
            signal.signal_id,
            signal.occurred_at - _WINDOW,
            signal.occurred_at,
        )
        return AssessmentContext(
            related_to_region=bool(related),
            open_investigation_id=open_id,
            prior_signals_12_months=int(prior),
        )

    async def _investigation(
        self,
        conn: DbConnection,
        signal: SignalReceivedV1,
        decision: Decision,
        received: CloudEvent[SignalReceivedV1],
        now: datetime,
    ) -> InvestigationLink | None:
        action = decision.investigation
        if action is None:
            return None
        provider_id = signal.provider.provider_id
        relation = action.kind.relation
        if action.investigation_id is None:
            investigation_id = uuid.uuid5(signal.signal_id, "investigation")
            await conn.execute(
                """
                INSERT INTO investigations (investigation_id, provider_id, state, opened_at,
                                            opened_by_signal, framework_version)
                VALUES ($1, $2, 'open', $3, $4, $5)
                """,
                investigation_id,
                provider_id,
                now,
                signal.signal_id,
                decision.framework_version,
            )
            change = InvestigationChange.OPENED
            opened_at = now
        else:
            investigation_id = action.investigation_id
            change = (
                InvestigationChange.SIGNAL_BUNDLED
                if relation is InvestigationRelation.BUNDLED
                else InvestigationChange.SIGNAL_LINKED
            )
            opened_at = await conn.fetchval(
                "SELECT opened_at FROM investigations WHERE investigation_id = $1",
                investigation_id,
            )
        await conn.execute(
            "INSERT INTO investigation_signals (investigation_id, signal_id, relation, added_at) "
            "VALUES ($1, $2, $3, $4)",
            investigation_id,
            signal.signal_id,
            relation.value,
            now,
        )
        changed = InvestigationChangedV1(
            change_id=uuid.uuid5(investigation_id, f"{change.value}/{signal.signal_id}"),
            investigation_id=investigation_id,
            provider_id=provider_id,
            change=change,
            signal_ids=(signal.signal_id,),
            opened_at=opened_at,
            changed_at=now,
            framework_version=decision.framework_version,
        )
        await write_events(
            conn,
            new_event(
                changed,
                source=self.source,
                event_id=changed.change_id,
                correlation_id=received.correlationid or signal.signal_id,
                causation_id=received.id,
                time=now,
            ),
        )
        return InvestigationLink(investigation_id=investigation_id, relation=relation)

    async def _store_assessment(
        self, conn: DbConnection, assessed: SignalAssessedV1, context: AssessmentContext
    ) -> None:
        await conn.execute(
            """
            INSERT INTO assessments (assessment_id, signal_id, provider_id, framework_version,
                outcome, strategy, priority, occurred_at, assessed_at, context, decision)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::text::jsonb)
            """,
            assessed.assessment_id,
            assessed.signal_id,
            assessed.provider_id,
            assessed.framework_version,
            assessed.outcome.value,
            assessed.strategy.value if assessed.strategy else None,
            assessed.priority.value,
            assessed.occurred_at,
            assessed.assessed_at,
            _context_json(context),
            assessed.model_dump_json(),
        )

    # --- investigations -------------------------------------------------------------------

    async def close_investigation(
        self,
        conn: DbConnection,
        investigation_id: UUID,
        decision: InvestigationDecision,
        note: str,
        closed_by: str,
    ) -> InvestigationChangedV1 | None:
        """Close an open investigation with a decision; None when it is not open."""
        now = self.clock.now()
        row = await conn.fetchrow(
            """
            UPDATE investigations SET state = 'closed', decision = $2, note = $3,
                closed_at = $4, closed_by = $5
            WHERE investigation_id = $1 AND state = 'open'
            RETURNING provider_id, opened_at
            """,
            investigation_id,
            decision.value,
            note,
            now,
            closed_by,
        )
        if row is None:
            return None
        signal_ids = await conn.fetch(
            "SELECT signal_id FROM investigation_signals WHERE investigation_id = $1 "
            "ORDER BY added_at, signal_id",
            investigation_id,
        )
        changed = InvestigationChangedV1(
            change_id=uuid.uuid5(investigation_id, "closed"),
            investigation_id=investigation_id,
            provider_id=row["provider_id"],
            change=InvestigationChange.CLOSED,
            decision=decision,
            signal_ids=tuple(r["signal_id"] for r in signal_ids),
            opened_at=row["opened_at"],
            closed_at=now,
            changed_at=now,
            changed_by=closed_by,
            framework_version=self.framework.version,
        )
        await write_events(
            conn, new_event(changed, source=self.source, event_id=changed.change_id, time=now)
        )
        return changed

    # --- re-assessment --------------------------------------------------------------------

    async def reassess(
        self, pool: asyncpg.Pool, framework: Framework, *, batch: int = 2000
    ) -> ReassessmentReport:
        """Weigh every current decision again under ``framework``; publish what changed.

        Each signal is weighed with the context it was first weighed in, so only what the new
        version changes changes. A changed decision replaces the old one and is published
        as a re-assessment naming both versions; nothing else is sent again.
        """
        assessed = changed = 0
        versions: set[str] = set()
        last: UUID | None = None
        while True:
            async with pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(
                    """
                    SELECT a.assessment_id, a.signal_id, a.framework_version, a.outcome, a.context,
                           a.decision::text AS decision, s.data::text AS data, s.event_id
                    FROM assessments a JOIN signals s USING (signal_id)
                    WHERE a.current AND a.framework_version <> $1
                      AND ($2::uuid IS NULL OR a.signal_id > $2)
                    ORDER BY a.signal_id
                    LIMIT $3
                    """,
                    framework.version,
                    last,
                    batch,
                )
                if not rows:
                    break
                done = await self._reassess_rows(conn, rows, framework)
                assessed += len(rows)
                changed += done
                versions.update(r["framework_version"] for r in rows)
                last = rows[-1]["signal_id"]
        return ReassessmentReport(tuple(sorted(versions)), framework.version, assessed, changed)

    async def _reassess_rows(
        self, conn: DbConnection, rows: Sequence[Any], framework: Framework
    ) -> int:
        now = self.clock.now()
        replaced: list[tuple[UUID, UUID]] = []
        new_rows: list[tuple[Any, ...]] = []
        events = []
        for row in rows:
            signal = SignalReceivedV1.model_validate_json(row["data"])
            context = _context_from(row["context"])
            previous = SignalAssessedV1.model_validate_json(row["decision"])
            try:
                decision = assess(SignalFacts.from_event(signal), context, framework)
            except CannotAssess:
                log.warning(
                    "signal cannot be assessed under the new framework; kept as it was",
                    extra={"zicht.signal_id": str(signal.signal_id)},
                )
                continue
            if (decision.outcome, decision.strategy, decision.priority) == (
                previous.outcome,
                previous.strategy,
                previous.priority,
            ):
                continue  # the decision stands, taken by the version that took it
            link = _reassessed_link(previous.investigation, decision)
            assessed = _assessed_event(
                signal,
                decision,
                assessment_id=uuid.uuid5(signal.signal_id, f"assessment/{framework.version}"),
                assessed_at=now,
                link=link,
                reassessment=Reassessment(
                    previous_assessment_id=previous.assessment_id,
                    previous_framework_version=previous.framework_version,
                    previous_outcome=previous.outcome,
                ),
            )
            replaced.append((row["assessment_id"], assessed.assessment_id))
            new_rows.append(
                (
                    assessed.assessment_id,
                    assessed.signal_id,
                    assessed.provider_id,
                    assessed.framework_version,
                    assessed.outcome.value,
                    assessed.strategy.value if assessed.strategy else None,
                    assessed.priority.value,
                    assessed.occurred_at,
                    assessed.assessed_at,
                    _context_json(context),
                    assessed.model_dump_json(),
                )
            )
            events.append(
                new_event(
                    assessed,
                    source=self.source,
                    event_id=uuid.uuid5(assessed.assessment_id, "signal.assessed"),
                    correlation_id=signal.signal_id,
                    causation_id=row["event_id"],
                    time=now,
                )
            )
        if replaced:
            await conn.execute(
                """
                UPDATE assessments a SET current = false, replaced_by = r.new
                FROM unnest($1::uuid[], $2::uuid[]) AS r(old, new)
                WHERE a.assessment_id = r.old
                """,
                [old for old, _ in replaced],
                [new for _, new in replaced],
            )
            await conn.executemany(
                """
                INSERT INTO assessments (assessment_id, signal_id, provider_id,
                    framework_version, outcome, strategy, priority, occurred_at, assessed_at,
                    context, decision)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::text::jsonb)
                ON CONFLICT (assessment_id) DO NOTHING
                """,
                new_rows,
            )
            await write_events(conn, *events)
        return len(replaced)


def _reassessed_link(
    previous: InvestigationLink | None, decision: Decision
) -> InvestigationLink | None:
    """The investigation link a re-assessment may keep: no investigation is opened again."""
    from zicht_schemas import Outcome  # noqa: PLC0415

    if previous is None:
        return None
    if previous.relation is InvestigationRelation.OPENED:
        return previous if decision.outcome is Outcome.INVESTIGATE else None
    if decision.outcome is Outcome.BUNDLE:
        return InvestigationLink(
            investigation_id=previous.investigation_id, relation=InvestigationRelation.BUNDLED
        )
    return InvestigationLink(
        investigation_id=previous.investigation_id, relation=InvestigationRelation.LINKED
    )


def _assessed_event(
    signal: SignalReceivedV1,
    decision: Decision,
    *,
    assessment_id: UUID,
    assessed_at: datetime,
    link: InvestigationLink | None,
    reassessment: Reassessment | None = None,
) -> SignalAssessedV1:
    return SignalAssessedV1(
        assessment_id=assessment_id,
        signal_id=signal.signal_id,
        provider_id=signal.provider.provider_id,
        source=signal.source,
        law=signal.law,
        category=signal.category,
        severity=signal.severity,
        vulnerable_group=signal.vulnerable_group,
        municipality_code=signal.location.municipality_code,
        occurred_at=signal.occurred_at,
        assessed_at=assessed_at,
        outcome=decision.outcome,
        strategy=decision.strategy,
        priority=decision.priority,
        advice=decision.advice,
        rules_fired=decision.rules_fired,
        framework_version=decision.framework_version,
        investigation=link,
        reassessment=reassessment,
    )
