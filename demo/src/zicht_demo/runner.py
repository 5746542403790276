"""``python -m zicht_demo run``: seed the region, then generate, receive and watch.

The order matters: the receiver answers from the start, because notify verifies each
callback when it is subscribed; seeding gives the receiver each subscriber's own secret
before it subscribes with it, so no webhook arrives before its secret is known. The registry
and indicators follow, so the alerts their first scores raise are delivered rather than
recorded as undeliverable.
The generator then sends at the configured rate while the view polls every second, until
Ctrl-C, SIGTERM or ``--duration``; stopping is clean and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.live import Live

from zicht_demo.client import Endpoints, ServiceUnavailableError, ZichtClient, load_keys
from zicht_demo.receiver import WebhookReceiver
from zicht_demo.region import Region, build_region
from zicht_demo.seed import SeedReport, seed_region
from zicht_demo.signals import SignalGenerator, Submission
from zicht_demo.view import SeedingProgress, SendTally, Snapshot, Watcher, render, summary_line

__all__ = ["DemoError", "RunOptions", "generate", "run_demo", "say", "send"]

_READY_WAIT_S: Final = 20.0
_READY_POLL_S: Final = 1.0
_SEND_CONCURRENCY: Final = 8
_MAX_BEHIND_S: Final = 5.0
_VIEW_EVERY_S: Final = 1.0
_LINE_EVERY_S: Final = 5.0
_SEEDING_LOOK_S: Final = 2.0
_LAST_LOOK_S: Final = 3.0


def say(console: Console, text: str) -> None:
    """One line of the demo's own, unwrapped and unstyled, so logs keep it whole."""
    console.print(f"zicht-demo: {text}", highlight=False, markup=False, soft_wrap=True)


class DemoError(Exception):
    """A problem the command reports in one line (a service not ready, a port taken)."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The options of ``python -m zicht_demo run``."""

    keys: Path
    endpoints: Endpoints = field(default_factory=Endpoints)
    rate: float = 2.0
    providers: int = 300
    seed: int = 1
    receiver_port: int = 0
    view: bool = True
    duration_s: float | None = None
    started_at: float | None = None
    """When the whole run started (seconds since the epoch); milestones count from it."""


@dataclass
class _Milestones:
    """Says once when the first colour change and the first alert were seen."""

    change: bool = False
    alert: bool = False

    def tell(self, console: Console, snapshot: Snapshot) -> None:
        if snapshot.first_change_s is not None and not self.change:
            self.change = True
            say(console, f"first colour change {snapshot.first_change_s:.0f}s after start")
        if snapshot.first_alert_s is not None and not self.alert:
            self.alert = True
            say(console, f"first alert at the receiver {snapshot.first_alert_s:.0f}s after start")


async def send(client: ZichtClient, submission: Submission, tally: SendTally) -> None:
    """Send one submission with its partner's key and count intake's answer."""
    key = client.keys.for_submission(submission)
    if key is None:
        tally.record(submission, None, None)
        return
    try:
        answer = await client.submit(submission, key)
    except ServiceUnavailableError:
        tally.record(submission, None, None)
        return
    tally.record(submission, answer.status, answer.body)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def generate(
    client: ZichtClient,
    generator: SignalGenerator,
    tally: SendTally,
    *,
    rate: float,
    stop: asyncio.Event,
) -> None:
    """Send submissions at ``rate`` signals a second until ``stop`` is set."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(_SEND_CONCURRENCY)
    in_flight: set[asyncio.Task[None]] = set()

    async def one(submission: Submission) -> None:
        try:
            await send(client, submission, tally)
        finally:
            gate.release()

    due = loop.time()
    try:
        while not stop.is_set():
            submission = generator.next()
            await gate.acquire()
            task = asyncio.create_task(one(submission))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            # Paced by signals, not files: a CSV of four rows takes four slots.
            due += submission.signals / rate
            behind = loop.time() - due
            if behind > _MAX_BEHIND_S:
                due = loop.time()  # after a stall, carry on at the rate instead of bursting
            elif behind < 0:
                await _wait(stop, -behind)
    finally:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)


async def _ready(client: ZichtClient, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + _READY_WAIT_S
    while True:
        problems = await client.not_ready()
        if not problems or stop.is_set():
            return
        if loop.time() >= give_up:
            raise DemoError("; ".join(problems.values()))
        await _wait(stop, _READY_POLL_S)


async def _watch(
    watcher: Watcher,
    console: Console,
    stop: asyncio.Event,
    milestones: _Milestones,
    *,
    live: bool,
) -> None:
    if live:
        with Live(console=console, auto_refresh=False, transient=False) as screen:
            while not stop.is_set():
                screen.update(render(await watcher.poll()), refresh=True)
                await _wait(stop, _VIEW_EVERY_S)
        return
    while not stop.is_set():
        await _wait(stop, _LINE_EVERY_S)
        snapshot = await watcher.poll()
        milestones.tell(console, snapshot)
        say(console, summary_line(snapshot))


async def _look_while_seeding(
    watcher: Watcher, console: Console, milestones: _Milestones, done: asyncio.Event
) -> None:
    """Poll now and then while seeding, to see the first colour change and alert early."""
    while not done.is_set():
        await _wait(done, _SEEDING_LOOK_S)
        milestones.tell(console, await watcher.poll())


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(number, stop.set)


async def _seed(
    client: ZichtClient,
    region: Region,
    receiver: WebhookReceiver,
    console: Console,
    stop: asyncio.Event,
    *,
    live: bool,
    registered: asyncio.Event,
    watcher: Watcher,
    milestones: _Milestones,
) -> SeedReport | None:
    """Seed the region; None when stopped first."""
    seeded = asyncio.Event()
    looking = asyncio.create_task(_look_while_seeding(watcher, console, milestones, seeded))
    try:
        return await _seed_watched(client, region, receiver, console, stop, live, registered)
    finally:
        seeded.set()
        await looking


async def _seed_watched(  # noqa: PLR0917  # _seed's own arguments, passed on
    client: ZichtClient,
    region: Region,
    receiver: WebhookReceiver,
    console: Console,
    stop: asyncio.Event,
    live: bool,
    registered: asyncio.Event,
) -> SeedReport | None:
    with SeedingProgress(console, live=live) as progress:
        seeding = asyncio.create_task(
            # The receiver answers already: notify verifies each callback as it is subscribed.
            seed_region(client, region, receiver, progress=progress, registered=registered.set)
        )  # fmt: skip
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({seeding, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not seeding.done():
            seeding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await seeding
            return None
    report = seeding.result()
    say(console, f"seeded: {report.line()}")
    for problem in report.problems:
        say(console, problem)
    return report


async def _run(
    watcher: Watcher,
    options: RunOptions,
    *,
    console: Console,
    stop: asyncio.Event,
    sending: asyncio.Task[None],
    milestones: _Milestones,
) -> None:
    """Watch until stopped while the generator sends, then print the last look."""
    if options.duration_s is not None:
        # Counted from here: seeding takes as long as it takes, the demo then runs S seconds.
        asyncio.get_running_loop().call_later(options.duration_s, stop.set)
    try:
        await _watch(watcher, console, stop, milestones, live=options.view and console.is_terminal)
    finally:
        stop.set()
        await sending
    try:
        last = await asyncio.wait_for(watcher.poll(), timeout=_LAST_LOOK_S)
    except TimeoutError:
        say(console, "stopped")
    else:
        say(console, f"stopped. {summary_line(last)}")


async def run_demo(options: RunOptions, console: Console) -> int:
    """Seed, then generate, receive and watch until stopped.

    Args:
        options: The command's options.
        console: Where the view and messages go.

    Returns:
        0 after a clean stop.

    Raises:
        DemoError: When a service is not ready or the receiver's port is taken.
        KeysError: When the keys file cannot be read.
        ServiceUnavailableError: When a service stops answering while seeding.
    """
    keys = load_keys(options.keys)
    region = build_region(options.seed, options.providers)
    try:
        receiver = WebhookReceiver(options.receiver_port)
    except OSError as exc:
        port = options.receiver_port
        raise DemoError(f"the receiver cannot listen on port {port}: {exc.strerror}") from exc
    receiver.start()
    stop = asyncio.Event()
    _stop_on_signals(stop)
    try:
        async with ZichtClient(options.endpoints, keys) as client:
            await _ready(client, stop)
            live = options.view and console.is_terminal
            if stop.is_set():
                return 0
            # Signals start once the registry is in, while indicators are still being sent,
            # so providers change colour within a minute of start.
            tally = SendTally()
            watcher = Watcher(
                client, receiver, tally, providers=len(region.providers), rate=options.rate,
                started_at=options.started_at,
            )  # fmt: skip
            milestones = _Milestones()
            # The view's first look, before seeding: colours change from here.
            await watcher.poll()
            registered = asyncio.Event()
            sending = asyncio.create_task(
                _when(registered, stop, generate(
                    client, SignalGenerator(region, options.seed), tally,
                    rate=options.rate, stop=stop,
                ))
            )  # fmt: skip
            try:
                seeded = await _seed(
                    client, region, receiver, console, stop, live=live, registered=registered,
                    watcher=watcher, milestones=milestones,
                )  # fmt: skip
            except BaseException:
                stop.set()
                await sending
                raise
            if seeded is None:
                stop.set()
                await sending
                return 0
            say(console, f"webhooks arrive at {receiver.base_url}/hooks/<subscriber>")
            await _run(
                watcher, options, console=console, stop=stop, sending=sending,
                milestones=milestones,
            )  # fmt: skip
    finally:
        receiver.stop()
    return 0


async def _when(go: asyncio.Event, stop: asyncio.Event, work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` once ``go`` is set; drop it when ``stop`` comes first."""
    waiting = {asyncio.ensure_future(go.wait()), asyncio.ensure_future(stop.wait())}
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    for task in waiting:
        task.cancel()
    if stop.is_set():
        work.close()
        return
    await work
