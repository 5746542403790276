"""Put a synthetic region into a running Zicht over its public APIs, for the end-to-end runs.

Every subscriber (municipalities, casus tables, supervisors, IGJ) subscribes with a secret of
its own pointing at the benchmark's receiver; the region's registry and, when asked, its
indicator reports go in as one CSV import each (``POST /v1/providers/import``,
``POST /v1/indicators/import``), as contract management would load them. The region and its
signals come from :mod:`zicht_demo`: synthetic providers, synthetic partner bodies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

import asyncpg

from bench.infra import Keys
from bench.receiver import TimedReceiver
from zicht_demo.client import Endpoints, ZichtClient
from zicht_demo.client import Keys as DemoKeys
from zicht_demo.region import Region
from zicht_demo.signals import SignalGenerator, Submission, SubmissionKind

__all__ = ["SignalStream", "client_for", "make_signals", "seed", "wait_until_known"]

_T = TypeVar("_T")
_CONCURRENCY: Final = 16
_CSV: Final = "text/csv; charset=utf-8"


def _csv(rows: list[list[str]]) -> bytes:
    return "".join(";".join(row) + "\r\n" for row in rows).encode()


def registry_csv(region: Region) -> bytes:
    """The region's registry as one import file (docs/partners/registry.md): a row a location."""
    rows = [
        [
            "provider_id", "name", "kvk", "agb", "legal_form", "founded_on",
            "contracting_municipalities", "location_id", "location_name", "street",
            "house_number", "house_number_addition", "postcode", "municipality_code",
            "services",
        ]
    ]  # fmt: skip
    for provider in region.providers:
        entry = provider.registry_entry()
        for location in entry["locations"]:
            rows.append(
                [
                    provider.provider_id, entry["name"], entry["kvk"], entry.get("agb", ""),
                    entry["legal_form"], entry["founded_on"],
                    "|".join(entry["contracting_municipalities"]), location["location_id"],
                    location["name"], location["street"], str(location["house_number"]),
                    location.get("house_number_addition", ""), location["postcode"],
                    location["municipality_code"], "|".join(location["services"]),
                ]
            )  # fmt: skip
    return _csv(rows)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "ja" if value else "nee"
    return str(value)


def indicators_csv(region: Region) -> bytes:
    """Every indicator report of the region as one import file (docs/partners/indicators.md)."""
    rows = [["provider_id", "source", "period_end", "indicator", "value"]]
    for provider in region.providers:
        for report in provider.indicator_reports:
            body = report.body()
            rows += [
                [provider.provider_id, body["source"], body["period_end"], code, _cell(value)]
                for code, value in body["values"].items()
            ]
    return _csv(rows)


def client_for(endpoints: Endpoints, keys: Keys) -> ZichtClient:
    """The demo's HTTP client with the benchmark's keys."""
    demo = DemoKeys(
        igj=keys.igj,
        police=keys.police,
        contract_management=keys.contract_management,
        subscribers=dict(keys.subscribers),
    )
    return ZichtClient(endpoints, demo, timeout_s=180.0)


async def _each(items: Sequence[_T], work: Callable[[_T], Awaitable[Any]]) -> list[Any]:
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def one(item: _T) -> Any:
        async with gate:
            return await work(item)

    return await asyncio.gather(*(one(item) for item in items))


async def seed(
    client: ZichtClient,
    receiver: TimedReceiver,
    region: Region,
    keys: Keys,
    *,
    indicators: bool = False,
) -> dict[str, int]:
    """Subscribe everyone, register the region, optionally report indicators; counts back.

    Raises:
        RuntimeError: A subscription or a registry entry was refused.
    """
    counts: dict[str, int] = {}

    async def subscribe(subscriber: str) -> None:
        url, secret = receiver.secret_for(subscriber)
        await client.create_subscription(
            keys.subscribers[subscriber], url, "zicht bench receiver", secret
        )

    await _each(sorted(keys.subscribers), subscribe)
    counts["subscriptions"] = len(keys.subscribers)

    answer = await client.request(
        "intake",
        "POST",
        "/v1/providers/import",
        keys.contract_management,
        content=registry_csv(region),
        content_type=_CSV,
    )
    if not answer.ok:
        raise RuntimeError(f"registry import: {answer.status} {answer.body}")
    counts["providers"] = len(region.providers)
    if indicators:
        answer = await client.request(
            "intake",
            "POST",
            "/v1/indicators/import",
            keys.contract_management,
            content=indicators_csv(region),
            content_type=_CSV,
        )
        if not answer.ok:
            raise RuntimeError(f"indicators import: {answer.status} {answer.body}")
        counts["indicator_reports"] = sum(len(p.indicator_reports) for p in region.providers)
    return counts


async def wait_until_known(database_url: str, providers: int, *, timeout_s: float = 120) -> None:
    """Wait until triage, scoring and notify all hold every provider of the registry.

    Raises:
        TimeoutError: Not all of them within ``timeout_s``.
    """
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            counts = [
                int(await conn.fetchval(f"SELECT count(*) FROM {schema}.providers"))  # noqa: S608 - fixed schema names
                for schema in ("triage", "scoring", "notify")
            ]
            if min(counts) >= providers:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"providers known (triage, scoring, notify): {counts}")
            await asyncio.sleep(0.3)
    finally:
        await conn.close()


def make_signals(region: Region, count: int, *, seed: int = 7) -> list[Submission]:
    """``count`` IGJ findings and police incidents (JSON), all valid, about the region.

    Access-team CSV files are left out: over Kafka a file is one record of several signals,
    which would make a record count mean something else.
    """
    generator = SignalGenerator(region, seed, invalid_share=0.0)
    found: list[Submission] = []
    while len(found) < count:
        submission = generator.next()
        if submission.kind is not SubmissionKind.ACCESS_TEAM:
            found.append(submission)
    return found


class SignalStream:
    """An endless stream of distinct signals: a generated pool, each sent under a new reference.

    Generating a signal costs about 0.3 ms of CPU (the generator weighs every provider), far
    too much to do beside the services under load; a pool of a few thousand covers the
    region, and a fresh reference (IGJ's case number, the police registration number, both
    in the partners' formats) makes each copy a new signal for intake.
    """

    def __init__(self, region: Region, *, pool: int = 4000, seed: int = 7) -> None:
        self._pool = make_signals(region, pool, seed=seed)
        self._next = 0

    def _reference(self, submission: Submission, number: int) -> str:
        year, serial = 2100 + number // 1_000_000, number % 1_000_000
        if submission.kind is SubmissionKind.IGJ:
            return f"IGJ-{year:04d}-{serial:06d}"
        return f"PL0601-{year:04d}{serial:06d}"

    def take(self, count: int) -> list[Submission]:
        """The next ``count`` signals."""
        found = []
        for _ in range(count):
            number = self._next
            self._next += 1
            base = self._pool[number % len(self._pool)]
            reference = self._reference(base, number)
            body = base.body.replace(base.reference.encode(), reference.encode(), 1)
            found.append(dataclasses.replace(base, body=body, reference=reference))
        return found
