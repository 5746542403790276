"""``replay``: re-scoring and re-assessing from stored history, events per second.

Scoring's ``replay`` (``python -m zicht_scoring replay``) scores every provider again from its
stored inputs; triage's ``reassess`` (``python -m zicht_triage reassess``) weighs every
current decision again under a new framework version. Both run here as the commands run them
(the service's use case against its pool), over synthetic history loaded in bulk:

- re-scoring: providers with indicator readings and assessed signals; the rate counts the
  stored input events read (signals plus readings) per second, and providers per second;
- re-assessing: assessed signals (copies of decisions triage itself made) under framework
  2025.1, re-assessed under a copy of it with a new version and one rule changed, so part of
  the decisions change and are published (outbox) as the command does.

The pure domain functions (``zicht_scoring.domain.evaluate``, ``zicht_triage.domain.assess``)
over the same facts, without the database, show the ceiling.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from importlib import resources
from typing import Final

from bench.common import Result, say
from bench.history import Stores, stores
from bench.profiling import profile_here
from zicht_schemas import SignalReceivedV1
from zicht_scoring.domain import evaluate
from zicht_triage.domain import AssessmentContext, Framework, SignalFacts, assess, load_framework

__all__ = ["run"]

_NEW_VERSION: Final = "2099.1"


def bench_framework() -> Framework:
    """The shipped framework as version 2099.1, governance signals always investigated."""
    text = resources.files("zicht_triage").joinpath("frameworks/2025.1.yaml").read_text("utf-8")
    changed = text.replace('version: "2025.1"', f'version: "{_NEW_VERSION}"', 1)
    changed = changed.replace(
        "  - id: R5\n    when: {input: category, in: [calamity, violence]}",
        "  - id: R5\n    when: {input: category, in: [calamity, violence, governance]}",
        1,
    )
    if changed.count(_NEW_VERSION) != 1 or "[calamity, violence, governance]" not in changed:
        raise RuntimeError("the shipped framework changed shape; update bench_framework()")
    return load_framework(changed, origin="bench: 2025.1 with R5 also for governance")


async def _rescore(stores_: Stores, providers: int) -> dict[str, float]:
    async with stores_.scoring_pool.acquire() as conn:
        inputs = int(
            await conn.fetchval(
                "SELECT (SELECT count(*) FROM signals) + (SELECT count(*) FROM indicator_readings)"
            )
        )
    began = time.perf_counter()
    report = await stores_.scoring.replay(stores_.scoring_pool, stores_.scoring.model)
    seconds = time.perf_counter() - began
    # The ceiling: the same evaluations without the database.
    at = datetime.now(tz=UTC)
    async with stores_.scoring_pool.acquire() as conn:
        facts = [
            await stores_.scoring.facts(conn, f"bench-p-{n}", at) for n in range(1, providers + 1)
        ]
    began = time.perf_counter()
    for one in facts:
        evaluate(one, stores_.scoring.model, at)
    pure = time.perf_counter() - began
    return {
        "inputs": inputs,
        "providers": report.providers,
        "published": report.published,
        "seconds": seconds,
        "pure_seconds": pure,
    }


async def _reassess(stores_: Stores) -> dict[str, float]:
    framework = bench_framework()
    async with stores_.triage_pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT s.data::text AS data, a.context "
            "FROM assessments a JOIN signals s USING (signal_id) WHERE a.current LIMIT 5000"
        )
    began = time.perf_counter()
    report = await stores_.triage.reassess(stores_.triage_pool, framework)
    seconds = time.perf_counter() - began
    # The ceiling: assess() alone over the same signals, already parsed.
    parsed = [
        (SignalFacts.from_event(SignalReceivedV1.model_validate_json(r["data"])), r["context"])
        for r in rows
    ]
    contexts = [
        AssessmentContext(
            related_to_region=bool(c["related_to_region"]),
            open_investigation_id=None,
            prior_signals_12_months=int(str(c["prior_signals_12_months"])),
        )
        for _, raw in parsed
        for c in [_object(raw)]
    ]
    began = time.perf_counter()
    for (facts, _), context in zip(parsed, contexts, strict=True):
        assess(facts, context, framework)
    pure = time.perf_counter() - began
    return {
        "assessed": report.assessed,
        "changed": report.changed,
        "seconds": seconds,
        "pure_per_s": len(parsed) / pure if pure else 0.0,
    }


def _object(raw: object) -> dict[str, object]:
    return raw if isinstance(raw, dict) else {}


async def run(*, quick: bool) -> Result:
    """Measure re-scoring and re-assessing; see the module docstring."""
    providers = 200 if quick else 1_000
    signals_per_provider = 25 if quick else 50
    reassess_signals = 5_000 if quick else 20_000
    async with stores() as stores_:
        say(f"replay: loading {providers:,} providers, {providers * signals_per_provider:,} "
            f"scored signals, {reassess_signals:,} assessed signals")  # fmt: skip
        await stores_.add_providers(1, providers)
        names = [f"bench-p-{n}" for n in range(1, providers + 1)]
        await stores_.add_scoring_history(names, providers * signals_per_provider)
        await stores_.make_templates()
        await stores_.add_triage_history(names, reassess_signals)
        say("replay: re-scoring every provider")
        rescored = await _rescore(stores_, providers)
        say("replay: re-assessing every signal")
        reassessed = await _reassess(stores_)
        say("replay: profiling both once more (pyinstrument)")
        profiles = {
            "rescore": await profile_here(
                lambda: stores_.scoring.replay(stores_.scoring_pool, stores_.scoring.model),
                "replay-rescore",
            ),
            "reassess": await profile_here(
                lambda: stores_.triage.reassess(stores_.triage_pool, bench_framework()),
                "replay-reassess",
            ),
        }
        versions = stores_.versions
    result = Result("replay", "Replay: re-scoring and re-assessing from stored history")
    result.add(
        "re-score: stored events per second",
        rescored["inputs"] / rescored["seconds"],
        "events/s",
        target=50_000,
        note=f"{rescored['inputs']:,} events of {rescored['providers']:,} providers",
    )
    result.add("re-score: providers per second", rescored["providers"] / rescored["seconds"],
               "providers/s")  # fmt: skip
    result.add(
        "re-score ceiling: evaluate() alone",
        rescored["inputs"] / rescored["pure_seconds"],
        "events/s",
        note="the same facts in memory, no database",
    )
    result.add(
        "re-assess: signals per second",
        reassessed["assessed"] / reassessed["seconds"],
        "signals/s",
        target=20_000,
        note=f"{reassessed['assessed']:,} signals, {reassessed['changed']:,} decisions changed",
    )
    result.add(
        "re-assess ceiling: assess() alone",
        reassessed["pure_per_s"],
        "signals/s",
        note="facts already parsed, no database",
    )
    result.settings = {
        "providers": providers,
        "scored signals per provider": signals_per_provider,
        "indicator readings per provider": 6,
        "assessed signals": reassess_signals,
        "new framework": f"{_NEW_VERSION}: 2025.1 with rule R5 (always investigate) also for "
        "governance signals",
        "how": "ScoringService.replay and TriageService.reassess against their pools, as the "
        "replay and reassess commands call them (the relay publishing afterwards is not timed)",
        "postgres": versions[0],
    }
    result.details = {"rescore": rescored, "reassess": reassessed, "profiles": profiles}
    result.notes.append(
        "profiles (pyinstrument, a second pass): "
        + ", ".join(p["report"] for p in profiles.values())
    )
    return result
