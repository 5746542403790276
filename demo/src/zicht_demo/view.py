"""What to watch: a live terminal view of the demo region, or a summary line without a terminal.

Every second the watcher asks the services what happened: intake's and notify's flow since the
run started (``GET /v1/ops/flow``, what the reconciliation reads: signals taken in per source,
alerts by delivery state), the assessments of the demo's own submissions (outcomes), scoring's
risk register (providers by traffic light, and how many changed colour since the view
started) and the local receiver's counters (accepted, and refused: no subscriber at the path,
or a bad signature). A service that does not answer is shown as one line, never a traceback.
The live view is kept to about 26 lines, so that it fits a terminal without scrolling.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from rich import box
from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from zicht_demo.client import ApiError, KeysError, ServiceUnavailableError, ZichtClient
from zicht_demo.receiver import ReceiverStats, WebhookReceiver
from zicht_demo.signals import Submission, SubmissionKind

__all__ = [
    "DELIVERY_STATES",
    "LEVELS",
    "PartnerTally",
    "SeedingProgress",
    "SendTally",
    "Snapshot",
    "Watcher",
    "render",
    "summary_line",
]

LEVELS: Final = ("green", "orange", "red")
DELIVERY_STATES: Final = ("delivered", "pending", "retrying", "failed", "undeliverable")
_LEVEL_STYLES: Final[Mapping[str, str]] = {"green": "green", "orange": "dark_orange", "red": "red"}
_REGISTER_LIMIT: Final = 1000
_CHECKS_PER_POLL: Final = 25
_RECHECK_AFTER_S: Final = 2.0
_GIVE_UP_AFTER_S: Final = 300.0
_RECENT_ALERTS: Final = 5
_TOP_RED: Final = 5
_SEED_LINE_EVERY_S: Final = 3.0
_T = TypeVar("_T")


@dataclass
class PartnerTally:
    """What the demo sent as one partner, counted in signals (CSV rows count one each)."""

    sent: int = 0
    accepted: int = 0
    refused: int = 0
    meant_invalid: int = 0
    conflicts: int = 0
    failed: int = 0


@dataclass
class SendTally:
    """The generator's own count of what it sent and how intake answered."""

    partners: dict[str, PartnerTally] = field(
        default_factory=lambda: {kind.value: PartnerTally() for kind in SubmissionKind}
    )
    submission_ids: deque[str] = field(default_factory=deque)

    def record(self, submission: Submission, status: int | None, body: Any) -> None:
        """Count a submission by intake's answer (``status`` None: no answer, or no key).

        Args:
            submission: What was sent.
            status: The HTTP status, or None when nothing was answered.
            body: The answer's JSON body.
        """
        tally = self.partners[submission.kind.value]
        tally.sent += submission.signals
        tally.meant_invalid += (
            len(submission.invalid_rows)
            if submission.invalid_rows
            else int(submission.deliberately_invalid)
        )
        if status is None or status >= 500:  # noqa: PLR2004 - server-side: nothing stored
            tally.failed += submission.signals
            return
        if status == 409:  # noqa: PLR2004 - a partner reference reused with other content
            tally.conflicts += submission.signals
            return
        if status >= 400:  # noqa: PLR2004 - refused whole
            tally.refused += submission.signals
            return
        accepted, refused = _split(submission, body)
        tally.accepted += accepted
        tally.refused += refused
        submission_id = body.get("submission_id") if isinstance(body, dict) else None
        if isinstance(submission_id, str):
            self.submission_ids.append(submission_id)


def _split(submission: Submission, body: Any) -> tuple[int, int]:
    """Accepted and refused signals of a 2xx answer (items are listed for several parts)."""
    items = body.get("items") if isinstance(body, dict) else None
    if isinstance(items, list) and items:
        refused = sum(
            1 for item in items if isinstance(item, dict) and item.get("status") == "rejected"
        )
        return len(items) - refused, refused
    status = body.get("status") if isinstance(body, dict) else None
    if status == "rejected":
        return 0, submission.signals
    return submission.signals, 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One look at the region."""

    elapsed_s: float
    rate: float
    providers: int
    partners: Mapping[str, PartnerTally]
    received: Mapping[str, int]
    """Signals intake took in since the run started, by source (its flow)."""
    outcomes: Mapping[str, int]
    awaiting_triage: int
    levels: Mapping[str, int]
    changed_colour: int
    top_red: tuple[tuple[str, str, float], ...]
    deliveries: Mapping[str, int]
    """Notify's alerts made since the run started, by delivery state (its flow)."""
    receiver: ReceiverStats
    problems: tuple[str, ...] = ()
    first_change_s: float | None = None
    """Seconds from the start to the first colour change seen; None before it."""
    first_alert_s: float | None = None
    """Seconds from the start to the first alert at the receiver; None before it."""

    @property
    def unscored(self) -> int:
        """Providers of the region scoring does not list (yet)."""
        return max(0, self.providers - sum(self.levels.values()))


class _Outcomes:
    """Follows the demo's own submissions until triage has assessed each accepted signal."""

    def __init__(self) -> None:
        self.first_seen: dict[str, float] = {}
        self.last_checked: dict[str, float] = {}
        self.counts: Counter[str] = Counter()
        self.signals: set[str] = set()
        self.given_up = 0

    def due(self, now: float) -> list[str]:
        waiting = [
            sid
            for sid in self.first_seen
            if now - self.last_checked.get(sid, 0.0) >= _RECHECK_AFTER_S
        ]
        return waiting[:_CHECKS_PER_POLL]

    def update(self, submission_id: str, body: Mapping[str, Any] | None, now: float) -> None:
        self.last_checked[submission_id] = now
        complete = body is not None
        items = body.get("items") if body is not None else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            assessment = item.get("assessment")
            signal_id = item.get("signal_id")
            if isinstance(assessment, dict) and isinstance(signal_id, str):
                if signal_id not in self.signals:
                    self.signals.add(signal_id)
                    self.counts[str(assessment.get("outcome", "?"))] += 1
            elif item.get("status") != "rejected":
                complete = False
        too_old = now - self.first_seen.get(submission_id, now) > _GIVE_UP_AFTER_S
        if complete or too_old:
            self.given_up += int(too_old and not complete)
            self.first_seen.pop(submission_id, None)
            self.last_checked.pop(submission_id, None)


class Watcher:
    """Polls the services and the receiver into :class:`Snapshot` values."""

    def __init__(
        self,
        client: ZichtClient,
        receiver: WebhookReceiver,
        tally: SendTally,
        *,
        providers: int,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        started_at: float | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._wall = wall
        self._started_at = started_at if started_at is not None else wall()
        self._first_change_at: float | None = None
        self._receiver = receiver
        self._tally = tally
        self._providers = providers
        self._rate = rate
        self._clock = clock
        self._started = clock()
        self._outcomes = _Outcomes()
        self._first_level: dict[str, str] = {}
        self._current_level: dict[str, str] = {}
        self._level_looks = 0
        self._problems: dict[str, str] = {}

    async def poll(self) -> Snapshot:
        """Ask every service once (concurrently) and return what they said."""
        now = self._clock()
        while self._tally.submission_ids:
            self._outcomes.first_seen.setdefault(self._tally.submission_ids.popleft(), now)
        self._problems.clear()
        levels, received, deliveries, _ = await asyncio.gather(
            self._levels(),
            self._received(),
            self._deliveries(),
            self._check_outcomes(now),
        )
        counts, top_red = levels
        stats = self._receiver.stats()
        return Snapshot(
            elapsed_s=now - self._started,
            rate=self._rate,
            providers=self._providers,
            partners={k: PartnerTally(**vars(v)) for k, v in self._tally.partners.items()},
            received=received,
            outcomes=dict(self._outcomes.counts),
            awaiting_triage=len(self._outcomes.first_seen),
            levels=counts,
            changed_colour=self._changed(),
            top_red=top_red,
            deliveries=deliveries,
            receiver=stats,
            problems=tuple(sorted(set(self._problems.values()))),
            first_change_s=self._since_start(self._first_change_at),
            first_alert_s=self._since_start(stats.first_alert_at),
        )

    def _since_start(self, moment: float | None) -> float | None:
        return None if moment is None else max(0.0, moment - self._started_at)

    async def _safe(self, service: str, call: Awaitable[_T], default: _T) -> _T:
        try:
            return await call
        except ServiceUnavailableError as exc:
            self._problems[service] = str(exc)
        except (ApiError, KeysError) as exc:
            self._problems[service] = str(exc)
        return default

    async def _levels(self) -> tuple[dict[str, int], tuple[tuple[str, str, float], ...]]:
        counts: dict[str, int] = {}
        top: tuple[tuple[str, str, float], ...] = ()
        for level in LEVELS:
            listed = await self._safe(
                "scoring",
                self._client.risk_register(level=level, limit=_REGISTER_LIMIT),
                [],
            )
            counts[level] = len(listed)
            for entry in listed:
                if isinstance(entry, dict) and isinstance(entry.get("provider_id"), str):
                    self._level_seen(entry["provider_id"], level)
            if level == "red":
                top = tuple(
                    (str(e.get("provider_id")), str(e.get("name") or ""), float(e.get("score", 0)))
                    for e in listed[:_TOP_RED]
                    if isinstance(e, dict)
                )
        self._level_looks += 1
        return counts, top

    def _level_seen(self, provider_id: str, level: str) -> None:
        # A provider first scored after the view's first look was unscored then, and an
        # unscored provider is green: its first score is a change when it is not green.
        first = self._first_level.setdefault(
            provider_id, level if self._level_looks == 0 else "green"
        )
        self._current_level[provider_id] = level
        if first != level and self._first_change_at is None:
            self._first_change_at = self._wall()

    def _changed(self) -> int:
        return sum(
            1
            for provider_id, level in self._current_level.items()
            if self._first_level.get(provider_id) != level
        )

    async def _flow(self, service: str) -> dict[str, Any]:
        found = await self._safe(service, self._client.flow(service, self._started_at), {})
        counts = found.get("counts")
        return counts if isinstance(counts, dict) else {}

    async def _received(self) -> dict[str, int]:
        signals = (await self._flow("intake")).get("signals")
        return _numbers(signals)

    async def _deliveries(self) -> dict[str, int]:
        alerts = (await self._flow("notify")).get("alerts")
        return _numbers(alerts)

    async def _check_outcomes(self, now: float) -> None:
        for submission_id in self._outcomes.due(now):
            body = await self._safe("intake", self._client.submission(submission_id), None)
            if "intake" in self._problems:
                return
            self._outcomes.update(submission_id, body, now)


def _numbers(found: Any) -> dict[str, int]:
    if not isinstance(found, dict):
        return {}
    return {str(k): v for k, v in found.items() if isinstance(v, int)}


# --- rendering ---------------------------------------------------------------------------


def _table(title: str) -> Table:
    """A table without borders: a title line, a header line, one line a row."""
    return Table(
        title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
        show_edge=False, pad_edge=False, expand=True, padding=(0, 1),
    )  # fmt: skip


def _clock_text(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def _partners_table(snapshot: Snapshot) -> Table:
    table = _table("Signals per partner")
    table.add_column("partner", no_wrap=True)
    table.columns[0].min_width = len("access team")
    for name in ("sent", "accepted", "refused (meant)", "at intake"):
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    for kind, tally in snapshot.partners.items():
        refused = f"{tally.refused} ({tally.meant_invalid})"
        table.add_row(
            kind.replace("_", " "),
            str(tally.sent),
            str(tally.accepted),
            refused,
            str(snapshot.received.get(kind, 0)),
        )
    return table


def _outcomes_table(snapshot: Snapshot) -> Table:
    table = _table("Triage outcomes")
    table.add_column("outcome")
    table.add_column("signals", justify="right")
    for outcome, count in sorted(snapshot.outcomes.items(), key=lambda item: -item[1]):
        table.add_row(Text(outcome.replace("_", " ")), str(count))
    table.add_row(Text("awaiting triage", style="dim"), Text(str(snapshot.awaiting_triage), "dim"))
    return table


def _levels_table(snapshot: Snapshot) -> Table:
    table = _table(f"Providers ({snapshot.changed_colour} changed colour since start)")
    table.add_column("level")
    table.add_column("providers", justify="right")
    table.add_column("", ratio=1)
    total = max(1, snapshot.providers)
    for level in LEVELS:
        count = snapshot.levels.get(level, 0)
        bar = Text("█" * round(24 * count / total), style=_LEVEL_STYLES[level])
        table.add_row(Text(level, style=_LEVEL_STYLES[level]), str(count), bar)
    table.add_row(Text("not scored", style="dim"), Text(str(snapshot.unscored), "dim"), "")
    return table


def _alerts_table(snapshot: Snapshot) -> Table:
    table = _table("Alerts since start")
    for name in ("notify", "", "receiver", ""):
        table.add_column(name, justify="left" if name else "right", no_wrap=True)
    stats = snapshot.receiver
    in_flight = snapshot.deliveries.get("pending", 0) + snapshot.deliveries.get("retrying", 0)
    failed = snapshot.deliveries.get("failed", 0)
    undeliverable = snapshot.deliveries.get("undeliverable", 0)
    table.add_row("delivered", str(snapshot.deliveries.get("delivered", 0)),
                  "accepted", str(stats.total))  # fmt: skip
    table.add_row("in flight", str(in_flight), "duplicates", str(stats.duplicates))
    table.add_row(
        Text("failed", style="red" if failed else ""), str(failed),
        Text("404 no subscriber", style="red" if stats.unknown_paths else ""),
        str(stats.unknown_paths),
    )  # fmt: skip
    table.add_row(
        Text("undeliverable", style="red" if undeliverable else ""), str(undeliverable),
        Text("401 bad signature", style="red" if stats.bad_signatures else ""),
        str(stats.bad_signatures),
    )  # fmt: skip
    return table


def _recent_table(snapshot: Snapshot) -> Table:
    table = _table("Latest alerts at the receiver")
    table.add_column("to", no_wrap=True)
    table.add_column("provider", no_wrap=True)
    table.add_column("what", no_wrap=True, overflow="ellipsis", ratio=1)
    for alert in snapshot.receiver.last_alerts[:_RECENT_ALERTS]:
        event = alert.type.removeprefix("nl.zorgtoezicht.").removesuffix(".v1")
        what = f"{event}: {alert.summary}" if alert.summary else event
        cells = (alert.recipient.removeprefix("/hooks/"), alert.subject, what)
        # Text, not markup: what arrives at the receiver may hold "[...]".
        table.add_row(*(Text(cell) for cell in cells))
    return table


def _red_table(snapshot: Snapshot) -> Table:
    table = _table("Highest risk")
    for name in ("provider", "name", "score"):
        table.add_column(
            name, overflow="ellipsis", no_wrap=True, justify="right" if name == "score" else "left"
        )
    for provider_id, name, score in snapshot.top_red:
        table.add_row(Text(provider_id), Text(name), f"{score:.1f}")
    return table


def render(snapshot: Snapshot) -> RenderableType:
    """The dashboard for one snapshot: about 26 lines, whatever the run's length."""
    header = Text.assemble(
        ("Zicht demo region", "bold"),
        f"  {snapshot.providers} invented providers · running {_clock_text(snapshot.elapsed_s)}"
        f" · {snapshot.rate:g} signals/s · Ctrl-C stops",
        f"\n{_milestones_text(snapshot)}",
    )
    grid = Table.grid(expand=True, padding=(0, 3))
    grid.add_column(ratio=5)
    grid.add_column(ratio=4)
    grid.add_row(_partners_table(snapshot), _outcomes_table(snapshot))
    grid.add_row(_levels_table(snapshot), _alerts_table(snapshot))
    grid.add_row(_recent_table(snapshot), _red_table(snapshot))
    parts: list[RenderableType] = [header, grid]
    parts.extend(Text(problem, style="bold red") for problem in snapshot.problems)
    return Group(*parts)


def summary_line(snapshot: Snapshot) -> str:
    """The snapshot in one line, for a log or a terminal without a live view."""
    sent = sum(t.sent for t in snapshot.partners.values())
    accepted = sum(t.accepted for t in snapshot.partners.values())
    refused = sum(t.refused for t in snapshot.partners.values())
    per_partner = ", ".join(f"{k} {t.sent}" for k, t in snapshot.partners.items())
    outcomes = ", ".join(
        f"{k} {v}" for k, v in sorted(snapshot.outcomes.items(), key=lambda item: -item[1])
    )
    levels = " ".join(f"{level} {snapshot.levels.get(level, 0)}" for level in LEVELS)
    deliveries = " ".join(f"{s} {snapshot.deliveries.get(s, 0)}" for s in DELIVERY_STATES)
    stats = snapshot.receiver
    line = (
        f"demo {_clock_text(snapshot.elapsed_s)} | signals sent {sent} ({per_partner}), "
        f"accepted {accepted}, refused {refused}, at intake {sum(snapshot.received.values())} "
        f"| outcomes: {outcomes or 'none yet'} (awaiting {snapshot.awaiting_triage}) | "
        f"providers {levels}, unscored {snapshot.unscored}, changed colour "
        f"{snapshot.changed_colour} | alerts {deliveries} | receiver accepted {stats.total} "
        f"(duplicates {stats.duplicates}), refused {stats.unknown_paths + stats.bad_signatures} "
        f"(no subscriber {stats.unknown_paths}, bad signatures {stats.bad_signatures})"
    )
    if snapshot.first_change_s is not None or snapshot.first_alert_s is not None:
        line += f" | {_milestones_text(snapshot)}"
    if snapshot.problems:
        line += " | " + "; ".join(snapshot.problems)
    return line


def _milestones_text(snapshot: Snapshot) -> str:
    def at(seconds: float | None) -> str:
        return "not yet" if seconds is None else f"{seconds:.0f}s after start"

    return (
        f"first colour change {at(snapshot.first_change_s)}, "
        f"first alert {at(snapshot.first_alert_s)}"
    )


class SeedingProgress:
    """Shows seeding: progress bars on a terminal, a line every few seconds otherwise."""

    def __init__(self, console: Console, *, live: bool) -> None:
        self._console = console
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}
        self._last_line = 0.0
        if live:
            self._progress = Progress(
                TextColumn("seeding {task.description:<14}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            )

    def __enter__(self) -> SeedingProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, step: str, done: int, total: int) -> None:
        """Record progress of a step (the seeding callback)."""
        if self._progress is not None:
            if step not in self._tasks:
                self._tasks[step] = self._progress.add_task(step, total=total)
            self._progress.update(self._tasks[step], completed=done, total=total)
            return
        now = time.monotonic()
        if done == total or now - self._last_line >= _SEED_LINE_EVERY_S:
            self._last_line = now
            self._console.print(
                f"zicht-demo: seeding {step} {done}/{total}", highlight=False, soft_wrap=True
            )
