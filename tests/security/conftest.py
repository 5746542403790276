"""The four services, each in-process on real Postgres and the real broker, for the package.

Every service gets a key per role of its ``ROLES`` (with the attributes that make the party
whole), a key with all its scopes (``all``), a revoked one (``revoked``), and keys of other
parties for the tests of who may see what. Started once per package: the security tests only
read and refuse, so they can share them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from fastapi import FastAPI

from kit.helpers import committed_offset
from security.support import Running
from support.clock import SteppingClock
from support.webhooks import Receiver, serve_receiver
from zicht_devtools.devstack import PostgresDatabases
from zicht_intake import api as intake_api
from zicht_intake import app as intake_app
from zicht_intake.config import IntakeSettings
from zicht_notify import api as notify_api
from zicht_notify import app as notify_app
from zicht_notify.config import NotifySettings
from zicht_runtime.auth import KeyStore
from zicht_runtime.kit import ServiceKit
from zicht_scoring import api as scoring_api
from zicht_scoring import app as scoring_app
from zicht_scoring.config import ScoringSettings
from zicht_triage import api as triage_api
from zicht_triage import app as triage_app
from zicht_triage.config import TriageSettings

Attributes = Mapping[str, str]
KeySpec = tuple[str, Sequence[str], Attributes]
"""A key to make: the party, its scopes, its attributes."""


def _common(url: str, bootstrap: str, name: str) -> dict[str, Any]:
    return {
        "database_url": url,
        "kafka_bootstrap_servers": bootstrap,
        "kafka_consumer_group": f"{name}-security-{uuid.uuid4().hex[:8]}",
        "kafka_session_timeout_ms": 6000,
        "outbox_poll_interval_s": 0.2,
        "kafka_fetch_max_wait_ms": 20,
        "log_json": False,
    }


async def _caught_up(bootstrap: str, kit: ServiceKit, within: float = 120.0) -> None:
    """Wait until every subscription of ``kit`` has committed up to the end of its topic."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe.start()
    try:
        deadline = time.monotonic() + within
        await probe.topics()  # loads the cluster's metadata, which partitions_for_topic reads
        for processor in kit.processors:
            partitions = [
                TopicPartition(topic, p)
                for topic in processor.topics
                for p in sorted(probe.partitions_for_topic(topic) or ())
            ]
            ends = await probe.end_offsets(partitions)
            group = processor.group
            while True:
                behind = [
                    tp
                    for tp in partitions
                    if ends[tp] > 0
                    and await committed_offset(bootstrap, group, tp.topic, tp.partition) < ends[tp]
                ]
                if not behind:
                    break
                if time.monotonic() > deadline:
                    pytest.fail(f"{group} did not catch up on {behind}")
                await asyncio.sleep(0.3)
    finally:
        await probe.stop()


@contextlib.asynccontextmanager
async def _running(  # noqa: PLR0917  # what differs between the four services
    name: str,
    app: FastAPI,
    kit: ServiceKit,
    bootstrap: str,
    roles: Mapping[str, Sequence[str]],
    role_attributes: Mapping[str, Attributes],
    others: Mapping[str, KeySpec],
) -> AsyncIterator[Running]:
    async with app.router.lifespan_context(app):
        # Events other tests left on the shared topics arrive first; a refusal's "no trace"
        # is judged once they are in.
        await _caught_up(bootstrap, kit)
        store = KeyStore(kit.pool)
        keys: dict[str, str] = {}
        for role, scopes in roles.items():
            attributes = role_attributes.get(role, {})
            keys[role] = (await store.create(f"{role}-party", scopes, attributes=attributes)).secret
        every = sorted({scope for scopes in roles.values() for scope in scopes})
        broadest = others.get("all", ("everything", every, {}))
        for label, (party, scopes, attributes) in {**others, "all": broadest}.items():
            keys[label] = (await store.create(party, scopes, attributes=attributes)).secret
        revoked = await store.create("former-partner", every)
        assert await store.revoke(revoked.key_id)
        keys["revoked"] = revoked.secret
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
            yield Running(name, app, client, kit.pool, bootstrap, roles, keys)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def intake(databases: PostgresDatabases, kafka_bootstrap: str) -> AsyncIterator[Running]:
    """Intake, with a key per kind of partner and those of a second police unit and team."""
    url = await databases.create()
    settings = IntakeSettings(**_common(url, kafka_bootstrap, "intake"))
    clock = SteppingClock()
    service = intake_app.create_service(settings, clock)
    kit = intake_app.create_kit(settings, service)
    app = intake_app.create_app(settings, clock=clock, kit=kit)
    noord = {"team": "wijkteam-enschede-noord", "municipality": "GM0153"}
    zuid = {"team": "wijkteam-enschede-zuid", "municipality": "GM0153"}
    others: dict[str, KeySpec] = {
        "police-noord": ("police-noord", [intake_api.Scopes.POLICE], {}),
        "access-team-zuid": ("wijkteam-enschede-zuid", [intake_api.Scopes.ACCESS_TEAM], zuid),
    }
    async with _running(
        "intake", app, kit, kafka_bootstrap, intake_api.ROLES, {"access-team": noord}, others
    ) as running:
        yield running
    await databases.drop(url)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def triage(databases: PostgresDatabases, kafka_bootstrap: str) -> AsyncIterator[Running]:
    """Triage, with supervisors of every region, of Twente and of Noord- en Midden-Drenthe."""
    url = await databases.create()
    settings = TriageSettings(**_common(url, kafka_bootstrap, "triage"))
    service = triage_app.create_service(settings)
    kit = triage_app.create_kit(settings, service)
    app = triage_app.create_app(settings, service=service, kit=kit)
    supervisor = [triage_api.Scopes.SUPERVISOR]
    others: dict[str, KeySpec] = {
        "supervisor-twente": ("supervisors-twente", supervisor, {"region": "twente"}),
        "supervisor-nmd": ("supervisors-nmd", supervisor, {"region": "nmd"}),
    }
    async with _running(
        "triage", app, kit, kafka_bootstrap, triage_api.ROLES, {}, others
    ) as running:
        yield running
    await databases.drop(url)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def scoring(databases: PostgresDatabases, kafka_bootstrap: str) -> AsyncIterator[Running]:
    """Scoring, with Enschede's key (the role's), Almelo's, Assen's and a Drenthe region's."""
    url = await databases.create()
    settings = ScoringSettings(**_common(url, kafka_bootstrap, "scoring"))
    service = scoring_app.create_service(settings)
    kit = scoring_app.create_kit(settings, service)
    app = scoring_app.create_app(settings, service=service, kit=kit)
    read = [scoring_api.Scopes.REGISTER]
    others: dict[str, KeySpec] = {
        "GM0141": ("GM0141", read, {"municipality": "GM0141"}),
        "GM0106": ("GM0106", read, {"municipality": "GM0106"}),
        "region-nmd": ("supervisors-nmd", read, {"region": "nmd"}),
    }
    async with _running(
        "scoring", app, kit, kafka_bootstrap, scoring_api.ROLES,
        {"municipality": {"municipality": "GM0153"}}, others,
    ) as running:  # fmt: skip
        yield running
    await databases.drop(url)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def notify(databases: PostgresDatabases, kafka_bootstrap: str) -> AsyncIterator[Running]:
    """Notify, with Enschede as the subscriber role, Almelo, Assen and IGJ (the broadest)."""
    url = await databases.create()
    settings = NotifySettings(
        **_common(url, kafka_bootstrap, "notify"),
        retry_base_s=0.2,
        retry_cap_s=0.5,
        retry_max_attempts=3,
        delivery_poll_interval_s=0.1,
        # The fuzzer may point a callback anywhere: a verification gives up quickly.
        verification_timeout_s=1.0,
    )
    service = notify_app.create_service(settings)
    kit = notify_app.create_kit(settings, service)
    app = notify_app.create_app(settings, service=service, kit=kit)
    subscribe = [notify_api.Scopes.SUBSCRIBER]
    others: dict[str, KeySpec] = {
        "GM0141": ("GM0141", subscribe, {"kind": "municipality", "id": "GM0141"}),
        "GM0106": ("GM0106", subscribe, {"kind": "municipality", "id": "GM0106"}),
        "all": (
            "igj",
            [notify_api.Scopes.SUBSCRIBER, notify_api.Scopes.OPERATOR],
            {"kind": "igj", "id": "igj"},
        ),
    }
    async with _running(
        "notify", app, kit, kafka_bootstrap, notify_api.ROLES,
        {"subscriber": {"kind": "municipality", "id": "GM0153"}}, others,
    ) as running:  # fmt: skip
        yield running
    await databases.drop(url)


@pytest.fixture
def service(request: pytest.FixtureRequest) -> Running:
    """The service a test is parametrised with (``indirect``), by its fixture's name.

    A test using it is marked ``connected`` by hand: the automatic marking sees only the
    fixtures a test names, not those asked for here.
    """
    running: Running = request.getfixturevalue(request.param)
    return running


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    """A careful webhook receiver on loopback."""
    async with serve_receiver() as state:
        yield state
