"""``intake``: accepted HTTP submissions per second, one intake process, Postgres commit each.

One intake process (uvicorn, as ``python -m zicht_intake`` runs it) with its durable Postgres
and the broker; the synthetic region's registry is imported first, so signals are matched to
a provider as in production. Concurrent clients (httpx, keep-alive) then post synthetic IGJ
findings and police incidents as fast as intake answers; every ``202`` means the submission,
the normalised signal and its outbox event are committed. The rate is the ``202`` count over
the measuring window, after a warm-up; intake is then profiled under the same load.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from bench.common import Result, cpu_seconds, percentile, postgres_cpu, say, scratch_dir
from bench.infra import Infra, Keys, ServiceProcess, Services, issue_keys
from bench.profiling import profile
from bench.seeding import SignalStream, client_for, registry_csv
from zicht_demo.client import Endpoints
from zicht_demo.region import build_region
from zicht_demo.signals import SubmissionKind

__all__ = ["run"]

_CLIENTS: Final = 32
_PROVIDERS: Final = 300
_PROFILE_S: Final = 10.0
_SETTINGS: Final = {
    # Intake's own consumers (triage's decisions, for the signaller's status) are idle here;
    # a long fetch wait keeps their polling off the CPU the HTTP path needs.
    "ZICHT_KAFKA_FETCH_MAX_WAIT_MS": "500",
}
_PATHS: Final = {SubmissionKind.IGJ: "/v1/signals/igj", SubmissionKind.POLICE: "/v1/signals/police"}


@dataclass
class _Clients:
    """Clients that post signals until stopped, noting each 202 and its answer time."""

    http: httpx.AsyncClient
    stream: SignalStream
    keys: Keys
    accepted: list[tuple[float, float]] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    async def one_client(self, stop: asyncio.Event) -> None:
        keys = {SubmissionKind.IGJ: self.keys.igj, SubmissionKind.POLICE: self.keys.police}
        while not stop.is_set():
            [submission] = self.stream.take(1)
            began = time.perf_counter()
            try:
                answer = await self.http.post(
                    _PATHS[submission.kind],
                    content=submission.body,
                    headers={
                        "Authorization": f"Bearer {keys[submission.kind]}",
                        "Content-Type": submission.content_type,
                    },
                    timeout=30.0,
                )
            except httpx.TransportError:
                self.statuses[0] = self.statuses.get(0, 0) + 1  # 0: no answer
                continue
            self.statuses[answer.status_code] = self.statuses.get(answer.status_code, 0) + 1
            if answer.status_code == 202:
                now = time.perf_counter()
                self.accepted.append((now, now - began))


def _cpu(service: ServiceProcess, infra: Infra) -> tuple[float, float, float]:
    """CPU seconds so far of intake, Postgres and this process (the clients)."""
    return (
        cpu_seconds(service.pid) or 0.0,
        postgres_cpu(infra.postgres.pid),
        time.process_time(),
    )


async def _load(
    service: ServiceProcess, infra: Infra, stream: SignalStream, keys: Keys, window: float
) -> dict[str, Any]:
    """Warm up, measure ``window`` seconds, profile; the clients stop at the end."""
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=_CLIENTS, max_keepalive_connections=_CLIENTS)
    async with httpx.AsyncClient(base_url=service.url, limits=limits) as http:
        clients = _Clients(http, stream, keys)
        tasks = [asyncio.create_task(clients.one_client(stop)) for _ in range(_CLIENTS)]
        try:
            await asyncio.sleep(window / 6)
            began, cpu_from = time.perf_counter(), _cpu(service, infra)
            await asyncio.sleep(window)
            ended, cpu_to = time.perf_counter(), _cpu(service, infra)
            say("intake: profiling under the same load")
            profiled = await asyncio.to_thread(profile, service.pid, "intake-http", _PROFILE_S)
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
    seconds = ended - began
    in_window = [(t, latency) for t, latency in clients.accepted if began <= t <= ended]
    return {
        "seconds": seconds,
        "rate": len(in_window) / seconds,
        "answer_ms": [latency * 1000 for _, latency in in_window],
        "cpu": [(b - a) / seconds for a, b in zip(cpu_from, cpu_to, strict=True)],
        "statuses": {str(k): v for k, v in clients.statuses.items()},
        "profile": {"service": "intake", **profiled},
    }


async def run(*, quick: bool) -> Result:
    """Measure intake's accepted submissions per second; see the module docstring."""
    window = 10.0 if quick else 30.0
    region = build_region(1, _PROVIDERS)
    stream = SignalStream(region)
    with scratch_dir("zicht-bench-intake-") as workdir, Infra(workdir) as infra:
        database_url = await infra.database()
        with Services(infra.bootstrap, database_url, workdir, env=_SETTINGS) as services:
            say("intake: starting one intake process")
            service = services.spawn("intake")
            services.wait_ready(["intake"])
            keys = await issue_keys(database_url, notify=False)
            async with client_for(Endpoints(intake=service.url), keys) as client:
                answer = await client.request(
                    "intake",
                    "POST",
                    "/v1/providers/import",
                    keys.contract_management,
                    content=registry_csv(region),
                    content_type="text/csv; charset=utf-8",
                )
                if not answer.ok:
                    raise RuntimeError(f"registry import: {answer.status} {answer.body}")
            say(f"intake: {_CLIENTS} concurrent clients, {window:.0f} s measured")
            measured = await _load(service, infra, stream, keys, window)
            versions = infra.versions()
    rate, cpu = measured["rate"], measured["cpu"]
    result = Result("intake", "Intake: accepted HTTP submissions per second, one process")
    result.add("accepted submissions (202)", rate, "submissions/s", target=1000)
    result.add("answer time p50", percentile(measured["answer_ms"], 0.5), "ms")
    result.add("answer time p99", percentile(measured["answer_ms"], 0.99), "ms")
    result.add("intake CPU", cpu[0], "cores", note="1.0 = one core busy")
    result.add("postgres CPU", cpu[1], "cores")
    result.add("client CPU (httpx, this process)", cpu[2], "cores")
    result.add("intake CPU per accepted submission", cpu[0] / rate * 1000 if rate else None, "ms")
    result.settings = {
        "clients": _CLIENTS,
        "providers registered": _PROVIDERS,
        "window_s": round(measured["seconds"], 1),
        "env": _SETTINGS,
        "bodies": "synthetic IGJ findings and police incidents (JSON, about 0.6 KB), all valid",
        "postgres": versions[0],
        "broker": versions[1],
    }
    result.details = {"statuses": measured["statuses"], "profile": measured["profile"]}
    result.notes.append(f"profile under load: {measured['profile'].get('flamegraph')}")
    return result
