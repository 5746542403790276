"""A running intake service (real Postgres, real broker) per test module, with API keys."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from intake.integration.support import Intake
from support.clock import SteppingClock
from zicht_devtools.devstack import PostgresDatabases
from zicht_intake.app import create_app, create_kit, create_service
from zicht_intake.config import IntakeSettings
from zicht_runtime.auth import KeyStore
from zicht_runtime.logs import JsonFormatter


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def intake(databases: PostgresDatabases, kafka_bootstrap: str) -> AsyncIterator[Intake]:
    """Intake with its consumers and relay running; keys for every kind of partner."""
    url = await databases.create()
    settings = IntakeSettings(
        database_url=url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_consumer_group=f"intake-test-{uuid.uuid4().hex[:8]}",
        kafka_session_timeout_ms=6000,
        outbox_poll_interval_s=0.2,
        kafka_fetch_max_wait_ms=20,
        log_json=False,
        # The service's clock steps from 2026-03-16 while the kit's purge loop reads the wall
        # clock: at its first run (while the module's first test writes) it took the test's
        # rows for months old. The retention tests run the purges themselves, at their moment.
        purge_interval_s=0,
    )
    clock = SteppingClock()
    # Every log line of the service during the module, as JSON lines, for the BSN scan.
    lines = _LogLines()
    lines.setFormatter(JsonFormatter("intake"))
    root = logging.getLogger()
    root.addHandler(lines)
    previous_level = root.level
    root.setLevel(logging.INFO)
    service = create_service(settings, clock)
    kit = create_kit(settings, service)
    app = create_app(settings, clock=clock, kit=kit)
    # The app must use the same service (and clock) as the kit's consumers.
    async with app.router.lifespan_context(app):
        store = KeyStore(kit.pool)
        keys = {
            "igj": (await store.create("igj", ["signals:igj"])).secret,
            "police": (await store.create("police-oost", ["signals:police"])).secret,
            "access-team": (
                await store.create(
                    "wijkteam-enschede-noord",
                    ["signals:access_team"],
                    attributes={"team": "wijkteam-enschede-noord", "municipality": "GM0153"},
                )
            ).secret,
            "contract-management": (
                await store.create("ozjt", ["registry:write", "indicators:write"])
            ).secret,
            "operator": (await store.create("operator-1", ["operator"])).secret,
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield Intake(
                client, kit, kit.pool, url, kafka_bootstrap, settings, clock, keys, lines.lines
            )
    root.removeHandler(lines)
    root.setLevel(previous_level)
    await databases.drop(url)


class _LogLines(logging.Handler):
    """Keeps every formatted log line."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
