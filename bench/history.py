"""Stored history for the replay and growth benchmarks: triage's and scoring's own tables, in bulk.

A durable Postgres gets triage's and scoring's schemas (their own migrations), and their use
cases run in this process against it, exactly as the services call them. Templates are made
by the real code path: a handful of synthetic signals is assessed by ``assess_signal``, and
the rows it stored (the signal's JSON, the decision's JSON, the context) are then copied in
bulk with ``INSERT ... SELECT`` over ``generate_series``, each copy under new ids. Providers,
indicator readings and scoring's signals are plain columns and are generated the same way.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import asyncpg

from bench.common import scratch_dir
from bench.infra import Infra
from zicht_runtime.db import DbConnection, create_pool
from zicht_runtime.migrations import RUNTIME_MIGRATIONS, apply_migrations
from zicht_schemas import SignalAssessedV1, SignalReceivedV1, new_event
from zicht_scoring.app import MIGRATIONS as SCORING_MIGRATIONS
from zicht_scoring.app import create_service as create_scoring
from zicht_scoring.config import ScoringSettings
from zicht_scoring.service import ScoringService
from zicht_triage.app import MIGRATIONS as TRIAGE_MIGRATIONS
from zicht_triage.app import create_service as create_triage
from zicht_triage.config import TriageSettings
from zicht_triage.service import TriageService

__all__ = ["Stores", "signal", "stores"]

INTAKE_SOURCE: Final = "urn:nl:oin:00000001000000000000:zicht:intake"
TEMPLATE_PROVIDER: Final = "bench-template"
# (category, severity, law, vulnerable group): the mix of the templates, common first.
_MIX: Final = (
    ("quality", "low", "wmo", "none"),
    ("quality", "medium", "wmo", "sheltered_housing"),
    ("calamity", "high", "wmo", "none"),
    ("legitimacy", "medium", "wmo", "none"),
    ("financial", "low", "wmo", "none"),
    ("governance", "low", "wmo", "none"),
    ("violence", "medium", "jeugdwet", "youth"),
    ("other", "low", "wmo", "none"),
)
_CODES: Final = (
    "equity_ratio",
    "personnel_cost_ratio",
    "profit_margin",
    "self_employed_share",
    "director_pay_above_wnt",
    "indication_realisation",
)
_VALUES: Final = ("0.12", "0.71", "0.04", "0.1", "false", "0.95")


def signal(provider_id: str, number: int, *, at: datetime | None = None) -> SignalReceivedV1:
    """A synthetic received signal about ``provider_id``, of mix ``number`` (no clients)."""
    category, severity, law, group = _MIX[number % len(_MIX)]
    moment = at or datetime.now(tz=UTC)
    return SignalReceivedV1.model_validate(
        {
            "signal_id": uuid.uuid4(),
            "submission_id": uuid.uuid4(),
            "source": "igj",
            "partner_id": "igj",
            "partner_reference": f"IGJ-2099-{number % 1_000_000:06d}",
            "received_at": moment,
            "occurred_at": moment - timedelta(hours=1),
            "provider": {
                "provider_id": provider_id,
                "name": "Stichting Proefzorg Bench",
                "matched_by": "kvk",
            },
            "location": {"municipality_code": "GM0153", "postcode": "7511AB"},
            "law": law,
            "category": category,
            "severity": severity,
            "vulnerable_group": group,
        }
    )


@dataclass
class Stores:
    """Triage's and scoring's schemas on one server, with their use cases."""

    url: str
    triage_pool: asyncpg.Pool
    scoring_pool: asyncpg.Pool
    triage: TriageService
    scoring: ScoringService
    versions: tuple[str, str]

    async def add_providers(self, first: int, count: int) -> None:
        """Providers ``bench-p-<n>`` for n in ``[first, first + count)``, in both registries.

        In scoring each has six indicator readings and a current score.
        """
        async with self.triage_pool.acquire() as conn:
            await conn.execute(
                """
                INSERT INTO providers (provider_id, name, municipalities, related_to_region,
                                       active, registry_version)
                SELECT 'bench-p-' || g, 'Stichting Proefzorg ' || g, ARRAY['GM0153'], true,
                       true, 1
                FROM generate_series($1::int, $2::int) g
                ON CONFLICT DO NOTHING
                """,
                first,
                first + count - 1,
            )
        async with self.scoring_pool.acquire() as conn:
            await conn.execute(
                """
                INSERT INTO providers (provider_id, name, kvk, municipalities, active,
                                       registry_version)
                SELECT 'bench-p-' || g, 'Stichting Proefzorg ' || g,
                       lpad((99000000 + g % 1000000)::text, 8, '0'), ARRAY['GM0153'], true, 1
                FROM generate_series($1::int, $2::int) g
                ON CONFLICT DO NOTHING
                """,
                first,
                first + count - 1,
            )
            await conn.execute(
                """
                INSERT INTO indicator_readings (provider_id, code, report_id, source,
                                                period_year, reported_at, value)
                SELECT 'bench-p-' || g, c.code, md5('r' || g)::uuid, 'annual_accounts', 2025,
                       now() - interval '30 days', c.value::jsonb
                FROM generate_series($1::int, $2::int) g,
                     unnest($3::text[], $4::text[]) AS c(code, value)
                ON CONFLICT DO NOTHING
                """,
                first,
                first + count - 1,
                list(_CODES),
                list(_VALUES),
            )
            await conn.execute(
                """
                INSERT INTO risk (provider_id, evaluation_id, score, level, model_version,
                                  evaluated_at, contributions, unknown_indicators)
                SELECT 'bench-p-' || g, md5('e' || g)::uuid, 20.0, 'green', '2025.1',
                       now() - interval '1 day', '[]'::jsonb, '[]'::jsonb
                FROM generate_series($1::int, $2::int) g
                ON CONFLICT DO NOTHING
                """,
                first,
                first + count - 1,
            )
            await conn.execute("ANALYZE")
        async with self.triage_pool.acquire() as conn:
            await conn.execute("ANALYZE")

    async def make_templates(self) -> int:
        """Assess one signal of each mix through triage's own use case; return how many."""
        async with self.triage_pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO providers VALUES ($1, 'Template', ARRAY['GM0153'], true, true, 1) "
                "ON CONFLICT DO NOTHING",
                TEMPLATE_PROVIDER,
            )
            for number in range(len(_MIX)):
                received = signal(TEMPLATE_PROVIDER, number)
                await self.triage.assess_signal(conn, new_event(received, source=INTAKE_SOURCE))
        return len(_MIX)

    async def add_triage_history(
        self, providers: Sequence[str] | str, count: int, *, spread_days: int = 300
    ) -> None:
        """``count`` assessed signals in triage, copies of the templates.

        They are spread over the providers and over the last ``spread_days`` days, all inside
        the 12-month window triage counts.
        """
        names = [providers] if isinstance(providers, str) else list(providers)
        async with self.triage_pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                CREATE TEMP TABLE bench_templates ON COMMIT DROP AS
                SELECT row_number() OVER (ORDER BY s.signal_id) - 1 AS k,
                       s.data, a.framework_version, a.outcome,
                       a.strategy, a.priority, a.context, a.decision
                FROM signals s JOIN assessments a USING (signal_id)
                WHERE s.provider_id = $1 AND a.current
                """,
                TEMPLATE_PROVIDER,
            )
            await conn.execute(
                """
                CREATE TEMP TABLE bench_ids ON COMMIT DROP AS
                SELECT g, gen_random_uuid() AS sid, gen_random_uuid() AS aid,
                       ($2::text[])[1 + g % array_length($2::text[], 1)] AS provider_id,
                       now() - (g % $3) * interval '1 day' - (g % 1440) * interval '1 minute'
                           AS occurred_at
                FROM generate_series(0, $1::int - 1) g
                """,
                count,
                names,
                spread_days,
            )
            templates = int(await conn.fetchval("SELECT count(*) FROM bench_templates"))
            await conn.execute(
                f"""
                INSERT INTO signals (signal_id, provider_id, occurred_at, received_at, event_id,
                                     data)
                SELECT i.sid, i.provider_id, i.occurred_at, i.occurred_at, 'bench-' || i.sid,
                       jsonb_set(jsonb_set(jsonb_set(t.data, '{{signal_id}}',
                           to_jsonb(i.sid::text)), '{{provider,provider_id}}',
                           to_jsonb(i.provider_id)), '{{occurred_at}}',
                           to_jsonb(i.occurred_at))
                FROM bench_ids i JOIN bench_templates t ON t.k = i.g % {templates}
                """  # noqa: S608 - a count from the database, not input
            )
            await conn.execute(
                f"""
                INSERT INTO assessments (assessment_id, signal_id, provider_id,
                    framework_version, outcome, strategy, priority, occurred_at, assessed_at,
                    context, decision)
                SELECT i.aid, i.sid, i.provider_id, t.framework_version, t.outcome, t.strategy,
                       t.priority, i.occurred_at, i.occurred_at, t.context,
                       jsonb_set(jsonb_set(jsonb_set(jsonb_set(t.decision,
                           '{{assessment_id}}', to_jsonb(i.aid::text)),
                           '{{signal_id}}', to_jsonb(i.sid::text)),
                           '{{provider_id}}', to_jsonb(i.provider_id)),
                           '{{occurred_at}}', to_jsonb(i.occurred_at))
                FROM bench_ids i JOIN bench_templates t ON t.k = i.g % {templates}
                """  # noqa: S608 - a count from the database, not input
            )
        async with self.triage_pool.acquire() as conn:
            await conn.execute("ANALYZE signals; ANALYZE assessments")

    async def add_scoring_history(
        self, providers: Sequence[str] | str, count: int, *, spread_days: int = 600
    ) -> None:
        """``count`` assessed signals in scoring's table.

        They are spread over the providers and over the last ``spread_days`` days, inside the
        24-month signal window.
        """
        names = [providers] if isinstance(providers, str) else list(providers)
        async with self.scoring_pool.acquire() as conn:
            await conn.execute(
                """
                INSERT INTO signals (signal_id, provider_id, assessment_id, outcome, category,
                                     severity, occurred_at, assessed_at)
                SELECT gen_random_uuid(), ($2::text[])[1 + g % array_length($2::text[], 1)],
                       gen_random_uuid(),
                       (ARRAY['no_investigation', 'investigate', 'for_information', 'bundle',
                              'investigate', 'criminal_referral'])[1 + g % 6],
                       (ARRAY['quality', 'calamity', 'financial', 'legitimacy', 'violence',
                              'governance', 'quality'])[1 + g % 7],
                       (ARRAY['low', 'medium', 'high'])[1 + g % 3],
                       now() - (g % $3) * interval '1 day',
                       now() - (g % $3) * interval '1 day' + interval '1 hour'
                FROM generate_series(0, $1::int - 1) g
                """,
                count,
                names,
                spread_days,
            )
            await conn.execute("ANALYZE signals")

    async def explain(self, pool: asyncpg.Pool, query: str, *args: Any) -> str:
        """``EXPLAIN (ANALYZE, BUFFERS)`` of a query, as text."""
        async with pool.acquire() as conn:
            rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {query}", *args)
        return "\n".join(row[0] for row in rows)


async def _migrate(url: str, schema: str, migrations: Path) -> asyncpg.Pool:
    pool = await create_pool(url, schema, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await apply_migrations(conn, schema, [RUNTIME_MIGRATIONS, (schema, migrations)])
    return pool


@contextlib.asynccontextmanager
async def stores() -> AsyncIterator[Stores]:
    """A fresh durable Postgres with triage's and scoring's schemas; stopped on exit."""
    with scratch_dir("zicht-bench-history-") as workdir, Infra(workdir, broker=False) as infra:
        url = await infra.database("bench")
        triage_pool = await _migrate(url, "triage", TRIAGE_MIGRATIONS)
        scoring_pool = await _migrate(url, "scoring", SCORING_MIGRATIONS)
        try:
            yield Stores(
                url,
                triage_pool,
                scoring_pool,
                create_triage(TriageSettings()),
                create_scoring(ScoringSettings()),
                infra.versions(),
            )
        finally:
            await triage_pool.close()
            await scoring_pool.close()


@contextlib.asynccontextmanager
async def rolled_back(pool: asyncpg.Pool) -> AsyncIterator[DbConnection]:
    """A connection in a transaction that is rolled back: the history stays as it was."""
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            yield conn
        finally:
            await transaction.rollback()


async def assessed_for(stores_: Stores, provider_id: str, number: int) -> SignalAssessedV1:
    """What triage would publish for a new signal about ``provider_id`` (rolled back)."""
    received = signal(provider_id, number)
    async with rolled_back(stores_.triage_pool) as conn:
        assessed = await stores_.triage.assess_signal(
            conn, new_event(received, source=INTAKE_SOURCE)
        )
    if assessed is None:
        raise RuntimeError("triage took a fresh signal for a duplicate")
    return assessed
