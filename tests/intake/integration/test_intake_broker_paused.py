"""Kafka being down does not stop intake from accepting; what it accepted is published later."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from pathlib import Path

import httpx
import pytest

from intake.integration.support import EXAMPLES
from support.clock import SteppingClock
from support.events import events_on
from zicht_devtools.devstack import LocalBroker, PostgresDatabases, find_free_port
from zicht_intake.app import create_app, create_kit, create_service
from zicht_intake.config import IntakeSettings
from zicht_runtime.auth import KeyStore
from zicht_schemas import SignalReceivedV1, topics

pytestmark = pytest.mark.asyncio(loop_scope="session")

PAUSE_S = 5.0


async def test_a_submission_accepted_while_the_broker_is_paused_is_published_when_it_returns(
    databases: PostgresDatabases, tmp_path: Path
) -> None:
    url = await databases.create()
    with LocalBroker(port=find_free_port(), log_path=tmp_path / "broker.log") as broker:
        assert broker.pid is not None
        settings = IntakeSettings(
            database_url=url,
            kafka_bootstrap_servers=broker.bootstrap_servers,
            kafka_consumer_group=f"intake-paused-{uuid.uuid4().hex[:8]}",
            kafka_session_timeout_ms=6000,
            outbox_poll_interval_s=0.2,
            log_json=False,
        )
        clock = SteppingClock()
        kit = create_kit(settings, create_service(settings, clock))
        app = create_app(settings, clock=clock, kit=kit)
        async with app.router.lifespan_context(app):
            keys = KeyStore(kit.pool)
            igj = (await keys.create("igj", ["signals:igj"])).secret
            registry = (await keys.create("ozjt", ["registry:write"])).secret
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://i") as client:
                await client.put(
                    "/v1/providers/ozjt-000456",
                    content=(EXAMPLES / "registry" / "ozjt-000456.json").read_bytes(),
                    headers={"Authorization": f"Bearer {registry}",
                             "Content-Type": "application/json"},
                )  # fmt: skip
                os.kill(broker.pid, signal.SIGSTOP)
                try:
                    body = json.loads((EXAMPLES / "igj.json").read_text())
                    body["zaaknummer"] = "IGJ-2026-007001"
                    answer = await client.post(
                        "/v1/signals/igj", content=json.dumps(body).encode(),
                        headers={"Authorization": f"Bearer {igj}",
                                 "Content-Type": "application/json"},
                    )  # fmt: skip
                    assert answer.status_code == 202, answer.text
                    waiting = await kit.pool.fetchval(
                        "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
                    )
                    assert waiting >= 1
                    await asyncio.sleep(PAUSE_S)
                finally:
                    os.kill(broker.pid, signal.SIGCONT)

                [event] = await events_on(
                    broker.bootstrap_servers, topics.SIGNAL_RECEIVED, SignalReceivedV1,
                    lambda e: e.data.partner_reference == "IGJ-2026-007001", within=90,
                )  # fmt: skip
                assert str(event.data.submission_id) == answer.json()["submission_id"]
    await databases.drop(url)
