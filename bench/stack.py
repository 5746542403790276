"""The whole chain for the end-to-end benchmarks: servers, four services, receiver, region.

``running_stack`` starts a fresh durable Postgres and broker, an OTLP sink (so telemetry is
exported, as in a deployment), the webhook receiver, and the four services as processes;
issues keys; subscribes every subscriber with its own secret; registers the synthetic region;
and waits until triage, scoring and notify know every provider. Everything stops on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bench.common import say, scratch_dir
from bench.infra import Infra, Keys, Services, issue_keys
from bench.receiver import OtlpSink, TimedReceiver
from bench.seeding import client_for, seed, wait_until_known
from zicht_demo.client import Endpoints, ZichtClient
from zicht_demo.region import Region, build_region

__all__ = ["Running", "running_stack"]

_QUIET_S: Final = 3.0
_QUIET_LIMIT_S: Final = 30.0


async def _quiet(receiver: TimedReceiver) -> None:
    """Wait until no alert has arrived for a few seconds (at most 30 s)."""
    deadline = time.monotonic() + _QUIET_LIMIT_S
    last, still_since = receiver.count(), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now_count = receiver.count()
        if now_count != last:
            last, still_since = now_count, time.monotonic()
        elif time.monotonic() - still_since >= _QUIET_S:
            return


@dataclass
class Running:
    """A running chain and what a benchmark needs to drive and watch it."""

    infra: Infra
    services: Services
    receiver: TimedReceiver
    sink: OtlpSink
    database_url: str
    keys: Keys
    client: ZichtClient
    region: Region
    seeded: dict[str, int]

    @property
    def endpoints(self) -> Endpoints:
        """The services' base URLs."""
        return self.client.endpoints

    def versions(self) -> tuple[str, str]:
        """Postgres and broker versions."""
        return self.infra.versions()

    def startup_s(self) -> dict[str, float | None]:
        """Each service's start-up time to its first ``/readyz`` 200."""
        return {name: s.ready_after_s for name, s in self.services.running.items()}


@contextlib.asynccontextmanager
async def running_stack(
    *,
    providers: int,
    env: Mapping[str, str] | None = None,
    per_service_env: Mapping[str, Mapping[str, str]] | None = None,
    one_by_one: bool = False,
    indicators: bool = True,
    telemetry_export: bool = True,
) -> AsyncIterator[Running]:
    """Start everything, seed the region, yield; stop everything (see the module docstring).

    Args:
        providers: Providers in the synthetic region.
        env: ``ZICHT_*`` settings for every service.
        per_service_env: Settings for one service only (by service name).
        one_by_one: Start each service alone, for a start-up time without the others' load.
        indicators: Report the region's indicators too (scores start from them).
        telemetry_export: Export traces and metrics over OTLP to the sink.
    """
    region = build_region(1, providers)
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(scratch_dir("zicht-bench-"))
        sink = stack.enter_context(OtlpSink())
        receiver = stack.enter_context(TimedReceiver())
        say(f"starting Postgres and the broker (logs in {workdir})")
        infra = stack.enter_context(Infra(workdir))
        database_url = await infra.database()
        settings: dict[str, Any] = dict(env or {})
        if telemetry_export:
            settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.base_url
        services = stack.enter_context(
            Services(
                infra.bootstrap,
                database_url,
                workdir,
                env=settings,
                per_service_env=per_service_env or {},
            )
        )
        say(f"starting the four services{' one by one' if one_by_one else ''}")
        services.start_all(one_by_one=one_by_one)
        keys = await issue_keys(database_url)
        endpoints = Endpoints(
            intake=services.url("intake"),
            triage=services.url("triage"),
            scoring=services.url("scoring"),
            notify=services.url("notify"),
        )
        async with client_for(endpoints, keys) as client:
            say(f"seeding: {len(keys.subscribers)} subscriptions, {providers} providers")
            seeded = await seed(client, receiver, region, keys, indicators=indicators)
            await wait_until_known(database_url, providers)
            say("seeded; waiting until the alerts of the first scores have arrived")
            await _quiet(receiver)
            yield Running(
                infra, services, receiver, sink, database_url, keys, client, region, seeded
            )
