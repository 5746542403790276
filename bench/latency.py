"""``latency``: from intake's ``202`` to the webhook's arrival, at a steady 50 signals/s.

Signals (synthetic IGJ findings and police incidents) are submitted over HTTP at a steady
rate, each on its own schedule (open loop: a slow answer does not slow the next one). The time
of each ``202`` is noted; the receiver notes the arrival of each alert. After the run, an alert
is traced back to its signal through the services' own records: the signal's id (intake), the
id of its ``signal.assessed`` event (triage's outbox), and the risk changes that assessment
caused (scoring's history). An alert about an assessment has crossed intake, triage and
notify; an alert about a risk change has crossed scoring as well. Both are reported, and
all alerts together.

Settings are per hop (per service): the consumers on the alert path fetch with a short wait,
because the local broker does not answer a waiting fetch when data arrives (the wait *is* the
hop's latency under light load); intake's consumers are off the path (they keep the signaller's
status) and wait longer, which saves the broker and intake the idle polling.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import asyncpg
import httpx

from bench.common import Result, percentile, say
from bench.seeding import SignalStream
from bench.stack import Running, running_stack
from zicht_demo.signals import Submission, SubmissionKind
from zicht_schemas import topics

__all__ = ["PER_SERVICE", "run"]

PER_SERVICE: Final[Mapping[str, Mapping[str, str]]] = {
    name: {} for name in ("intake", "triage", "scoring", "notify")
}
"""Per-hop settings beside the defaults (none now: the services' defaults wait 50 ms per fetch
on the topics of the alert path and 500 ms elsewhere; linger 0 ms; outbox woken by NOTIFY).
``--set`` adds to every service."""

_SETTLE_QUIET_S: Final = 3.0
_SETTLE_MAX_S: Final = 20.0
_ANSWER_GRACE_S: Final = 10.0
_PATHS: Final = {
    "assessment": "intake, triage, notify",
    "risk change": "intake, triage, scoring, notify",
}


@dataclass(frozen=True, slots=True)
class Sent:
    """One submission and intake's answer."""

    submission: Submission
    status: int
    accepted_at: float


async def _quiet(running: Running, quiet_s: float, limit_s: float) -> None:
    """Wait until no alert has arrived for ``quiet_s`` (at most ``limit_s``)."""
    deadline = time.monotonic() + limit_s
    last = running.receiver.count()
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now_count = running.receiver.count()
        if now_count != last:
            last, still_since = now_count, time.monotonic()
        elif time.monotonic() - still_since >= quiet_s:
            return


async def _submit(
    running: Running, stream: SignalStream, rate: float, seconds: float
) -> list[Sent]:
    keys = {SubmissionKind.IGJ: running.keys.igj, SubmissionKind.POLICE: running.keys.police}
    paths = {SubmissionKind.IGJ: "/v1/signals/igj", SubmissionKind.POLICE: "/v1/signals/police"}
    submissions = stream.take(int(rate * seconds))
    sent: list[Sent] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=running.endpoints.intake, limits=limits) as http:

        async def one(submission: Submission) -> None:
            try:
                answer = await http.post(
                    paths[submission.kind],
                    content=submission.body,
                    headers={
                        "Authorization": f"Bearer {keys[submission.kind]}",
                        "Content-Type": submission.content_type,
                    },
                    timeout=30.0,
                )
            except httpx.TransportError:
                sent.append(Sent(submission, 0, time.time()))  # 0: no answer
                return
            sent.append(Sent(submission, answer.status_code, time.time()))

        loop = asyncio.get_running_loop()
        start = loop.time() + 0.1
        tasks = []
        for number, submission in enumerate(submissions):
            delay = start + number / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(submission)))
        # A chain that cannot keep up must not stretch the run without end: answers still
        # missing a while after the last submission are given up (and counted).
        _, late = await asyncio.wait(tasks, timeout=_ANSWER_GRACE_S)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    return sent


async def _trace_back(database_url: str, references: list[str]) -> dict[str, tuple[str, str]]:
    """Alert source event id -> (reference, path) for the signals sent."""
    conn = await asyncpg.connect(database_url)
    try:
        signals = {
            str(row["signal_id"]): row["partner_reference"]
            for row in await conn.fetch(
                "SELECT signal_id, partner_reference FROM intake.signals "
                "WHERE partner_reference = ANY($1::text[])",
                references,
            )
        }
        found: dict[str, tuple[str, str]] = {}
        for row in await conn.fetch(
            "SELECT event_id, value FROM triage.outbox WHERE topic = $1", topics.SIGNAL_ASSESSED
        ):
            signal_id = str(json.loads(bytes(row["value"])).get("signal_id", ""))
            if signal_id in signals:
                found[row["event_id"]] = (signals[signal_id], "assessment")
        for row in await conn.fetch(
            "SELECT evaluation_id, cause_event_id FROM scoring.risk_history "
            "WHERE cause_event_id::text = ANY($1::text[])",
            list(found),
        ):
            reference = found[str(row["cause_event_id"])][0]
            found[str(row["evaluation_id"])] = (reference, "risk change")
        return found
    finally:
        await conn.close()


def _figures(result: Result, name: str, values: list[float], *, headline: bool) -> None:
    ms = [v * 1000 for v in values]
    result.add(f"{name}: p50", percentile(ms, 0.5), "ms", target=40 if headline else None,
               higher_is_better=False)  # fmt: skip
    result.add(f"{name}: p95", percentile(ms, 0.95), "ms")
    result.add(f"{name}: p99", percentile(ms, 0.99), "ms", target=150 if headline else None,
               higher_is_better=False)  # fmt: skip
    result.add(f"{name}: max", max(ms, default=None), "ms")
    result.add(f"{name}: alerts", len(ms), "alerts")


async def run(*, quick: bool, env: Mapping[str, str] | None = None) -> Result:
    """Measure the latency; see the module docstring."""
    rate, seconds = 50.0, (10.0 if quick else 30.0)
    # --set overrides win over the per-hop settings, so each can be tried.
    per_service = {name: {**values, **(env or {})} for name, values in PER_SERVICE.items()}
    async with running_stack(providers=300, per_service_env=per_service) as running:
        stream = SignalStream(running.region)
        before = len(running.receiver.arrivals())
        say(f"latency: {rate:.0f} signals/s over HTTP for {seconds:.0f} s")
        sent = await _submit(running, stream, rate, seconds)
        await _quiet(running, _SETTLE_QUIET_S * 2, _SETTLE_MAX_S)
        arrivals = running.receiver.arrivals()[before:]
        accepted = {s.submission.reference: s for s in sent if s.status == 202}
        origin = await _trace_back(running.database_url, list(accepted))
        versions = running.versions()
    by_path: dict[str, list[float]] = {path: [] for path in _PATHS}
    unmatched = 0
    for arrival in arrivals:
        traced = origin.get(arrival.source_event_id)
        if traced is None:
            unmatched += 1
            continue
        reference, path = traced
        by_path[path].append(arrival.at - accepted[reference].accepted_at)
    everything = [v for values in by_path.values() for v in values]
    result = Result("latency", "End-to-end latency: 202 to webhook arrival, 50 signals/s")
    _figures(result, "all alerts", everything, headline=True)
    for path, values in by_path.items():
        _figures(result, f"{path} alerts ({_PATHS[path]})", values, headline=False)
    span = max(s.accepted_at for s in sent) - min(s.accepted_at for s in sent) if sent else 0
    result.add("signals accepted", len(accepted), "signals")
    result.add(
        "submissions without an answer in time",
        int(rate * seconds) - len(sent),
        "signals",
        note=f"given up {_ANSWER_GRACE_S:.0f} s after the last was sent",
    )
    result.add(
        "intake's answers per second while sending",
        len(sent) / span if span else None,
        "answers/s",
        note="50 offered per second",
    )
    result.add("alerts not traced to a sent signal", unmatched, "alerts")
    statuses: dict[str, int] = {}
    for s in sent:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
    result.settings = {
        "rate": rate,
        "duration_s": seconds,
        "providers": 300,
        "per_service": per_service,
        "defaults kept": "ZICHT_KAFKA_LINGER_MS=0, ZICHT_OUTBOX_POLL_INTERVAL_S=1.0 (the relay "
        "is woken by NOTIFY at commit), ZICHT_KAFKA_MAX_BATCH=500",
        "clock": "202 time and arrival time both time.time() in the benchmark process",
        "postgres": versions[0],
        "broker": versions[1],
    }
    result.details = {"intake_statuses": statuses}
    return result
