"""Seed the synthetic region into a running Zicht, through its public APIs only.

Two steps, each safe to repeat: one webhook subscription per municipality, casus table and
IGJ pointing at the local receiver; then, provider by provider (troubled ones first), its
registry entry (``PUT``; the same entry again is a replay) followed by its indicator reports
(the same report again is a replay, a later period a new report). Each subscriber signs
with its own new secret, which the receiver learns first, so notify can verify the callback
as it stores it. Subscriptions are listed first and reused: a reused one is moved to this
run's receiver with the new secret (the old one signs beside it for a while), and extra demo
subscriptions of the same subscriber from earlier runs are deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from zicht_demo.client import Answer, ApiError, ZichtClient
from zicht_demo.receiver import WebhookReceiver, new_secret
from zicht_demo.region import Provider, Region
from zicht_schemas.regions import regions

__all__ = [
    "SUBSCRIPTION_DESCRIPTION",
    "Progress",
    "SeedReport",
    "Tally",
    "hook_path",
    "seed_region",
    "subscriber_ids",
]

SUBSCRIPTION_DESCRIPTION: Final = "zicht-demo: synthetic region receiver"
_UNAVAILABLE: Final = 503
_RETRIES: Final = 4
_RETRY_WAIT_S: Final = 1.0
_PROBLEMS_KEPT: Final = 10
_SUBSCRIBING_AT_ONCE: Final = 8

Progress = Callable[[str, int, int], None]
"""Called as ``(step, done, total)`` while seeding; steps: subscriptions, registry, indicators."""


def subscriber_ids(with_keys: Iterable[str] = ()) -> tuple[str, ...]:
    """The subscribers to subscribe: the reference regions' ones, then those with a key.

    Args:
        with_keys: Subscriber ids the keys file holds a key for; any beyond the municipalities,
            casus tables and IGJ (e.g. a region's supervisors) come last.

    Returns:
        Municipalities, casus tables, ``igj``, then the others in name order.
    """
    catalogue = regions()
    municipalities = [m.code for r in catalogue.regions for m in r.municipalities]
    tables = [t.id for r in catalogue.regions for t in r.casus_tables]
    known = (*municipalities, *tables, "igj")
    return (*known, *sorted(set(with_keys) - set(known)))


def hook_path(subscriber_id: str) -> str:
    """The receiver path of a subscriber: ``/hooks/GM0153``."""
    return f"/hooks/{subscriber_id}"


class Tally(dict[str, int]):
    """A count per outcome (accepted, replayed, refused ...)."""

    def add(self, what: str) -> None:
        """Count one more ``what``."""
        self[what] = self.get(what, 0) + 1


@dataclass
class SeedReport:
    """What seeding did, step by step."""

    providers: Tally = field(default_factory=Tally)
    reports: Tally = field(default_factory=Tally)
    subscriptions: Tally = field(default_factory=Tally)
    problems: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        """Keep a problem to show (the first few only)."""
        if len(self.problems) < _PROBLEMS_KEPT:
            self.problems.append(problem)

    def line(self) -> str:
        """One line: what was accepted, replayed, refused or skipped."""

        def counts(name: str, found: Tally) -> str:
            parts = ", ".join(f"{n} {what}" for what, n in sorted(found.items()))
            return f"{name}: {parts or 'none'}"

        return "; ".join(
            (
                counts("registry", self.providers),
                counts("indicator reports", self.reports),
                counts("subscriptions", self.subscriptions),
            )
        )


def _outcome(answer: Answer) -> str:
    if answer.status == 200:  # noqa: PLR2004 - intake's replay
        return "replayed"
    if answer.ok:
        return "accepted"
    return "refused"


async def _with_retries(call: Callable[[], Awaitable[Answer]]) -> Answer:
    # 503 means intake stored nothing and asks to retry (docs/partners/README.md).
    answer = await call()
    for attempt in range(1, _RETRIES):
        if answer.status != _UNAVAILABLE:
            break
        await asyncio.sleep(_RETRY_WAIT_S * attempt)
        answer = await call()
    return answer


async def _each(items: list[Any], work: Callable[[Any], Awaitable[None]], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(item: Any) -> None:
        async with gate:
            await work(item)

    await asyncio.gather(*(one(item) for item in items))


async def seed_region(
    client: ZichtClient,
    region: Region,
    receiver: WebhookReceiver,
    *,
    progress: Progress | None = None,
    subscribed: Callable[[], None] | None = None,
    registered: Callable[[], None] | None = None,
    concurrency: int = 16,
) -> SeedReport:
    """Point every subscriber at the receiver, then put the region into Zicht.

    Subscriptions come first, so the alerts the first scores raise reach a subscriber instead
    of being recorded as undeliverable. Each provider's reports follow its registry entry, so
    its first score comes within seconds of the start of seeding.

    Args:
        client: The demo's HTTP client.
        region: The synthetic region.
        receiver: The local receiver, answering already (notify verifies each callback as it
            is subscribed); it learns each subscriber's secret before notify does.
        progress: Called after each item of each step.
        registered: Called once every registry entry is in (signals can then be matched to
            their providers, so the generator may start while indicators are still sent).
        subscribed: Called once every subscription is in place and verified.
        concurrency: Requests in flight at once.

    Returns:
        What was accepted, replayed, refused or skipped.

    Raises:
        ServiceUnavailableError: When a service does not answer.
        ApiError: When notify refuses to list, create or rotate a subscription.
    """
    report = SeedReport()
    tell = progress or (lambda _step, _done, _total: None)
    done = Tally()

    subscribers = subscriber_ids(client.keys.subscribers)

    async def subscribe(subscriber: str) -> None:
        await _subscribe(client, receiver, subscriber, report)
        done.add("subscriptions")
        tell("subscriptions", done["subscriptions"], len(subscribers))

    # Each subscription waits for notify's two verification deliveries: several at once.
    await _each(list(subscribers), subscribe, min(concurrency, _SUBSCRIBING_AT_ONCE))
    if subscribed is not None:
        subscribed()

    reports = sum(len(p.indicator_reports) for p in region.providers)

    async def register(provider: Provider) -> None:
        answer = await _with_retries(
            lambda: client.put_provider(provider.provider_id, provider.registry_entry())
        )
        report.providers.add(_outcome(answer))
        if not answer.ok:
            report.note(f"registry {provider.provider_id}: {answer.status} {answer.problem_title}")
        done.add("registry")
        tell("registry", done["registry"], len(region.providers))
        if done["registry"] == len(region.providers) and registered is not None:
            registered()

    async def indicate(provider: Provider, indicator_report: Any) -> None:
        answer = await _with_retries(
            lambda: client.report_indicators(provider.provider_id, indicator_report.body())
        )
        report.reports.add(_outcome(answer))
        if not answer.ok:
            what = f"{answer.status} {answer.problem_title}"
            report.note(f"indicators {provider.provider_id}: {what}")
        done.add("indicators")
        tell("indicators", done["indicators"], reports)

    async def put_in(provider: Provider) -> None:
        await register(provider)
        for indicator_report in provider.indicator_reports:
            await indicate(provider, indicator_report)

    # Provider by provider, each with its reports right after its registry entry, troubled
    # ones first: their scores turn orange or red within seconds of seeding, not at its end.
    ordered = sorted(region.providers, key=lambda p: not p.troubled)
    await _each(ordered, put_in, concurrency)
    return report


async def _subscribe(
    client: ZichtClient, receiver: WebhookReceiver, subscriber: str, report: SeedReport
) -> None:
    key = client.subscriber_key(subscriber)
    if key is None:
        report.subscriptions.add("skipped (no key)")
        report.note(f"subscription {subscriber}: the keys file has no key for it")
        return
    path = hook_path(subscriber)
    url = receiver.url_for(path)
    existing = [
        s
        for s in await client.subscriptions(key)
        if isinstance(s, Mapping) and s.get("description") == SUBSCRIPTION_DESCRIPTION
    ]
    # The subscriber's own secret, known to the receiver before notify verifies the callback
    # with it (a signed test delivery, then one with a wrong signature).
    secret = new_secret()
    receiver.add_secret(path, secret)
    if not existing:
        await client.create_subscription(key, url, SUBSCRIPTION_DESCRIPTION, secret)
        report.subscriptions.add("created")
        return
    keep, *extra = existing
    await client.update_subscription(key, str(keep["subscription_id"]), url, secret)
    for old in extra:
        try:
            await client.delete_subscription(key, str(old["subscription_id"]))
        except ApiError as exc:
            report.note(f"subscription {subscriber}: could not delete an old one: {exc}")
    report.subscriptions.add("reused")
