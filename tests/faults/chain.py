"""The whole chain as it runs in production, for scenarios and faults: four processes, for real.

:class:`Chain` runs intake, triage, scoring and notify as separate processes (``python -m
zicht_<service>``) with fast test settings, on a Kafka-protocol broker of its own (so it can be
paused) and real Postgres: intake and scoring on the session's server, triage and notify each
on a server of their own (so one can be stopped under its service). A webhook receiver in the
test process takes the alerts; every subscriber has a subscription there with its own secret.
The synthetic registry is put in through intake's API before any signal is sent.

Partners' submissions go through :meth:`Chain.submit`, which behaves as a careful partner: a
connection error or a 5xx is retried with the same body (intake answers a repeat with the
first submission's id), and every acknowledged submission is recorded for the scenario.
:meth:`Chain.reconcile` waits until the chain is quiet (bounded) and counts what arrived
against what should have (see :mod:`faults.reconcile`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import pytest

from faults.reconcile import (
    Delivery,
    OperatorReport,
    Reconciliation,
    Submitted,
    TopicLog,
    TopicState,
    deliveries,
    reconcile,
)
from faults.synthetic import SUBSCRIBERS, PartnerSubmission, SignalMix
from kit.helpers import wait_for
from support.webhooks import Receiver, serve_receiver
from zicht_demo.region import Provider
from zicht_devtools.devstack import (
    LocalBroker,
    LocalPostgres,
    find_free_port,
    parent_death_preexec,
)
from zicht_notify.domain import Recipient, generate_secret
from zicht_runtime.auth import KeyStore
from zicht_runtime.db import create_pool
from zicht_schemas import SubscriberKind

__all__ = [
    "DELIVERY_TIMEOUT_S",
    "OWN_POSTGRES",
    "SERVICES",
    "Answer",
    "Chain",
    "StreamStats",
    "eventually",
    "hook_path",
    "running_chain",
]

log = logging.getLogger(__name__)

SERVICES: Final = ("intake", "triage", "scoring", "notify")
OWN_POSTGRES: Final = ("triage", "notify")
"""Services with a Postgres server of their own, so a test can stop it under them."""

DELIVERY_TIMEOUT_S: Final = 10.0
"""Notify's delivery timeout in the chain (its default): a slow receiver answers under it.
The receiver runs in the test process, which shares two cores with the chain; a short timeout
would let that process's own delays pass for a receiver too slow to answer."""

# Fast settings: quick group joins on the local broker, short hops, quick retries.
_FAST: Final[Mapping[str, str]] = {
    "ZICHT_KAFKA_SESSION_TIMEOUT_MS": "6000",
    "ZICHT_KAFKA_FETCH_MAX_WAIT_MS": "20",
    "ZICHT_OUTBOX_POLL_INTERVAL_S": "0.2",
    "ZICHT_RETRY_BACKOFF_MAX_S": "1",
    "ZICHT_RETRY_BASE_S": "0.5",
    "ZICHT_RETRY_CAP_S": "2",
    "ZICHT_RETRY_MAX_ATTEMPTS": "1000",
    "ZICHT_DELIVERY_POLL_INTERVAL_S": "0.1",
    "ZICHT_DELIVERY_TIMEOUT_S": str(DELIVERY_TIMEOUT_S),
    "ZICHT_LOG_LEVEL": "WARNING",
}
# Variables of the test environment a service must not pick up (exporters, a broker URL).
_DROPPED_ENV: Final = ("OTEL_EXPORTER_OTLP_ENDPOINT", "KAFKA_BOOTSTRAP_SERVERS")
_READY_S: Final = 180.0
_PATIENCE_S: Final = 240.0
_ENDPOINTS: Final[Mapping[str, str]] = {
    "igj": "/v1/signals/igj",
    "police": "/v1/signals/police",
    "access_team": "/v1/signals/access-team",
}
_CONTENT_TYPES: Final[Mapping[str, str]] = {
    "igj": "application/json",
    "police": "application/json",
    "access_team": "text/csv; charset=utf-8",
}


async def eventually(
    condition: Callable[[], Awaitable[bool]], *, within: float, what: str, every: float = 0.5
) -> None:
    """Ask ``condition`` every ``every`` seconds until it holds; fail with ``what`` after
    ``within``. For questions that cost something (a query, a topic read, an HTTP call)."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(every)


def hook_path(subscriber_id: str) -> str:
    """The receiver path of a subscriber's subscription."""
    return f"/hooks/{subscriber_id}"


@dataclass
class _Service:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class StreamStats:
    """What a stream of submissions did: sent, acknowledged, and answers it did not expect."""

    sent: int = 0
    acknowledged: int = 0
    retried: int = 0
    refused: list[str] = field(default_factory=list)


@dataclass
class Answer:
    """Intake's final answer to a submission, and how many tries it took."""

    status: int
    body: Any
    tries: int = 1


@dataclass
class Chain:
    """Four service processes, their broker and databases, a receiver, keys and a registry."""

    broker: LocalBroker
    postgres: dict[str, LocalPostgres]
    database_urls: dict[str, str]
    log_dir: Path
    receiver: Receiver
    registry: dict[str, Provider]
    services: dict[str, _Service] = field(default_factory=dict)
    keys: dict[str, dict[str, str]] = field(default_factory=dict)
    submitted: list[Submitted] = field(default_factory=list)
    _free: list[str] = field(default_factory=list)
    _log: TopicLog | None = None
    _receiver_serving: contextlib.AsyncExitStack | None = None
    _connections: dict[str, asyncpg.Connection] = field(default_factory=dict)
    _deliveries: list[Delivery] = field(default_factory=list)
    _clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    period_start: datetime = field(default_factory=lambda: datetime.now(UTC))
    """Where the running test's period begins, for the operators' command (set per test)."""

    @property
    def bootstrap(self) -> str:
        """The chain's broker."""
        return self.broker.bootstrap_servers

    def url(self, service: str) -> str:
        """Base URL of a service's HTTP API."""
        return self.services[service].url

    def client(self, service: str) -> httpx.AsyncClient:
        """An HTTP client of a service's API, kept for the run (it reconnects after a restart)."""
        if service not in self._clients:
            self._clients[service] = httpx.AsyncClient(base_url=self.url(service), timeout=30)
        return self._clients[service]

    async def close_clients(self) -> None:
        """Close the kept HTTP clients."""
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    @property
    def subscribed(self) -> dict[Recipient, str]:
        """Every subscriber and the receiver path of its subscription."""
        return {
            Recipient(SubscriberKind(kind), party): hook_path(party)
            for party, kind in SUBSCRIBERS.items()
        }

    # --- processes ------------------------------------------------------------------------

    def _env(self, name: str, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        env.update(_FAST)
        env.update(
            {
                "ZICHT_DATABASE_URL": self.database_urls[name],
                "ZICHT_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "ZICHT_HTTP_PORT": str(port),
            }
        )
        if "scoring" in self.services:  # started first: alerts link to its risk pages
            env["ZICHT_LINK_BASE_URL"] = f"{self.url('scoring')}/v1/providers"
        return env

    def _spawn(self, name: str) -> _Service:
        service = self.services.get(name)
        if service is None:
            port = find_free_port()
            service = _Service(name, port, self._env(name, port), self.log_dir / f"{name}.log")
            self.services[name] = service
        if service.process is not None and service.process.poll() is None:
            raise AssertionError(f"{name} is already running")
        with service.log.open("ab") as out:
            service.process = subprocess.Popen(  # noqa: S603 - our interpreter, our module
                [sys.executable, "-m", f"zicht_{name}"],
                env=service.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                # SIGKILL when the test process dies, so no service outlives it.
                preexec_fn=parent_death_preexec(signal.SIGKILL),  # noqa: PLW1509
            )
        return service

    async def _ready(self, service: _Service, within: float = _READY_S) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=service.url, timeout=2.0) as client:
            while True:
                process = service.process
                if process is None or process.poll() is not None:
                    raise AssertionError(f"{service.name} exited: {self.log_tail(service.name)}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{service.name} not ready in {within:.0f}s: {self.log_tail(service.name)}"
                    )
                await asyncio.sleep(0.1)

    async def start(self, *names: str) -> None:
        """Start services (all when none named) and wait until each answers ``/readyz``."""
        started = [self._spawn(name) for name in names or SERVICES]
        await asyncio.gather(*(self._ready(s) for s in started))

    async def kill(self, name: str) -> None:
        """SIGKILL a service: no shutdown, no goodbye to the broker or the database."""
        process = self.services[name].process
        assert process is not None
        assert process.poll() is None, f"{name} was not running"
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait)

    async def stop(self, name: str, grace: float = 30.0) -> None:
        """Stop a service as an operator would (SIGTERM; SIGKILL after ``grace`` seconds)."""
        process = self.services[name].process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, grace)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    def stop_all(self) -> None:
        """Stop every service (SIGTERM, then SIGKILL after a while); safe to call twice."""
        running = [s.process for s in self.services.values() if s.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        # The chain's data goes with it, so a short grace is enough.
        deadline = time.monotonic() + 5
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def running(self, name: str) -> bool:
        """Whether a service's process is alive."""
        process = self.services[name].process
        return process is not None and process.poll() is None

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The last lines of a service's log."""
        text = self.services[name].log.read_text("utf-8", errors="replace")
        return "\n".join(text.strip().splitlines()[-lines:])

    def pause_broker(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open, nothing is answered."""
        assert self.broker.pid is not None
        os.kill(self.broker.pid, signal.SIGSTOP)

    def resume_broker(self) -> None:
        """Let the frozen broker run again (SIGCONT)."""
        assert self.broker.pid is not None
        os.kill(self.broker.pid, signal.SIGCONT)

    async def replace_broker(self) -> None:
        """Stop the broker and start a new, empty one on the same port, as ``make run`` does.

        The services must be stopped first. What the old broker held is gone: its topics,
        its committed offsets; the topic log reconciliation reads starts again from the new
        broker's beginning.
        """
        assert not any(self.running(name) for name in SERVICES), "stop the services first"
        if self._log is not None:
            await self._log.close()
            self._log = None
        port = self.broker.port
        log_path = self.log_dir / "broker.log"
        self.broker.stop()
        self.broker = LocalBroker(port=port, log_path=log_path)
        self.broker.start()

    def stop_postgres(self, name: str) -> None:
        """Stop the Postgres server under ``name`` (fast shutdown: clients are cut off)."""
        self.postgres[name].stop()

    def start_postgres(self, name: str) -> None:
        """Start it again on the same data directory and port."""
        self.postgres[name].start()

    # --- the receiver ---------------------------------------------------------------------

    async def serve_receiver(self) -> None:
        """Run the webhook receiver (again, on its port, keeping what it saw)."""
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(serve_receiver(self.receiver))
        self._receiver_serving = stack

    async def stop_receiver(self) -> None:
        """Take the receiver down: notify's connections are refused until it is back."""
        if self._receiver_serving is not None:
            await self._receiver_serving.aclose()
            self._receiver_serving = None

    def deliveries(self) -> list[Delivery]:
        """Every alert attempt the receiver answered so far (each body read once)."""
        self._deliveries += deliveries(self.receiver, start=len(self._deliveries))
        return list(self._deliveries)

    def accepted_about(self, provider_id: str) -> dict[str, list[dict[str, Any]]]:
        """The alerts about a provider the receiver accepted, by path (each webhook-id once)."""
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        seen: set[str] = set()
        for d in self.deliveries():
            if not d.accepted or d.webhook_id in seen or d.provider_id != provider_id:
                continue
            seen.add(d.webhook_id)
            found[d.path].append({**d.data, "webhook_id": d.webhook_id})
        return dict(found)

    # --- keys, subscriptions, registry ----------------------------------------------------

    async def make_keys(self) -> None:
        """API keys of every party, made in each service's own key table."""

        async def issue(
            service: str, wanted: Mapping[str, tuple[str, list[str], dict[str, str]]]
        ) -> dict[str, str]:
            schema = service
            pool = await create_pool(self.database_urls[service], schema, min_size=1, max_size=2)
            try:
                store = KeyStore(pool)
                return {
                    name: (await store.create(party, scopes, attributes=attrs)).secret
                    for name, (party, scopes, attrs) in wanted.items()
                }
            finally:
                await pool.close()

        team = {"team": "wijkteam-gm0153", "municipality": "GM0153"}
        self.keys["intake"] = await issue(
            "intake",
            {
                "igj": ("igj", ["signals:igj"], {}),
                "police": ("police-oost", ["signals:police"], {}),
                "access_team": ("wijkteam-gm0153", ["signals:access_team"], team),
                "contract_management": (
                    "ozjt",
                    ["registry:write", "indicators:write"],
                    {},
                ),
                "operator": ("operator-faults", ["operator"], {}),
            },
        )
        self.keys["triage"] = await issue(
            "triage",
            {
                "supervisor": ("supervisor-twente", ["supervisor"], {}),
                "operator": ("operator-faults", ["operator"], {}),
            },
        )
        self.keys["scoring"] = await issue(
            "scoring",
            {
                "reader": ("operator-faults", ["risk:read"], {}),
                "operator": ("operator-faults", ["operator"], {}),
            },
        )
        subscribers = {
            party: (party, ["subscriptions"], {"kind": kind, "id": party})
            for party, kind in SUBSCRIBERS.items()
        }
        self.keys["notify"] = await issue(
            "notify", {**subscribers, "operator": ("operator-faults", ["operator"], {})}
        )

    async def subscribe_all(self) -> None:
        """One subscription per subscriber, with its own secret, verified by notify at once."""
        for party in SUBSCRIBERS:
            path = hook_path(party)
            secret = generate_secret()
            self.receiver.secrets[path] = secret
            answer = await self.client("notify").post(
                "/v1/subscriptions",
                json={"url": self.receiver.url(path), "secret": secret},
                headers=self.auth("notify", party),
            )
            assert answer.status_code == 201, answer.text

    def auth(self, service: str, key: str) -> dict[str, str]:
        """The Authorization header of a party's key at a service."""
        return {"Authorization": f"Bearer {self.keys[service][key]}"}

    async def put_registry(self, providers: Iterable[Provider]) -> None:
        """Put providers into intake's registry and wait until the three consumers know them."""
        wanted = list(providers)
        limit = asyncio.Semaphore(8)

        async def put(provider: Provider) -> None:
            async with limit:
                answer = await self.client("intake").put(
                    f"/v1/providers/{provider.provider_id}",
                    content=json.dumps(provider.registry_entry()).encode(),
                    headers={
                        **self.auth("intake", "contract_management"),
                        "Content-Type": "application/json",
                    },
                )
            assert answer.status_code in {200, 202}, answer.text

        await asyncio.gather(*(put(p) for p in wanted))
        ids = [p.provider_id for p in wanted]
        for service in ("triage", "scoring", "notify"):
            await self.wait_sql(
                service,
                "SELECT count(*) = $1 FROM providers WHERE provider_id = ANY($2)",
                len(ids),
                ids,
                what=f"{service} to know the registry",
            )

    async def report_indicators(self, provider_id: str, report: Mapping[str, Any]) -> None:
        """Contract management reports indicator values of a provider."""
        answer = await self.client("intake").post(
            f"/v1/providers/{provider_id}/indicators",
            content=json.dumps(report).encode(),
            headers={
                **self.auth("intake", "contract_management"),
                "Content-Type": "application/json",
            },
        )
        assert answer.status_code == 202, answer.text

    def take(self, count: int) -> list[Provider]:
        """Providers of the registry no test has used yet."""
        assert len(self._free) >= count, "the registry has too few spare providers"
        taken, self._free = self._free[:count], self._free[count:]
        return [self.registry[pid] for pid in taken]

    # --- databases (the harness looks, to know when the chain is quiet) -----------------------

    async def sql(self, service: str, query: str, *args: Any) -> Any:
        """One value from a service's schema (on a connection kept for the next question)."""
        for attempt in range(2):
            conn = self._connections.get(service)
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(
                        self.database_urls[service],
                        timeout=5,
                        server_settings={"search_path": service},
                    )
                    self._connections[service] = conn
                return await conn.fetchval(query, *args)
            except (
                OSError,
                asyncpg.PostgresConnectionError,
                asyncpg.CannotConnectNowError,
                asyncpg.InterfaceError,
            ):
                # The server was restarted under the connection (a fault test): once more.
                self._connections.pop(service, None)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def close_connections(self) -> None:
        """Close the harness's own database connections."""
        for conn in self._connections.values():
            await conn.close(timeout=5)
        self._connections.clear()

    async def wait_sql(
        self, service: str, query: str, *args: Any, what: str, within: float = 60.0
    ) -> None:
        """Wait until a query on a service's schema answers true."""
        deadline = time.monotonic() + within
        while not await self.sql(service, query, *args):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
            await asyncio.sleep(0.2)

    # --- partners -------------------------------------------------------------------------

    async def submit(
        self, scenario: str, submission: PartnerSubmission, *, patience: float = _PATIENCE_S
    ) -> Answer:
        """Send a submission as a careful partner: retry faults with the same body.

        Returns intake's final answer; an acknowledged one (2xx) is recorded for ``scenario``.
        """
        key = "access_team" if submission.kind == "access_team" else submission.kind
        headers = {
            **self.auth("intake", key),
            "Content-Type": _CONTENT_TYPES[submission.kind],
        }
        deadline = time.monotonic() + patience
        tries = 0
        while True:
            tries += 1
            try:
                answer = await self.client("intake").post(
                    _ENDPOINTS[submission.kind], content=submission.body, headers=headers
                )
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code < 500:
                break
            if time.monotonic() > deadline:
                status = answer.status_code if answer is not None else 0
                return Answer(status, None, tries)
            await asyncio.sleep(0.5)
        body = answer.json()
        if answer.status_code in {200, 202}:
            self.submitted.append(
                Submitted(
                    scenario=scenario,
                    submission_id=body["submission_id"],
                    reference=submission.reference,
                    kind=submission.kind,
                    signals=_accepted_signals(body),
                    status=answer.status_code,
                )
            )
        return Answer(answer.status_code, body, tries)

    @contextlib.asynccontextmanager
    async def stream(
        self, scenario: str, mix: SignalMix, *, rate: float = 5.0
    ) -> AsyncIterator[StreamStats]:
        """Send ``rate`` submissions a second while the block runs; wait for each at the end."""
        stats = StreamStats()
        stop = asyncio.Event()
        pending: set[asyncio.Task[None]] = set()

        async def one(submission: PartnerSubmission) -> None:
            answer = await self.submit(scenario, submission)
            if answer.tries > 1:
                stats.retried += 1
            if answer.status in {200, 202}:
                stats.acknowledged += 1
            else:
                stats.refused.append(f"{submission.reference}: {answer.status} {answer.body}")

        async def run() -> None:
            loop = asyncio.get_running_loop()
            due = loop.time()
            while not stop.is_set():
                task = asyncio.create_task(one(mix.next()))
                pending.add(task)
                task.add_done_callback(pending.discard)
                stats.sent += 1
                due += 1 / rate
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(0.0, due - loop.time()))

        runner = asyncio.create_task(run())
        try:
            yield stats
        finally:
            stop.set()
            await runner
            await asyncio.gather(*list(pending))

    async def flowing(self, providers: Iterable[Provider], *, alerts: int = 1) -> None:
        """Wait until the receiver has accepted ``alerts`` alerts about these providers: the
        whole chain carries the stream, so a fault now hits it in full flow."""
        own = {p.provider_id for p in providers}

        async def enough() -> bool:
            taken = {d.webhook_id for d in self.deliveries() if d.accepted and d.provider_id in own}
            return len(taken) >= alerts

        await wait_for(enough, within=180, what=f"{alerts} alerts about {sorted(own)}")

    # --- reconciliation -------------------------------------------------------------------

    def topics(self) -> TopicLog:
        """The topics reconciliation reads, followed for the chain's whole run."""
        if self._log is None:
            self._log = TopicLog(self.bootstrap)
        return self._log

    def of(self, scenario: str) -> list[Submitted]:
        """The acknowledged submissions of a scenario."""
        return [s for s in self.submitted if s.scenario == scenario]

    async def settle(
        self, scenario: str, providers: Iterable[str], *, within: float = 120.0
    ) -> TopicState:
        """Wait (bounded) until the chain is quiet about a scenario; the topics then."""
        own = list(providers)
        deadline = time.monotonic() + within
        heard = -1
        while True:
            state = await self.topics().state()
            why = await self._busy(scenario, own, state)
            answered = len(self.receiver.answered)
            if why is None and answered == heard:
                return state
            heard = answered
            if time.monotonic() > deadline:
                log.warning("not quiet after %.0fs: %s", within, why)
                print(f"\n{scenario}: not quiet after {within:.0f}s: {why}")
                return state
            await asyncio.sleep(0.5)

    async def _busy(self, scenario: str, own: Sequence[str], state: TopicState) -> str | None:
        """Why the chain is not quiet about a scenario yet (None: it is)."""
        mine = self.of(scenario)
        ids = {s.submission_id for s in mine}
        signals = {
            str(e.data.signal_id) for e in state.received if str(e.data.submission_id) in ids
        }
        if len(signals) < sum(s.signals for s in mine):
            return f"{len(signals)} of {sum(s.signals for s in mine)} signals published"
        assessed = [e for e in state.assessed if str(e.data.signal_id) in signals]
        if len({e.data.signal_id for e in assessed}) < len(signals):
            return "signals waiting for triage"
        for service in SERVICES:
            unsent = await self.sql(service, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            if unsent:
                return f"{service} has {unsent} events to publish"
        assessment_ids = [e.id for e in assessed]
        risk_ids = [e.id for e in state.risk if e.data.provider_id in own]
        for service, wanted in (
            ("scoring", assessment_ids),
            ("notify", assessment_ids + risk_ids),
        ):
            done = await self.sql(
                service,
                "SELECT count(DISTINCT event_id) FROM inbox WHERE event_id = ANY($1)",
                wanted,
            )
            if done < len(set(wanted)):
                return f"{service} has {len(set(wanted)) - done} events to process"
        waiting = await self.sql(
            "notify",
            "SELECT count(*) FROM alerts WHERE provider_id = ANY($1) "
            "AND state IN ('pending', 'retrying')",
            list(own),
        )
        if waiting:
            return f"notify has {waiting} alerts on their way"
        return None

    async def reconcile(
        self, scenario: str, providers: Iterable[str], *, within: float = 120.0
    ) -> Reconciliation:
        """Wait until quiet, then count the scenario and print its reconciliation line."""
        own = list(providers)
        await self.settle(scenario, own, within=within)
        # The operators' command waits (bounded) until every event sent has been taken in;
        # the topics are read after it, so both counts see the same events.
        operator = await self.operator_report()
        state = await self.topics().state()
        result = reconcile(
            scenario, self.of(scenario), own, state, self.deliveries(), self.subscribed
        )
        result.operator = operator
        print(f"\n{result.line()}\n{result.details()}")
        if result.repeated_webhooks:
            print(await self._attempts(result.repeated_webhooks))
        return result

    async def operator_report(self, *, within: float = 15.0) -> OperatorReport:
        """Run the operators' command, ``python -m zicht_devtools.reconcile``, for the test's
        period (from :attr:`period_start` until now) against the four running services.

        Quiet topics and receiver do not mean every consumer has taken in its last events
        (intake's bookkeeping polls slowly): while the command reports events still on their
        way, ask again, for at most ``within`` seconds.
        """
        deadline = time.monotonic() + within
        while True:
            report = await self._operator_report_once()
            if not any(_in_flight(p) for p in report.problems) or time.monotonic() > deadline:
                return report
            await asyncio.sleep(1.0)

    async def _operator_report_once(self) -> OperatorReport:
        keys = self.log_dir / "operator-keys.json"
        keys.write_text(json.dumps({name: self.keys[name]["operator"] for name in SERVICES}))
        command = [
            sys.executable, "-m", "zicht_devtools.reconcile", "--keys", str(keys), "--json",
            "--since", self.period_start.isoformat(),
            "--until", datetime.now(UTC).isoformat(),
            *(arg for name in SERVICES for arg in (f"--{name}", self.url(name))),
        ]  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        text = f"{out.decode()}{err.decode()}"
        # 0 when it reconciles, 1 when it flags something; 2 (a service not asked) is a failure.
        assert process.returncode in {0, 1}, f"the operators' command failed:\n{text}"
        report = OperatorReport.from_command(json.loads(out), text)
        assert report.ok == (process.returncode == 0), text
        return report

    async def _attempts(self, webhook_ids: Sequence[str]) -> str:
        """What notify recorded of alerts the receiver took more than once (evidence)."""
        conn = await asyncpg.connect(self.database_urls["notify"], timeout=5)
        try:
            rows = await conn.fetch(
                "SELECT webhook_id, state, attempts, last_status, last_error, created_at, "
                "delivered_at FROM notify.alerts WHERE webhook_id = ANY($1)",
                list(webhook_ids),
            )
        finally:
            await conn.close()
        taken = defaultdict(list)
        for d in self.deliveries():
            if d.webhook_id in webhook_ids:
                taken[d.webhook_id].append(d.status)
        return "\n".join(
            f"  {r['webhook_id']}: notify says {r['state']} after {r['attempts']} attempts "
            f"(last {r['last_status']} {r['last_error']}, created {r['created_at']:%T.%f}, "
            f"delivered {r['delivered_at']:%T.%f}); the receiver answered {taken[r['webhook_id']]}"
            for r in rows
        )


def _in_flight(problem: str) -> bool:
    """Whether an operators' problem is events still on their way (sent, not yet taken in)."""
    taken = re.search(r" sent (\d+), \S+ took in (\d+)", problem)
    return "still to send" in problem or (taken is not None and int(taken[2]) < int(taken[1]))


def _accepted_signals(body: Mapping[str, Any]) -> int:
    """How many signals an acknowledged submission carries (a CSV answer lists its rows)."""
    items = body.get("items") or []
    if items:
        return sum(1 for item in items if item.get("status") == "accepted")
    return 1 if body.get("status") in {"accepted", "partially_accepted"} else 0


@contextlib.asynccontextmanager
async def running_chain(
    shared_database_url: str, registry: Sequence[Provider], spare: Sequence[str], log_dir: Path
) -> AsyncIterator[Chain]:
    """The chain, started and seeded; everything it started is stopped when the block ends.

    Args:
        shared_database_url: The database intake and scoring keep their schemas in.
        registry: Every provider the tests use, put in through intake's API.
        spare: The ids of providers :meth:`Chain.take` hands out.
        log_dir: Where service, broker and Postgres logs go.
    """
    started = time.monotonic()
    broker = LocalBroker(log_path=log_dir / "broker.log")
    servers: dict[str, LocalPostgres] = {}
    data_dirs: list[Path] = []
    chain: Chain | None = None
    try:
        broker.start()
        urls = {"intake": shared_database_url, "scoring": shared_database_url}
        for name in OWN_POSTGRES:
            # mkdtemp, not tmp_path: the postgres OS user must reach the data directory.
            data_dir = Path(tempfile.mkdtemp(prefix=f"zicht-faults-{name}-"))
            data_dirs.append(data_dir)
            server = LocalPostgres(data_dir, port=find_free_port(), durable=False)
            server.start()
            servers[name] = server
            admin = await asyncpg.connect(server.url)
            try:
                await admin.execute("CREATE DATABASE zicht")
            finally:
                await admin.close()
            urls[name] = server.dsn_for("zicht")
        chain = Chain(
            broker=broker,
            postgres=servers,
            database_urls=urls,
            log_dir=log_dir,
            receiver=Receiver(find_free_port()),
            registry={p.provider_id: p for p in registry},
            _free=list(spare),
        )
        await chain.serve_receiver()
        await chain.start()
        await chain.make_keys()
        await chain.subscribe_all()
        await chain.put_registry(registry)
        print(f"\nchain ready in {time.monotonic() - started:.1f}s, logs in {log_dir}")
        yield chain
    finally:
        if chain is not None:
            await chain.topics().close()
            await chain.close_clients()
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await chain.close_connections()
            chain.stop_all()
            with contextlib.suppress(ProcessLookupError):
                chain.resume_broker()
            await chain.stop_receiver()
        for server in servers.values():
            server.stop()
        if chain is not None:
            chain.broker.stop()  # a test may have put a new broker in its place
        broker.stop()
        for data_dir in data_dirs:
            shutil.rmtree(data_dir, ignore_errors=True)
