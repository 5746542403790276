"""``latency``: from intake's ``202`` to the webhook's arrival, at 5 and then 50 signals/s.

Signals (synthetic IGJ findings and police incidents) are submitted over HTTP at a steady
rate, each on its own schedule (open loop: a slow answer does not slow the next one). The time
of each ``202`` is noted; the receiver notes the arrival of each alert. After the run, an alert
is traced back to its signal through the services' own records: the signal's id (intake), the
id of its ``signal.assessed`` event (triage's outbox), and the risk changes that assessment
caused (scoring's history). An alert about an assessment has crossed intake, triage and
notify; an alert about a risk change has crossed scoring as well. Both are reported, and
all alerts together.

Settings can be set per hop (per service). Each service reads with one consumer whose fetch
wait is short while records flow (10 ms: the local broker does not answer a waiting fetch
when data arrives, so the wait *is* the hop's latency under light load) and long once it has
been idle for 2 s; 5 signals/s keeps every hop brisk. The 5/s step runs first, on a chain
that has just been seeded; then 50/s on the same chain.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import asyncpg
import httpx

from bench.common import Result, percentile, say
from bench.receiver import EXPORT_FLUSH_S, Arrival, KeptSpan
from bench.seeding import SignalStream
from bench.stack import Running, running_stack
from zicht_demo.signals import Submission, SubmissionKind
from zicht_schemas import topics

__all__ = ["PER_SERVICE", "breakdown", "run"]

PER_SERVICE: Final[Mapping[str, Mapping[str, str]]] = {
    name: {} for name in ("intake", "triage", "scoring", "notify")
}
"""Per-hop settings beside the defaults (none now: one consumer per service waits 10 ms per
fetch while records flow, 250 ms after 2 s without one; linger 0 ms; outbox woken by NOTIFY).
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


def _figures(
    result: Result, name: str, values: list[float], *, targets: tuple[float, float] | None
) -> None:
    ms = [v * 1000 for v in values]
    p50, p99 = targets if targets is not None else (None, None)
    result.add(f"{name}: p50", percentile(ms, 0.5), "ms", target=p50, higher_is_better=False)
    result.add(f"{name}: p95", percentile(ms, 0.95), "ms")
    result.add(f"{name}: p99", percentile(ms, 0.99), "ms", target=p99, higher_is_better=False)
    result.add(f"{name}: max", max(ms, default=None), "ms")
    result.add(f"{name}: alerts", len(ms), "alerts")


_RATES: Final = ((5.0, (50.0, 120.0)), (50.0, (40.0, 150.0)))
"""Each rate and its (p50, p99) targets in ms: a trickle the chain carries today, then 50/s."""


@dataclass
class _Step:
    rate: float
    seconds: float
    sent: list[Sent]
    arrivals: list[Arrival]
    origin: dict[str, tuple[str, str]]
    spans: list[KeptSpan]


def _link(parent: KeptSpan, child: KeptSpan) -> str:
    return f"{parent.service} {parent.kind} -> {child.service} {child.kind}"


def breakdown(spans: list[KeptSpan]) -> dict[str, float]:
    """Median ms of each step on the path to a webhook: every span's own time, every gap.

    The path is walked from each ``deliver webhook`` span up its parents to the partner's
    request: delivery, notify's consumer span, triage's producer span, triage's consumer span,
    intake's producer span, intake's server span (and scoring's, on a risk change's path).
    A gap is from the parent's end to the child's start (a Kafka hop: producer end to consumer
    start; an outbox: the writer's end to the relay's producer span).
    """
    by_id = {(s.trace_id, s.span_id): s for s in spans}
    steps: dict[str, list[float]] = {}
    for span in spans:
        if span.name != "deliver webhook":
            continue
        path = [span]
        while (parent := by_id.get((span.trace_id, path[-1].parent_span_id))) is not None:
            path.append(parent)
        for child, parent in itertools.pairwise(path):
            gap = (child.start_ns - parent.end_ns) / 1e6
            steps.setdefault(f"gap {_link(parent, child)}", []).append(gap)
        for step in path:
            own = (step.end_ns - step.start_ns) / 1e6
            steps.setdefault(f"in {step.service} {step.kind} ({step.name})", []).append(own)
    return {name: percentile(values, 0.5) or 0.0 for name, values in sorted(steps.items())}


async def _step(running: Running, stream: SignalStream, rate: float, seconds: float) -> _Step:
    before = len(running.receiver.arrivals())
    say(f"latency: {rate:.0f} signals/s over HTTP for {seconds:.0f} s")
    running.sink.keep_spans(keep=True)
    sent = await _submit(running, stream, rate, seconds)
    await _quiet(running, _SETTLE_QUIET_S * 2, _SETTLE_MAX_S)
    await asyncio.sleep(EXPORT_FLUSH_S)
    spans = running.sink.keep_spans(keep=False)
    arrivals = running.receiver.arrivals()[before:]
    accepted = [s.submission.reference for s in sent if s.status == 202]
    origin = await _trace_back(running.database_url, accepted)
    return _Step(rate, seconds, sent, arrivals, origin, spans)


def _add_step(result: Result, step: _Step, targets: tuple[float, float]) -> None:
    label = f"{step.rate:.0f}/s"
    accepted = {s.submission.reference: s for s in step.sent if s.status == 202}
    by_path: dict[str, list[float]] = {path: [] for path in _PATHS}
    unmatched = 0
    for arrival in step.arrivals:
        traced = step.origin.get(arrival.source_event_id)
        if traced is None:
            unmatched += 1
            continue
        reference, path = traced
        by_path[path].append(arrival.at - accepted[reference].accepted_at)
    everything = [v for values in by_path.values() for v in values]
    _figures(result, f"{label}: all alerts", everything, targets=targets)
    for path, values in by_path.items():
        _figures(result, f"{label}: {path} alerts ({_PATHS[path]})", values, targets=None)
    sent = step.sent
    span = max(s.accepted_at for s in sent) - min(s.accepted_at for s in sent) if sent else 0
    result.add(f"{label}: signals accepted", len(accepted), "signals")
    result.add(
        f"{label}: submissions without an answer in time",
        int(step.rate * step.seconds) - len(sent),
        "signals",
        note=f"given up {_ANSWER_GRACE_S:.0f} s after the last was sent",
    )
    result.add(
        f"{label}: intake's answers per second while sending",
        len(sent) / span if span else None,
        "answers/s",
        note=f"{step.rate:.0f} offered per second",
    )
    result.add(f"{label}: alerts not traced to a sent signal", unmatched, "alerts")
    steps = breakdown(step.spans)
    result.details[f"{label}: path to the webhook, median ms per step"] = {
        name: round(ms, 2) for name, ms in steps.items()
    }
    if steps:
        result.notes.append(
            f"{label}, median ms on the path to a webhook (from the spans): "
            + "; ".join(f"{name} {ms:.1f}" for name, ms in steps.items())
        )


async def run(*, quick: bool, env: Mapping[str, str] | None = None) -> Result:
    """Measure the latency; see the module docstring."""
    seconds = 10.0 if quick else 30.0
    # --set overrides win over the per-hop settings, so each can be tried.
    per_service = {name: {**values, **(env or {})} for name, values in PER_SERVICE.items()}
    steps: list[tuple[_Step, tuple[float, float]]] = []
    async with running_stack(providers=300, per_service_env=per_service) as running:
        stream = SignalStream(running.region)
        for rate, targets in _RATES:
            steps.append((await _step(running, stream, rate, seconds), targets))
        versions = running.versions()
    result = Result("latency", "End-to-end latency: 202 to webhook arrival, 5 and 50 signals/s")
    statuses: dict[str, dict[str, int]] = {}
    for step, targets in steps:
        _add_step(result, step, targets)
        counted = statuses.setdefault(f"{step.rate:.0f}/s", {})
        for s in step.sent:
            counted[str(s.status)] = counted.get(str(s.status), 0) + 1
    result.settings = {
        "rates": [rate for rate, _ in _RATES],
        "duration_s": seconds,
        "providers": 300,
        "per_service": per_service,
        "defaults kept": "ZICHT_KAFKA_LINGER_MS=0, ZICHT_OUTBOX_POLL_INTERVAL_S=1.0 (the relay "
        "is woken by NOTIFY at commit), ZICHT_KAFKA_MAX_BATCH=500, fetch wait 10 ms while "
        "records flow and 250 ms after 2 s without one",
        "clock": "202 time and arrival time both time.time() in the benchmark process",
        "postgres": versions[0],
        "broker": versions[1],
    }
    result.details["intake_statuses"] = statuses
    return result
