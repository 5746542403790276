"""One signal, one trace: from the partner's HTTP call through all four services to the webhook.

The four services run in this process, each with its own database, consumer groups, tracer
provider and in-memory span exporter, on the real broker; the webhook receiver is a real HTTP
server. The test follows a calamity reported by IGJ until its alert is delivered, and
checks that every service's spans and the webhook's ``traceparent`` carry the trace id of the
partner's call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kit.helpers import wait_for
from support.clock import SteppingClock
from zicht_devtools.devstack import PostgresDatabases, find_free_port
from zicht_intake import app as intake_app
from zicht_intake.config import IntakeSettings
from zicht_notify import app as notify_app
from zicht_notify.config import NotifySettings
from zicht_notify.domain import VERIFICATION_EVENT_TYPE, generate_secret
from zicht_runtime.auth import KeyStore
from zicht_runtime.kit import ServiceKit
from zicht_scoring import app as scoring_app
from zicht_scoring.config import ScoringSettings
from zicht_triage import app as triage_app
from zicht_triage.config import TriageSettings

pytestmark = pytest.mark.asyncio(loop_scope="session")

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "partners" / "examples"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@contextlib.asynccontextmanager
async def receiver(hits: list[dict[str, str]], secret: str) -> AsyncIterator[int]:
    """A webhook receiver on 127.0.0.1 that checks signatures and records each alert's headers.

    The alert's body is recorded with them, under ``x-test-body``.

    It refuses a wrong signature with 401, as notify's verification of the callback asks.
    """

    async def hook(request: Request) -> Response:
        body = await request.body()
        try:
            Webhook(secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            return Response(status_code=401)
        if json.loads(body)["type"] != VERIFICATION_EVENT_TYPE:
            hits.append({**request.headers, "x-test-body": body.decode()})
        return Response(status_code=204)

    port = find_free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/{p:path}", hook, methods=["POST"])]),
            host="127.0.0.1", port=port, log_level="warning",
        )
    )  # fmt: skip
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  # uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


def _traced(kit: ServiceKit, exporter: InMemorySpanExporter) -> ServiceKit:
    """The kit with its own tracer provider exporting to ``exporter``."""
    return dataclasses.replace(kit, span_exporters=[exporter], global_telemetry=False)


async def test_a_calamity_is_one_trace_from_the_partners_call_to_the_municipalitys_webhook(  # noqa: PLR0915
    databases: PostgresDatabases, kafka_bootstrap: str
) -> None:
    group = uuid.uuid4().hex[:8]
    common: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka_bootstrap, "outbox_poll_interval_s": 0.2,
        "kafka_fetch_max_wait_ms": 20, "log_json": False, "kafka_session_timeout_ms": 6000,
    }  # fmt: skip
    exporters = {name: InMemorySpanExporter() for name in ("intake", "triage", "scoring", "notify")}
    clock = SteppingClock()
    hits: list[dict[str, str]] = []
    urls = [await databases.create() for _ in range(4)]
    settings_i = IntakeSettings(
        database_url=urls[0], kafka_consumer_group=f"e2e-i-{group}", **common
    )
    settings_t = TriageSettings(
        database_url=urls[1], kafka_consumer_group=f"e2e-t-{group}", **common
    )
    settings_s = ScoringSettings(
        database_url=urls[2], kafka_consumer_group=f"e2e-s-{group}", **common
    )
    settings_n = NotifySettings(
        database_url=urls[3], kafka_consumer_group=f"e2e-n-{group}",
        delivery_poll_interval_s=0.1, **common,
    )  # fmt: skip
    intake_service = intake_app.create_service(settings_i, clock)
    triage_kit = triage_app.create_kit(settings_t, triage_app.create_service(settings_t, clock))
    scoring_kit = scoring_app.create_kit(settings_s, scoring_app.create_service(settings_s, clock))
    # Notify keeps the real clock: receivers check webhook-timestamp against theirs.
    notify_kit = notify_app.create_kit(settings_n, notify_app.create_service(settings_n))
    kits = {
        "intake": _traced(intake_app.create_kit(settings_i, intake_service), exporters["intake"]),
        "triage": _traced(triage_kit, exporters["triage"]),
        "scoring": _traced(scoring_kit, exporters["scoring"]),
        "notify": _traced(notify_kit, exporters["notify"]),
    }
    intake = intake_app.create_app(settings_i, clock=clock, kit=kits["intake"])
    notify = notify_app.create_app(settings_n, kit=kits["notify"])
    scoring = scoring_app.create_app(settings_s, kit=kits["scoring"])
    async with contextlib.AsyncExitStack() as stack:
        secret = generate_secret()
        port = await stack.enter_async_context(receiver(hits, secret))
        await stack.enter_async_context(intake.router.lifespan_context(intake))
        await stack.enter_async_context(notify.router.lifespan_context(notify))
        await stack.enter_async_context(scoring.router.lifespan_context(scoring))
        await kits["triage"].start()
        stack.push_async_callback(kits["triage"].stop)
        keys_i, keys_n = KeyStore(kits["intake"].pool), KeyStore(kits["notify"].pool)
        igj = (await keys_i.create("igj", ["signals:igj"])).secret
        cm = (await keys_i.create("ozjt", ["registry:write"])).secret
        enschede = (
            await keys_n.create("GM0153", ["subscriptions"],
                                attributes={"kind": "municipality", "id": "GM0153"})
        ).secret  # fmt: skip
        to_intake = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=intake), base_url="http://i"
        )
        to_notify = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=notify), base_url="http://n"
        )
        stack.push_async_callback(to_intake.aclose)
        stack.push_async_callback(to_notify.aclose)
        subscribed = await to_notify.post(
            "/v1/subscriptions",
            json={"url": f"http://127.0.0.1:{port}/hooks/GM0153", "secret": secret},
            headers={"Authorization": f"Bearer {enschede}"},
        )  # fmt: skip
        assert subscribed.status_code == 201, subscribed.text
        registered = await to_intake.put(
            "/v1/providers/ozjt-000456",
            content=(EXAMPLES / "registry" / "ozjt-000456.json").read_bytes(),
            headers={"Authorization": f"Bearer {cm}", "Content-Type": "application/json"},
        )  # fmt: skip
        assert registered.status_code == 202, registered.text

        async def notify_knows_the_provider() -> bool:
            return bool(await kits["notify"].pool.fetchval("SELECT count(*) FROM providers"))

        await wait_for(notify_knows_the_provider, within=60, what="the registry to reach notify")
        body = json.loads((EXAMPLES / "igj.json").read_text())
        answer = await to_intake.post(
            "/v1/signals/igj", content=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {igj}", "Content-Type": "application/json",
                     "traceparent": TRACEPARENT},
        )  # fmt: skip
        assert answer.status_code == 202, answer.text

        async def delivered() -> bool:
            return any(TRACE_ID in h.get("traceparent", "") for h in hits)

        await wait_for(delivered, within=90, what="the alert to reach the webhook")
        # The alert's link answers the subscriber's own scoring key.
        alert = json.loads(
            next(h for h in hits if TRACE_ID in h.get("traceparent", ""))["x-test-body"]
        )["data"]
        reader = (
            await KeyStore(kits["scoring"].pool).create(
                "GM0153", ["risk:read"], attributes={"municipality": "GM0153"}
            )
        ).secret
        to_scoring = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=scoring), base_url="http://s"
        )
        stack.push_async_callback(to_scoring.aclose)
        link = httpx.URL(alert["link"])
        followed: list[httpx.Response] = []

        async def the_link_answers() -> bool:
            followed.append(
                await to_scoring.get(link.path, headers={"Authorization": f"Bearer {reader}"})
            )
            return followed[-1].status_code == httpx.codes.OK

        await wait_for(the_link_answers, within=30, what="the alert's link to answer")
        assert followed[-1].json()["provider_id"] == alert["provider"]["provider_id"]

    def traced(name: str) -> set[str]:
        return {
            span.name
            for span in exporters[name].get_finished_spans()
            if span.context is not None and format(span.context.trace_id, "032x") == TRACE_ID
        }

    assert any("signal-received" in s and "publish" in s for s in traced("intake")), traced(
        "intake"
    )
    assert "triage.signal-assessed.v1 publish" in traced("triage") or any(
        "signal-assessed" in s for s in traced("triage")
    ), traced("triage")
    assert any("intake.signal-received.v1 process" in s for s in traced("triage"))
    assert any("signal-assessed.v1 process" in s for s in traced("scoring")), traced("scoring")
    assert any("process" in s for s in traced("notify")), traced("notify")
    hook = next(h for h in hits if TRACE_ID in h.get("traceparent", ""))
    assert hook["webhook-id"].startswith("msg_")  # the databases go when the session ends
