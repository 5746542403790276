"""``growth``: per-signal processing cost as the registry grows and as a provider's history grows.

Triage's ``assess_signal`` and scoring's ``record_assessment`` (the per-event work of each,
with every query they make) run in this process against a durable Postgres holding:

- a registry of 1,000, 10,000 and 100,000 providers (both services' provider tables, six
  indicator readings and a current score each), a new signal about a random provider each
  time;
- one provider with 10, 100, 1,000 and 10,000 earlier signals (triage's signals and
  assessments, scoring's assessed signals, all inside the windows the services look at).

Each event runs in its own transaction, rolled back, so the history stays the size it is
measured at. The cost should stay flat: no work per event that grows with the registry or
with the history. Where it does not, the query plans (``EXPLAIN ANALYZE``) of the queries
that read the history are kept with the results. The curve is drawn to
``docs/performance-growth.png``.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from bench.common import ROOT, Result, say
from bench.history import Stores, rolled_back, signal, stores
from zicht_schemas import SignalAssessedV1, new_event, topics
from zicht_scoring.domain import evaluate

__all__ = ["run"]

PLOT: Final = ROOT / "docs" / "performance-growth.png"
HOT: Final = "bench-hot"
_FLAT: Final = 2.0
_TIME_BUDGET_S: Final = 6.0
_MIN_EVENTS: Final = 5
_INTAKE: Final = "urn:nl:oin:00000001000000000000:zicht:intake"


async def _one_event(
    stores_: Stores, provider_id: str, number: int
) -> tuple[float, float, int | None]:
    """Triage's and scoring's seconds for one new signal, and the risk change's size.

    The size is that of the ``provider-risk-changed`` record scoring wrote to its outbox
    (None when the score did not change).
    """
    received = signal(provider_id, number)
    event = new_event(received, source=_INTAKE)
    async with rolled_back(stores_.triage_pool) as conn:
        began = time.perf_counter()
        assessed = await stores_.triage.assess_signal(conn, event)
        triage_s = time.perf_counter() - began
    if not isinstance(assessed, SignalAssessedV1):
        raise TypeError("triage took a fresh signal for a duplicate")
    async with rolled_back(stores_.scoring_pool) as conn:
        began = time.perf_counter()
        await stores_.scoring.record_assessment(conn, assessed, str(event.id))
        scoring_s = time.perf_counter() - began
        published = await conn.fetchval(
            "SELECT length(value) FROM outbox WHERE topic = $1 ORDER BY id DESC LIMIT 1",
            topics.PROVIDER_RISK_CHANGED,
        )
    return triage_s, scoring_s, published


async def _measure(
    stores_: Stores, providers: Sequence[str], events: int
) -> dict[str, float | int | None]:
    """Median and p90 per-event milliseconds of each service over up to ``events`` events."""
    triage: list[float] = []
    scoring: list[float] = []
    sizes: list[int] = []
    rng = random.Random(11)
    started = time.monotonic()
    for number in range(events):
        if number >= _MIN_EVENTS and time.monotonic() - started > _TIME_BUDGET_S:
            break
        t, s, size = await _one_event(stores_, rng.choice(providers), number)
        triage.append(t * 1000)
        scoring.append(s * 1000)
        if size is not None:
            sizes.append(size)
    return {
        "events": len(triage),
        "triage_ms": statistics.median(triage),
        "triage_p90_ms": sorted(triage)[int(len(triage) * 0.9)],
        "scoring_ms": statistics.median(scoring),
        "scoring_p90_ms": sorted(scoring)[int(len(scoring) * 0.9)],
        "risk_changes": len(sizes),
        "risk_change_bytes": statistics.median(sizes) if sizes else None,
    }


async def _evaluate_ms(stores_: Stores, provider_id: str) -> float:
    """Milliseconds of scoring's pure ``evaluate`` over the provider's facts, no database."""
    at = datetime.now(tz=UTC)
    async with stores_.scoring_pool.acquire() as conn:
        facts = await stores_.scoring.facts(conn, provider_id, at)
    rounds = 5
    began = time.perf_counter()
    for _ in range(rounds):
        evaluate(facts, stores_.scoring.model, at)
    return (time.perf_counter() - began) / rounds * 1000


async def _plans(stores_: Stores) -> dict[str, str]:
    """The plans of the per-event queries that read a provider's history."""
    now = datetime.now(tz=UTC)
    return {
        "triage: earlier signals in 12 months (TriageService._context)": await stores_.explain(
            stores_.triage_pool,
            "SELECT count(*) FROM assessments WHERE provider_id = $1 AND current "
            "AND signal_id <> $2 AND occurred_at > $3 AND occurred_at <= $4",
            HOT,
            signal(HOT, 0).signal_id,
            now - timedelta(days=365),
            now,
        ),
        "scoring: the provider's signals (ScoringService.facts)": await stores_.explain(
            stores_.scoring_pool,
            "SELECT signal_id, assessment_id, outcome, category, severity, occurred_at, "
            "assessed_at FROM signals WHERE provider_id = $1 AND occurred_at > $2 "
            "AND occurred_at <= $3",
            HOT,
            now - timedelta(days=3 * 366),
            now,
        ),
    }


def _plot(registry: list[dict[str, Any]], history: list[dict[str, Any]]) -> None:
    import matplotlib as mpl  # noqa: PLC0415 - only the plot needs it

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - after choosing the backend

    # One scale for both panels, so a flat line looks flat and a steep one steep.
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    highest = max(p[k] for p in (*registry, *history) for k in ("triage_ms", "scoring_ms"))
    for axis, points, key, title in (
        (left, registry, "providers", "Registry size (providers)"),
        (right, history, "history", "One provider's earlier signals"),
    ):
        xs = [p[key] for p in points]
        axis.plot(xs, [p["triage_ms"] for p in points], "o-", label="triage: assess_signal")
        axis.plot(xs, [p["scoring_ms"] for p in points], "s-", label="scoring: record_assessment")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_ylim(1, max(10.0, highest * 2))
        axis.set_xlabel(title)
        axis.set_ylabel("ms per event (median, database work included)")
        axis.grid(visible=True, which="both", alpha=0.3)
        axis.legend()
    figure.suptitle("Per-signal cost as the data grows (flat is the goal)")
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT, dpi=110)
    plt.close(figure)


async def run(*, quick: bool) -> Result:
    """Measure the growth curves; see the module docstring."""
    registry_sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    history_sizes = (10, 100, 1_000) if quick else (10, 100, 1_000, 10_000)
    events = 20 if quick else 40
    registry: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    async with stores() as stores_:
        await stores_.make_templates()
        loaded = 0
        for size in registry_sizes:
            say(f"growth: registry of {size:,} providers")
            await stores_.add_providers(loaded + 1, size - loaded)
            loaded = size
            names = [f"bench-p-{n}" for n in range(1, size + 1)]
            registry.append({"providers": size, **await _measure(stores_, names, events)})
        async with stores_.triage_pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO providers VALUES ($1, 'Hot', ARRAY['GM0153'], true, true, 1)", HOT
            )
        stored = 0
        for size in history_sizes:
            say(f"growth: one provider with {size:,} earlier signals")
            await stores_.add_triage_history(HOT, size - stored)
            await stores_.add_scoring_history(HOT, size - stored)
            stored = size
            point = {"history": size, **await _measure(stores_, [HOT], events)}
            point["scoring_evaluate_only_ms"] = await _evaluate_ms(stores_, HOT)
            history.append(point)
        plans = await _plans(stores_)
        versions = stores_.versions
    _plot(registry, history)
    result = Result("growth", "Cost growth: per-signal work as registry and history grow")
    for name, points, key in (("registry", registry, "providers"), ("history", history, "history")):
        first, last = points[0], points[-1]
        for service in ("triage", "scoring"):
            result.add(f"{service}, {name} {first[key]:,}", first[f"{service}_ms"], "ms/event")
            result.add(f"{service}, {name} {last[key]:,}", last[f"{service}_ms"], "ms/event")
            result.add(
                f"{service}: growth factor over the {name} range",
                last[f"{service}_ms"] / first[f"{service}_ms"],
                "x",
                target=_FLAT,
                higher_is_better=False,
                note=f"{key} x{last[key] // first[key]:,}",
            )
    for point in (history[0], history[-1]):
        result.add(
            f"scoring: risk-changed event, history {point['history']:,}",
            point["risk_change_bytes"],
            "bytes",
            note="the event lists every contribution",
        )
    result.settings = {
        "registry sizes": list(registry_sizes),
        "history sizes": list(history_sizes),
        "events per point": f"up to {events} (at least {_MIN_EVENTS}, about "
        f"{_TIME_BUDGET_S:.0f} s per point)",
        "flat means": f"the largest size costs at most {_FLAT:.0f}x the smallest",
        "transactions": "one per event, rolled back (the history keeps its size)",
        "plot": str(PLOT.relative_to(ROOT)),
        "postgres": versions[0],
    }
    result.details = {"registry": registry, "history": history, "plans": plans}
    return result
