"""The operator's view of the running chain: one trace per signal, no personal data, metrics.

The four services run as separate processes (``python -m zicht_<service>``, as in
``zicht_devtools.stack``), each with its own database on the test Postgres and its own
consumer groups on the test broker, exporting over OTLP/HTTP to a small collector in this
test (written with the OpenTelemetry protobuf package). IGJ reports a calamity and the police
an incident with a suspect's BSN, each with a partner's ``traceparent``; once the calamity's
alert reaches the municipality's webhook the test checks what an operator would look at:

- the calamity's trace holds spans of all four services and the webhook delivery, and every
  Kafka hop is a consumer span whose parent is the producer span of the record it read;
- no exported span, metric or log, and no line the services logged, carries the BSN or its
  pseudonym (which does travel in the signal's event, as it should);
- each service's ``/metrics`` shows its business counters and processed events moving.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kit.helpers import wait_for
from zicht_devtools.devstack import PostgresDatabases, find_free_port
from zicht_intake.domain import Pseudonymiser
from zicht_notify.domain import VERIFICATION_EVENT_TYPE, generate_secret
from zicht_runtime.auth import KeyStore
from zicht_runtime.db import create_pool

pytestmark = pytest.mark.asyncio(loop_scope="session")

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "partners" / "examples"
SERVICES = ("intake", "triage", "scoring", "notify")
CALAMITY_TRACE = "5a0c3e1f9b7d4c2e8f6a1b3c5d7e9f01"
INCIDENT_TRACE = "6b1d4f2a0c8e5d3f9a7b2c4d6e8f0a12"
PARTNER_SPAN = "00f067aa0ba902b7"
BSN = "999958379"  # the synthetic BSN of docs/partners/examples/police.json
PSEUDONYM_KEY, PSEUDONYM_KEY_ID = "operators-view-test-key-synthetic", "test-1"
BUDGET_S = 85.0


@dataclass
class Collector:
    """What the services exported: every OTLP request as received, and the spans in them."""

    bodies: list[bytes] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    spans: list[tuple[str, Span]] = field(default_factory=list)
    metric_exports: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def in_trace(self, trace_id: str) -> list[tuple[str, Span]]:
        """(service, span) of every span of one trace."""
        return [(name, span) for name, span in self.spans if span.trace_id.hex() == trace_id]


def _service_of(resource: object) -> str:
    for attribute in getattr(resource, "attributes", ()):
        if attribute.key == "service.name":
            return str(attribute.value.string_value)
    return ""


@contextlib.asynccontextmanager
async def otlp_collector() -> AsyncIterator[tuple[Collector, int]]:
    """An OTLP/HTTP receiver on 127.0.0.1: traces, metrics and logs, protobuf encoded."""
    collected = Collector()

    async def body_of(request: Request) -> bytes:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        collected.bodies.append(body)
        return body

    async def traces(request: Request) -> Response:
        export = ExportTraceServiceRequest.FromString(await body_of(request))
        collected.texts.append(str(export))
        for resource_spans in export.resource_spans:
            service = _service_of(resource_spans.resource)
            for scope_spans in resource_spans.scope_spans:
                collected.spans.extend((service, span) for span in scope_spans.spans)
        return _protobuf(ExportTraceServiceResponse().SerializeToString())

    async def metrics(request: Request) -> Response:
        export = ExportMetricsServiceRequest.FromString(await body_of(request))
        collected.texts.append(str(export))
        for resource_metrics in export.resource_metrics:
            collected.metric_exports[_service_of(resource_metrics.resource)] += 1
        return _protobuf(ExportMetricsServiceResponse().SerializeToString())

    async def logs(request: Request) -> Response:
        collected.texts.append(str(ExportLogsServiceRequest.FromString(await body_of(request))))
        return _protobuf(ExportLogsServiceResponse().SerializeToString())

    app = Starlette(
        routes=[
            Route("/v1/traces", traces, methods=["POST"]),
            Route("/v1/metrics", metrics, methods=["POST"]),
            Route("/v1/logs", logs, methods=["POST"]),
        ]
    )
    async with _serving(app) as port:
        yield collected, port


def _protobuf(body: bytes) -> Response:
    return Response(body, media_type="application/x-protobuf")


@contextlib.asynccontextmanager
async def webhook_receiver(secret: str) -> AsyncIterator[tuple[list[dict[str, str]], int]]:
    """The municipality's receiver: checks signatures (401 when wrong), keeps alert headers."""
    hits: list[dict[str, str]] = []

    async def hook(request: Request) -> Response:
        body = await request.body()
        try:
            Webhook(secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            return Response(status_code=401)
        if json.loads(body)["type"] != VERIFICATION_EVENT_TYPE:
            hits.append(dict(request.headers))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])
    async with _serving(app) as port:
        yield hits, port


@contextlib.asynccontextmanager
async def _serving(app: Starlette) -> AsyncIterator[int]:
    port = find_free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  # uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


@dataclass
class Running:
    """One service process."""

    name: str
    port: int
    database_url: str
    log: Path
    process: asyncio.subprocess.Process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def four_services(
    urls: dict[str, str], bootstrap: str, otlp_port: int, log_dir: Path
) -> AsyncIterator[dict[str, Running]]:
    """The four services as processes; stopped (SIGTERM, then kill) whatever happens."""
    group = f"e2e-ops-{uuid.uuid4().hex[:8]}"
    ports = {name: find_free_port() for name in SERVICES}
    started: dict[str, Running] = {}
    try:
        for name in SERVICES:
            env = {
                **os.environ,
                "ZICHT_SERVICE_NAME": name,
                "ZICHT_HTTP_PORT": str(ports[name]),
                "ZICHT_DATABASE_URL": urls[name],
                "ZICHT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "ZICHT_KAFKA_CONSUMER_GROUP": f"{group}-{name}",
                "ZICHT_KAFKA_SESSION_TIMEOUT_MS": "6000",
                "ZICHT_KAFKA_FETCH_MAX_WAIT_MS": "20",
                "ZICHT_OUTBOX_POLL_INTERVAL_S": "0.2",
                "ZICHT_LOG_LEVEL": "INFO",
                "ZICHT_LOG_JSON": "true",
                "ZICHT_PSEUDONYM_KEY": PSEUDONYM_KEY,
                "ZICHT_PSEUDONYM_KEY_ID": PSEUDONYM_KEY_ID,
                "ZICHT_DELIVERY_POLL_INTERVAL_S": "0.1",
                "ZICHT_LINK_BASE_URL": f"http://127.0.0.1:{ports['scoring']}/v1/providers",
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_port}",
                "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: spans reach the collector quickly
                "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            }
            log = log_dir / f"{name}.log"
            with log.open("wb") as out:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", f"zicht_{name}",
                    env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            started[name] = Running(name, ports[name], urls[name], log, process)
        yield started
    finally:
        # Awaited, not blocked on: the collector in this loop takes their last export.
        for running in started.values():
            if running.process.returncode is None:
                running.process.send_signal(signal.SIGTERM)
        for running in started.values():
            try:
                await asyncio.wait_for(running.process.wait(), timeout=20)
            except TimeoutError:
                running.process.kill()
                await running.process.wait()


async def _ready(client: httpx.AsyncClient, running: Running) -> bool:
    if running.process.returncode is not None:
        pytest.fail(f"{running.name} exited: {running.log.read_text(errors='replace')[-3000:]}")
    try:
        return (await client.get(f"{running.url}/readyz", timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


async def _key(url: str, schema: str, party: str, scopes: list[str], **attrs: str) -> str:
    pool = await create_pool(url, schema, min_size=1, max_size=1)
    try:
        return (await KeyStore(pool).create(party, scopes, attributes=attrs)).secret
    finally:
        await pool.close()


async def _count(url: str, schema: str, query: str, *args: object) -> int:
    pool = await create_pool(url, schema, min_size=1, max_size=1)
    try:
        return int(await pool.fetchval(query, *args))
    finally:
        await pool.close()


async def _jsonb_strings(url: str, schema: str) -> dict[str, int]:
    """Per ``table.column`` of the schema's jsonb columns, the rows holding a bare string."""
    pool = await create_pool(url, schema, min_size=1, max_size=1)
    try:
        columns = await pool.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = $1 AND data_type = 'jsonb'",
            schema,
        )
        assert columns, f"{schema} has jsonb columns"
        found: dict[str, int] = {}
        for row in columns:
            table, column = row["table_name"], row["column_name"]
            strings = await pool.fetchval(
                f'SELECT count(*) FROM "{table}" WHERE jsonb_typeof("{column}") = \'string\''  # noqa: S608 - names from the catalogue
            )
            if strings:
                found[f"{table}.{column}"] = int(strings)
        return found
    finally:
        await pool.close()


async def scrape(client: httpx.AsyncClient, running: Running) -> dict[str, float]:
    """A service's /metrics: the sum of each sample name over its labels."""
    text = (await client.get(f"{running.url}/metrics")).text
    totals: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] += sample.value
    return totals


def _calamity() -> bytes:
    """The IGJ example under a case number of its own.

    Other tests on the session's broker send the example too, on the same topics; with the
    same number it would be the same signal (and event ids), which the inbox turns away.
    """
    calamity = json.loads((EXAMPLES / "igj.json").read_text())
    calamity["zaaknummer"] = f"IGJ-2026-{uuid.uuid4().int % 10**6:06d}"
    return json.dumps(calamity).encode()


def _incident_about_a_client_with_a_bsn() -> bytes:
    """The police example, the BSN on the involved client (whose pseudonym is passed on)."""
    incident = json.loads((EXAMPLES / "police.json").read_text())
    incident["registrationNumber"] = f"PL0600-2026{uuid.uuid4().int % 10**6:06d}"
    incident["involvedPersons"] = [
        {"role": "VERD", "minor": False},
        {"role": "BETR", "minor": False, "bsn": BSN},
    ]
    return json.dumps(incident).encode()


def _traceparent(trace_id: str) -> str:
    return f"00-{trace_id}-{PARTNER_SPAN}-01"


@dataclass
class Seen:
    """What the test read while the services ran."""

    before: dict[str, dict[str, float]]
    after: dict[str, dict[str, float]]
    pseudonym: str
    pseudonym_in_event: int


async def test_operators_see_one_trace_per_signal_no_personal_data_and_moving_metrics(
    databases: PostgresDatabases, kafka_bootstrap: str, tmp_path: Path
) -> None:
    deadline = time.monotonic() + BUDGET_S
    urls = {name: await databases.create() for name in SERVICES}
    secret = generate_secret()
    async with (
        otlp_collector() as (collected, otlp_port),
        webhook_receiver(secret) as (hits, hook_port),
        # No kept-alive connections: uvicorn may close an idle one as a request goes out.
        httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as client,
        four_services(urls, kafka_bootstrap, otlp_port, tmp_path) as running,
    ):
        seen = await _run_two_signals(client, running, collected, hits, hook_port, secret, deadline)
        assert all(r.process.returncode is None for r in running.values()), "none crashed"
        # jsonb holds the documents it describes, never their JSON text as one string.
        strings = {name: await _jsonb_strings(urls[name], name) for name in SERVICES}

    assert strings == {name: {} for name in SERVICES}

    _assert_one_linked_trace(collected)
    _assert_no_personal_data(collected, seen, tmp_path)
    _assert_counters_moved(seen, collected)


async def _run_two_signals(  # noqa: PLR0917  # the parts of the running chain
    client: httpx.AsyncClient,
    running: dict[str, Running],
    collected: Collector,
    hits: list[dict[str, str]],
    hook_port: int,
    secret: str,
    deadline: float,
) -> Seen:
    """Subscribe, register two providers, send the calamity and the incident, and wait."""

    def left() -> float:
        return max(deadline - time.monotonic(), 1.0)

    async def all_ready() -> bool:
        return all([await _ready(client, r) for r in running.values()])

    await wait_for(all_ready, within=left(), what="the four services to be ready")
    intake, notify = running["intake"], running["notify"]
    igj = await _key(intake.database_url, "intake", "igj", ["signals:igj"])
    police = await _key(intake.database_url, "intake", "police-oost", ["signals:police"])
    registry = await _key(intake.database_url, "intake", "ozjt", ["registry:write"])
    enschede = await _key(
        notify.database_url, "notify", "GM0153", ["subscriptions"],
        kind="municipality", id="GM0153",
    )  # fmt: skip
    subscribed = await client.post(
        f"{notify.url}/v1/subscriptions",
        json={"url": f"http://127.0.0.1:{hook_port}/hooks/GM0153", "secret": secret},
        headers={"Authorization": f"Bearer {enschede}"},
    )
    assert subscribed.status_code == 201, subscribed.text
    for provider in ("ozjt-000456", "ozjt-000123"):
        answer = await client.put(
            f"{intake.url}/v1/providers/{provider}",
            content=(EXAMPLES / "registry" / f"{provider}.json").read_bytes(),
            headers={"Authorization": f"Bearer {registry}", "Content-Type": "application/json"},
        )
        assert answer.status_code == 202, answer.text

    async def notify_knows_both() -> bool:
        known = await _count(notify.database_url, "notify", "SELECT count(*) FROM providers")
        return known >= 2

    await wait_for(notify_knows_both, within=left(), what="the registry to reach notify")
    before = {name: await scrape(client, r) for name, r in running.items()}
    for path, key, trace_id, body in (
        ("igj", igj, CALAMITY_TRACE, _calamity()),
        ("police", police, INCIDENT_TRACE, _incident_about_a_client_with_a_bsn()),
    ):
        answer = await client.post(
            f"{intake.url}/v1/signals/{path}",
            content=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                     "traceparent": _traceparent(trace_id)},
        )  # fmt: skip
        assert answer.status_code == 202, answer.text

    async def alert_delivered() -> bool:
        return any(CALAMITY_TRACE in h.get("traceparent", "") for h in hits)

    async def whole_trace_exported() -> bool:
        names = {span.name for _, span in collected.in_trace(CALAMITY_TRACE)}
        services = {service for service, _ in collected.in_trace(CALAMITY_TRACE)}
        return "deliver webhook" in names and services >= set(SERVICES)

    async def incident_assessed() -> bool:
        return any(_operation(s) == "assess signal" for _, s in collected.in_trace(INCIDENT_TRACE))

    async def delivery_counted() -> bool:
        metric = "zicht_alerts_delivered_total"
        now = await scrape(client, notify)
        return now.get(metric, 0) > before["notify"].get(metric, 0)

    await wait_for(alert_delivered, within=left(), what="the alert at the webhook")
    await wait_for(whole_trace_exported, within=left(), what="the trace at the collector")
    await wait_for(incident_assessed, within=left(), what="the incident's assessment")
    await wait_for(delivery_counted, within=left(), what="notify's delivered counter")
    after = {name: await scrape(client, r) for name, r in running.items()}
    pseudonym = Pseudonymiser(PSEUDONYM_KEY.encode(), PSEUDONYM_KEY_ID).pseudonym(BSN)
    in_event = await _count(
        intake.database_url, "intake",
        "SELECT count(*) FROM outbox WHERE position($1::bytea in value) > 0",
        pseudonym.encode(),
    )  # fmt: skip
    return Seen(before, after, pseudonym, in_event)


def _operation(span: Span) -> str:
    """The business step a span records (``zicht.operation``), or ''."""
    return next((a.value.string_value for a in span.attributes if a.key == "zicht.operation"), "")


def _assert_one_linked_trace(collected: Collector) -> None:
    """The calamity's trace spans all four services, each Kafka hop parent to child."""
    trace = collected.in_trace(CALAMITY_TRACE)
    by_id = {span.span_id: (service, span) for service, span in trace}
    assert {service for service, _ in trace} >= set(SERVICES)
    names = {span.name for _, span in trace} | {_operation(span) for _, span in trace}
    for business in ("normalise signal", "assess signal", "route alert", "deliver webhook"):
        assert business in names, sorted(names)
    # A step done for an event off a topic is recorded on that event's consumer span.
    assert {_operation(s) for _, s in trace if s.kind == Span.SPAN_KIND_CONSUMER} >= {
        "assess signal",
        "route alert",
    }
    orphans = [
        span.name
        for _, span in trace
        if span.parent_span_id and span.parent_span_id not in by_id
        and span.parent_span_id.hex() != PARTNER_SPAN
    ]  # fmt: skip
    assert orphans == [], "every span's parent is in the trace (or is the partner's call)"
    hops = set()
    for service, span in trace:
        if span.kind != Span.SPAN_KIND_CONSUMER:
            continue
        producer_service, producer = by_id[span.parent_span_id]
        assert producer.kind == Span.SPAN_KIND_PRODUCER, (span.name, producer.name)
        assert producer.name.removesuffix(" publish") == span.name.removesuffix(" process")
        hops.add((producer_service, service))
    assert {("intake", "triage"), ("triage", "scoring"), ("triage", "notify")} <= hops, hops
    deliver = next(span for _, span in trace if span.name == "deliver webhook")
    assert by_id[deliver.parent_span_id][0] == "notify"


def _assert_no_personal_data(collected: Collector, seen: Seen, log_dir: Path) -> None:
    """Neither the BSN nor its pseudonym in any export or log line; event lines are traced."""
    assert seen.pseudonym_in_event >= 1, "the pseudonym travels in the signal's event"
    assert collected.in_trace(INCIDENT_TRACE), "the incident with the BSN was traced too"
    logged = {name: (log_dir / f"{name}.log").read_text(errors="replace") for name in SERVICES}
    for value in (BSN, seen.pseudonym):
        assert not any(value.encode() in body for body in collected.bodies)
        assert not any(value in text for text in collected.texts)
        assert [name for name, text in logged.items() if value in text] == []
    events = [
        json.loads(line)
        for text in logged.values()
        for line in text.splitlines()
        if '"zicht.result"' in line
    ]
    assert {entry["service"] for entry in events} >= {"triage", "scoring", "notify"}
    assert all(entry.get("trace_id") and entry.get("span_id") for entry in events)


def _assert_counters_moved(seen: Seen, collected: Collector) -> None:
    """Each service's /metrics shows its business counters and processed events moving."""

    def moved(service: str, metric: str) -> float:
        return seen.after[service].get(metric, 0) - seen.before[service].get(metric, 0)

    assert moved("intake", "zicht_signals_received_total") == 2
    assert moved("intake", "zicht_stage_duration_seconds_count") >= 2
    assert moved("triage", "zicht_signals_assessed_total") == 2
    assert moved("notify", "zicht_alerts_routed_total") >= 1
    assert moved("notify", "zicht_alerts_delivered_total") >= 1
    for service in ("triage", "scoring", "notify"):
        assert moved(service, "zicht_events_processed_total") >= 1, service
    for service in SERVICES:
        assert "zicht_outbox_backlog" in seen.after[service], service
        assert "zicht_consumer_lag" in seen.after[service], service
    assert set(collected.metric_exports) >= set(SERVICES), "metrics reach OTLP too"
