"""``throughput`` and ``footprint``: partner signals through all four services, as processes.

Partner signals (IGJ findings, police incidents, synthetic) are produced on the partner Kafka
topics and go through intake, triage, scoring and notify with every durability mechanism on:
Postgres commits (fsync on), inbox, outbox, telemetry exported over OTLP; alerts are delivered
to the benchmark's receiver, which checks every signature.

The producer keeps the chain saturated but bounded: it sends while fewer than
``max_in_flight`` signals are on their way, so every stage always has work and no stage
drowns in an unbounded backlog. Progress is read from the broker once every half second:
a consumer group's committed offsets are the records it has finished (the kit commits after
the transaction). A signal is *through* once both scoring and notify have committed its
assessment. The sustained rate is the slope of the through count over the 60-second window
(a least-squares line through the samples, as commits come in steps of a batch), after the
first signals are through and a warm-up.

During the window each process's CPU time and each service's resident memory are sampled; the
bottleneck is the service with the longest queue in front of it at the end of the window, and
it is then profiled with py-spy under the same load (a flame graph and the hottest frames).
``footprint`` starts each service alone (start-up time to ``/readyz`` 200), measures it idle
after seeding, and under this load.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import asyncpg

from bench.common import Result, cpu_seconds, load_result, postgres_cpu, say, slope
from bench.infra import SERVICES
from bench.kafka import Offsets, PartnerProducer, group_of
from bench.profiling import profile
from bench.receiver import EXPORT_FLUSH_S, TraceCounts
from bench.seeding import SignalStream
from bench.stack import Running, running_stack
from zicht_schemas import topics

__all__ = ["PipelineRun", "footprint_result", "message_sizes", "run_pipeline", "throughput_result"]

_TICK_S: Final = 0.5
_SEND_CHUNK: Final = 250
_IDLE_SETTLE_S: Final = 5.0
_FILL_TIMEOUT_S: Final = 180.0
_DRAIN_S: Final = 15.0


@dataclass
class Sample:
    """Progress at one moment (counts since the start of the load)."""

    at: float
    produced: int
    counts: dict[str, int]
    rss: dict[str, float | None]


@dataclass
class PipelineRun:
    """What one run of the chain under load measured."""

    startup_s: dict[str, float | None]
    idle_rss: dict[str, float | None]
    samples: list[Sample] = field(default_factory=list)
    window: tuple[float, float] = (0.0, 0.0)
    cpu_share: dict[str, float] = field(default_factory=dict)
    idle_cpu: dict[str, float] = field(default_factory=dict)
    seeded: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, dict[str, float]] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    versions: tuple[str, str] = ("", "")
    settings: dict[str, Any] = field(default_factory=dict)
    drained_after_s: float | None = None
    traces: TraceCounts = field(default_factory=TraceCounts)
    """Spans and bytes the services exported from the start of the load until drained."""
    trace_bytes: int = 0
    """Bytes of the OTLP trace export requests over the same span."""
    signals: int = 0
    """Signals produced in that span."""
    handled: dict[str, int] = field(default_factory=dict)
    """What each service had committed by then (its signals; notify: their assessments)."""

    def at_window(self) -> tuple[Sample, Sample]:
        """The samples closest to the window's start and end."""
        start, end = self.window
        first = min(self.samples, key=lambda s: abs(s.at - start))
        last = min(self.samples, key=lambda s: abs(s.at - end))
        return first, last


async def _counts(offsets: Offsets, running: Running) -> dict[str, int]:
    """Every stage's progress, read from the broker (and the receiver)."""

    async def committed(service: str, topic: str) -> int:
        return await offsets.committed(group_of(service), topic)

    return {
        "intake": await committed("intake", topics.PARTNER_IGJ)
        + await committed("intake", topics.PARTNER_POLICE),
        "received": await offsets.published(topics.SIGNAL_RECEIVED),
        "triage": await committed("triage", topics.SIGNAL_RECEIVED),
        "assessed": await offsets.published(topics.SIGNAL_ASSESSED),
        "scoring": await committed("scoring", topics.SIGNAL_ASSESSED),
        "notify": await committed("notify", topics.SIGNAL_ASSESSED),
        "risk_changed": await offsets.published(topics.PROVIDER_RISK_CHANGED),
        "notify_risk": await committed("notify", topics.PROVIDER_RISK_CHANGED),
        "alerts_delivered": running.receiver.count(),
    }


def _through(counts: Mapping[str, int]) -> int:
    return min(counts["scoring"], counts["notify"])


def queues(counts: Mapping[str, int], produced: int) -> dict[str, int]:
    """The records waiting in front of each service."""
    return {
        "intake": produced - counts["intake"],
        "triage": counts["received"] - counts["triage"],
        "scoring": counts["assessed"] - counts["scoring"],
        "notify": counts["assessed"]
        - counts["notify"]
        + counts["risk_changed"]
        - counts["notify_risk"],
    }


def _process_cpu(running: Running) -> dict[str, float]:
    found: dict[str, float] = {}
    for name, service in running.services.running.items():
        found[name] = service.cpu_seconds() or 0.0
    found["postgres"] = postgres_cpu(running.infra.postgres.pid)
    broker = running.infra.broker.pid
    found["broker"] = (cpu_seconds(broker) or 0.0) if broker else 0.0
    found["bench (producer, receiver)"] = cpu_seconds(os.getpid()) or 0.0
    return found


class Load:
    """Produces signals while fewer than ``max_in_flight`` are on their way; samples progress."""

    def __init__(
        self, running: Running, stream: SignalStream, offsets: Offsets, max_in_flight: int
    ) -> None:
        self.running = running
        self.stream = stream
        self.offsets = offsets
        self.max_in_flight = max_in_flight
        self.producer = PartnerProducer(running.infra.bootstrap)
        self.samples: list[Sample] = []
        self.base: dict[str, int] = {}
        self.producing = True
        self._through = 0

    async def _produce(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            room = self.max_in_flight - (self.producer.sent - self._through)
            if self.producing and room > 0:
                await self.producer.send(self.stream.take(min(room, _SEND_CHUNK)))
            else:
                await asyncio.sleep(0.02)

    async def _sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = time.monotonic()
            raw = await _counts(self.offsets, self.running)
            counts = {k: v - self.base.get(k, 0) for k, v in raw.items()}
            self._through = _through(counts)
            rss = {n: s.rss_mib() for n, s in self.running.services.running.items()}
            self.samples.append(Sample(now, self.producer.sent, counts, rss))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    stop.wait(), timeout=max(0.0, now + _TICK_S - time.monotonic())
                )

    async def run(
        self, phases: Sequence[tuple[str, float]], on_phase: Any = None
    ) -> dict[str, float]:
        """Run the load through the named phases; return each phase's start (monotonic)."""
        await self.producer.start()
        self.base = await _counts(self.offsets, self.running)
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(self._produce(stop)),
            asyncio.create_task(self._sample(stop)),
        ]
        started: dict[str, float] = {"load": time.monotonic()}
        try:
            # The first signals take a while to cross all four services (each stage handles
            # a batch at a time): the phases start once signals come out of the chain.
            while self._through == 0:
                if time.monotonic() - started["load"] > _FILL_TIMEOUT_S:
                    raise RuntimeError(f"no signal through the chain within {_FILL_TIMEOUT_S} s")
                await asyncio.sleep(0.2)
            started["flowing"] = time.monotonic()
            for name, seconds in phases:
                started[name] = time.monotonic()
                if on_phase is not None:
                    await on_phase(name)
                await asyncio.sleep(seconds)
            started["end"] = time.monotonic()
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.producer.stop()
        return started

    async def drain(self, timeout_s: float) -> float | None:
        """Wait until everything produced is through; the seconds it took, or None."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            raw = await _counts(self.offsets, self.running)
            if _through({k: v - self.base.get(k, 0) for k, v in raw.items()}) >= self.producer.sent:
                return time.monotonic() - started
            await asyncio.sleep(0.5)
        return None


async def message_sizes(database_url: str) -> dict[str, dict[str, float]]:
    """The average value and header bytes of each topic's records, from the outboxes."""
    conn = await asyncpg.connect(database_url)
    try:
        found: dict[str, dict[str, float]] = {}
        for schema in SERVICES:
            rows = await conn.fetch(
                f"SELECT topic, count(*) AS n, avg(length(value)) AS value, "  # noqa: S608 - fixed schema names
                f"avg(length(headers::text)) AS headers FROM {schema}.outbox GROUP BY topic"
            )
            for row in rows:
                found[row["topic"]] = {
                    "records": int(row["n"]),
                    "value_bytes": round(float(row["value"]), 1),
                    "header_bytes": round(float(row["headers"]), 1),
                }
        return found
    finally:
        await conn.close()


async def _alert_states(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT state, count(*) AS n FROM notify.alerts GROUP BY state")
        return {row["state"]: int(row["n"]) for row in rows}
    finally:
        await conn.close()


def _bottleneck(last: Sample) -> str:
    waiting = queues(last.counts, last.produced)
    return max(waiting, key=lambda name: waiting[name])


async def _measure_idle(running: Running, run: PipelineRun) -> None:
    """Each process's CPU share and each service's memory with nothing to do."""
    await asyncio.sleep(_IDLE_SETTLE_S)
    idle_from = _process_cpu(running)
    await asyncio.sleep(_IDLE_SETTLE_S)
    idle_to = _process_cpu(running)
    run.idle_cpu = {
        name: round((idle_to[name] - idle_from[name]) / _IDLE_SETTLE_S, 3) for name in idle_to
    }
    run.idle_rss = {n: s.rss_mib() for n, s in running.services.running.items()}


async def run_pipeline(
    *,
    providers: int,
    warmup_s: float,
    window_s: float,
    profile_s: float,
    max_in_flight: int,
    env: Mapping[str, str] | None = None,
    one_by_one: bool = True,
) -> PipelineRun:
    """Start the chain, seed it, load it, profile its bottleneck; see the module docstring."""
    async with running_stack(providers=providers, env=env, one_by_one=one_by_one) as running:
        stream = SignalStream(running.region)
        run = PipelineRun(startup_s=running.startup_s(), idle_rss={})
        run.seeded = running.seeded
        run.versions = running.versions()
        run.settings = {"env": dict(env or {}), "providers": providers}
        await _measure_idle(running, run)
        offsets = Offsets(running.infra.bootstrap)
        await offsets.start()
        try:
            load = Load(running, stream, offsets, max_in_flight)
            traces_before = running.sink.traces()
            bytes_before = running.sink.counts().get("/v1/traces bytes", 0)
            cpu_at: dict[str, dict[str, float]] = {}
            profiled: dict[str, Any] = {}

            async def on_phase(name: str) -> None:
                cpu_at[name] = _process_cpu(running)
                say(f"load: {name}")
                if name == "profile" and load.samples:
                    target = _bottleneck(load.samples[-1])
                    service = running.services.running[target]
                    profiled["service"] = target
                    profiled["task"] = asyncio.create_task(
                        asyncio.to_thread(profile, service.pid, target, profile_s)
                    )

            phases = [("warmup", warmup_s), ("window", window_s)]
            if profile_s > 0:
                phases.append(("profile", profile_s + 2))
            started = await load.run(phases, on_phase)
            if "task" in profiled:
                run.profile = {"service": profiled["service"], **(await profiled["task"])}
            end_of_window = started.get("profile", started["end"])
            run.window = (started["window"], end_of_window)
            after = cpu_at.get("profile") or _process_cpu(running)
            run.cpu_share = {
                name: round((after[name] - cpu_at["window"][name]) / window_s, 3) for name in after
            }
            run.samples = load.samples
            say("load: draining")
            run.drained_after_s = await load.drain(_DRAIN_S)
            await asyncio.sleep(EXPORT_FLUSH_S)  # the batch span processors' last export
            run.traces = running.sink.traces().since(traces_before)
            run.trace_bytes = running.sink.counts().get("/v1/traces bytes", 0) - bytes_before
            run.signals = load.producer.sent
            raw = await _counts(offsets, running)
            run.handled = {k: v - load.base.get(k, 0) for k, v in raw.items()}
        finally:
            await offsets.stop()
        run.sizes = await message_sizes(running.database_url)
        run.alerts = {
            **await _alert_states(running.database_url),
            "received": running.receiver.count(),
            "duplicates": running.receiver.count("duplicates"),
        }
        run.settings["telemetry_export"] = running.sink.counts()
        return run


def throughput_result(run: PipelineRun, *, max_in_flight: int) -> Result:
    """The ``throughput`` figures of a run."""
    result = Result("throughput", "End-to-end throughput: partner topics to webhooks")
    first, last = run.at_window()
    seconds = last.at - first.at
    in_window = [s for s in run.samples if first.at <= s.at <= last.at]

    def rate(key: str) -> float | None:
        return slope([(s.at, s.counts[key]) for s in in_window])

    through = slope([(s.at, _through(s.counts)) for s in in_window]) or 0.0
    raw = load_result("raw_chain")
    raw_rate = None
    if raw is not None:
        raw_rate = next(
            (f["value"] for f in raw["figures"] if f["name"] == "raw chain, 4 hops"), None
        )
    result.add("signals through all four services", through, "signals/s", target=1000)
    ratio = through / raw_rate if raw_rate else None
    result.add(
        "ratio to the raw chain",
        ratio,
        "x",
        target=0.3,
        note=f"raw chain {raw_rate:,.0f} msg/s" if raw_rate else "run raw_chain for the ratio",
    )
    result.add("intake: partner records committed", rate("intake"), "records/s")
    result.add("triage: signals assessed", rate("triage"), "signals/s")
    result.add("scoring: assessments scored", rate("scoring"), "events/s")
    result.add("notify: assessments routed", rate("notify"), "events/s")
    result.add("scoring: risk changes published", rate("risk_changed"), "events/s")
    result.add("notify: alerts delivered", rate("alerts_delivered"), "alerts/s")
    waiting = queues(last.counts, last.produced)
    result.add(
        "in flight at the end of the window",
        last.produced - _through(last.counts),
        "signals",
        note="queues: " + ", ".join(f"{k} {v}" for k, v in waiting.items()),
    )
    result.add(
        "drained after the load stopped",
        run.drained_after_s,
        "s",
        note="" if run.drained_after_s is not None else f"not within {_DRAIN_S:.0f} s",
    )
    _add_trace_figures(result, run)
    result.settings = {
        **run.settings,
        "window_s": round(seconds, 1),
        "max_in_flight": max_in_flight,
        "signal mix": "IGJ findings and police incidents (JSON), synthetic, all valid",
        "postgres": run.versions[0],
        "broker": run.versions[1],
    }
    result.details = {
        "cpu_share_during_window (1.0 = one core)": run.cpu_share,
        "queues_at_end_of_window": waiting,
        "alerts": run.alerts,
        "message_sizes": run.sizes,
        "seeded": run.seeded,
        "profile": run.profile,
        "timeline": [
            {"t": round(s.at - first.at, 1), "produced": s.produced, **s.counts}
            for s in run.samples
        ],
    }
    bottleneck = run.profile.get("service")
    if bottleneck:
        result.notes.append(
            f"bottleneck (longest queue at the end of the window): {bottleneck}; "
            f"profile in {run.profile.get('flamegraph')}"
        )
    return result


def _add_trace_figures(result: Result, run: PipelineRun) -> None:
    """Spans, SQL statements and trace bytes per signal: the figures that explain the rate.

    Per service, "per signal" is per signal that service had handled when the counts were
    taken (after the drain and the exporters' last flush), so a backlog does not thin them.
    """
    if not run.signals:
        return
    through = min(run.handled.get("scoring", 0), run.handled.get("notify", 0))
    result.add(
        "trace bytes exported per signal",
        run.trace_bytes / through if through else None,
        "bytes",
        higher_is_better=False,
        note=f"all four services, over {through:,} signals through the chain "
        f"({run.signals:,} sent)",
    )
    alerts = run.handled.get("alerts_delivered", 0)
    for name in SERVICES:
        handled = run.handled.get(name, 0)
        kinds: Mapping[str, int] = run.traces.spans_by_kind.get(name, {})
        note = ", ".join(f"{kind} {n / handled:.2f}" for kind, n in sorted(kinds.items()))
        if name == "notify" and handled:
            note += f"; {alerts / handled:.2f} alerts per signal"
        result.add(
            f"{name}: spans per signal",
            run.traces.spans.get(name, 0) / handled if handled else None,
            "spans",
            target=4,
            higher_is_better=False,
            note=f"over {handled:,} signals: {note}",
        )
    for name in SERVICES:
        handled = run.handled.get(name, 0)
        result.add(
            f"{name}: SQL statements per signal",
            run.traces.statements.get(name, 0.0) / handled if handled else None,
            "statements",
            higher_is_better=False,
            note="from the consumer spans: each event its share of its batch's statements",
        )
    if run.traces.undecodable:
        result.notes.append(f"{run.traces.undecodable} trace exports could not be decoded")


def footprint_result(run: PipelineRun) -> Result:
    """The ``footprint`` figures of a run."""
    result = Result("footprint", "Footprint: resident memory and start-up time per service")
    first, last = run.at_window()
    in_window = [s for s in run.samples if first.at <= s.at <= last.at]
    for name in SERVICES:
        result.add(f"{name}: RSS idle", run.idle_rss.get(name), "MiB", target=150,
                   higher_is_better=False)  # fmt: skip
        values = [s.rss[name] for s in in_window if s.rss.get(name) is not None]
        peak = max((v for v in values if v is not None), default=None)
        result.add(f"{name}: RSS under load (peak)", peak, "MiB", target=150,
                   higher_is_better=False)  # fmt: skip
        result.add(f"{name}: start-up to /readyz 200", run.startup_s.get(name), "s")
        result.add(f"{name}: CPU idle", run.idle_cpu.get(name), "cores",
                   note="1.0 = one core; no signal in flight")  # fmt: skip
    result.add("broker: CPU idle", run.idle_cpu.get("broker"), "cores",
               note="answering the services' idle fetches")  # fmt: skip
    together = [run.idle_cpu.get(name) for name in (*SERVICES, "broker")]
    result.add(
        "four services and the broker: CPU idle",
        sum(v for v in together if v is not None) if None not in together else None,
        "cores",
        target=0.15,
        higher_is_better=False,
        note="default pacing (unless --set): 10 ms fetch wait, 250 ms after 2 s idle",
    )
    result.settings = {
        **run.settings,
        "start-up": "each service started alone, after Postgres and the broker, migrations "
        "applied on a fresh database",
        "idle": f"{_IDLE_SETTLE_S:.0f} s after seeding, before any signal (RSS); CPU over "
        f"the next {_IDLE_SETTLE_S:.0f} s",
        "under load": "the throughput load, peak of samples every 0.5 s over its window",
        "rss": "VmRSS from /proc/<pid>/status",
    }
    return result
