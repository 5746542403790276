"""``python -m zicht_demo story <provider_id>``: why is this provider red?

Tells one provider's story from what the services answer over HTTP: its registry facts (for a
provider of the demo region, the entry the demo registered, with the indicator levels under
policy 2025.1), every signal about it with the decision triage took and the rules that fired,
its current score with the contribution of each indicator and signal, the investigations, and
every alert notify sent or tried to send about it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from rich.console import Console
from rich.table import Table
from rich.text import Text

from zicht_demo.client import ApiError, KeysError, ServiceUnavailableError, ZichtClient
from zicht_demo.region import Provider, Region, indicator_levels
from zicht_schemas.regions import regions

__all__ = ["SignalStory", "Story", "gather_story", "render_story"]

_MAX_SUBMISSIONS: Final = 200
_MAX_DELIVERIES: Final = 1000
_ALERT_STATES: Final = ("pending", "retrying", "delivered", "failed", "undeliverable")
_LEVEL_STYLES: Final = {"green": "green", "orange": "dark_orange", "red": "bold red"}
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SignalStory:
    """One signal about the provider, with what became of it."""

    submission_id: str
    source: str
    received_at: str
    reference: str
    status: str
    signal_id: str | None
    assessment: dict[str, Any] | None
    decision: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Story:
    """Everything the services say about one provider."""

    provider_id: str
    registered: Provider | None
    risk: dict[str, Any] | None
    signals: tuple[SignalStory, ...]
    investigations: tuple[dict[str, Any], ...]
    alerts: tuple[dict[str, Any], ...]
    problems: tuple[str, ...] = field(default=())


class _Collector:
    """Calls the services, turning an unanswered or refused call into a problem line."""

    def __init__(self) -> None:
        self.problems: list[str] = []

        self._warned: set[str] = set()

    async def get(self, call: Awaitable[_T], default: _T) -> _T:
        try:
            return await call
        except (ServiceUnavailableError, ApiError, KeysError) as exc:
            self.note(str(exc))
            return default

    def note(self, problem: str, *, service: str | None = None) -> None:
        if problem not in self.problems:
            self.problems.append(problem)
        if service is not None:
            self._warned.add(service)

    def warned(self, service: str) -> bool:
        return service in self._warned


async def gather_story(
    client: ZichtClient, provider_id: str, *, region: Region | None = None
) -> Story:
    """Ask intake, triage, scoring and notify about one provider.

    Args:
        client: The demo's HTTP client (operator, supervisor and reader keys).
        provider_id: The provider's registry id, e.g. ``demo-0042``.
        region: The demo region, for the registry facts of its providers.

    Returns:
        The story; a service that did not answer leaves its part empty and a problem line.
    """
    collect = _Collector()
    signals = await _signals(client, collect, provider_id)
    risk = await collect.get(client.provider_risk(provider_id), None)
    investigations = await collect.get(
        client.investigations(state=None, provider_id=provider_id), []
    )
    alerts: list[dict[str, Any]] = []
    for state in _ALERT_STATES:
        found = await collect.get(client.deliveries(state, provider_id=provider_id), [])
        listed = [a for a in found if isinstance(a, dict)]
        alerts.extend(a for a in listed if a.get("provider_id") == provider_id)
        if len(alerts) < len(listed) and not collect.warned("notify"):
            collect.note(
                "notify ignored the provider filter: only its newest "
                f"{_MAX_DELIVERIES} alerts per state were searched",
                service="notify",
            )
    alerts.sort(key=lambda a: str(a.get("created_at") or ""))
    return Story(
        provider_id=provider_id,
        registered=region.provider(provider_id) if region is not None else None,
        risk=risk,
        signals=tuple(signals),
        investigations=tuple(
            i for i in investigations if isinstance(i, dict) and i.get("provider_id") == provider_id
        ),
        alerts=tuple(alerts),
        problems=tuple(collect.problems),
    )


async def _signals(client: ZichtClient, collect: _Collector, provider_id: str) -> list[SignalStory]:
    listed = await collect.get(
        client.submissions(limit=_MAX_SUBMISSIONS, provider_id=provider_id), []
    )
    stories: list[SignalStory] = []
    unrelated = 0
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("submission_id"), str):
            continue
        details = await collect.get(client.submission(entry["submission_id"]), None)
        if details is None:
            continue
        items = [i for i in details.get("items") or [] if isinstance(i, dict)]
        # Filtered by item: a CSV file holds rows about several providers.
        ours = [i for i in items if i.get("provider_id") == provider_id]
        unrelated += not ours
        for item in ours:
            signal_id = item.get("signal_id") if isinstance(item.get("signal_id"), str) else None
            decision = await collect.get(client.assessment(signal_id), None) if signal_id else None
            assessment = item.get("assessment")
            stories.append(
                SignalStory(
                    submission_id=entry["submission_id"],
                    source=str(details.get("source", "")),
                    received_at=str(details.get("received_at", "")),
                    reference=str(
                        item.get("partner_reference") or details.get("partner_reference") or ""
                    ),
                    status=str(item.get("status", "")),
                    signal_id=signal_id,
                    assessment=assessment if isinstance(assessment, dict) else None,
                    decision=decision,
                )
            )
    if unrelated:
        collect.note(
            "intake ignored the provider filter: only its newest "
            f"{_MAX_SUBMISSIONS} submissions were searched",
            service="intake",
        )
    stories.sort(key=lambda s: s.received_at)
    return stories


# --- rendering ---------------------------------------------------------------------------


def _add_row(table: Table, *cells: str) -> None:
    # Text, not markup: what the services answer (names, reasons) may hold "[...]".
    table.add_row(*(Text(cell) for cell in cells))


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False)


def _municipality(code: str) -> str:
    found = regions().municipality(code)
    return f"{found.name} ({code})" if found else code


def _facts(story: Story, console: Console) -> None:
    provider = story.registered
    risk = story.risk or {}
    name = provider.name if provider else str(risk.get("name") or "(name unknown)")
    kvk = provider.kvk if provider else str(risk.get("kvk") or "?")
    console.print(Text.assemble(("Provider ", "bold"), (story.provider_id, "bold"), f"  {name}"))
    if provider is None:
        _say(console, f"  KvK {kvk}; not a provider of the demo region: no registry facts here")
        return
    agb = f", AGB {provider.agb}" if provider.agb else ", no AGB code"
    _say(
        console,
        f"  KvK {provider.kvk}{agb}; {provider.legal_form.value}, founded {provider.founded_on}",
    )
    for loc in provider.locations:
        addition = loc.house_number_addition or ""
        services = ", ".join(s.value for s in loc.services)
        _say(
            console,
            f"  location {loc.location_id}: {loc.name}, {loc.street} {loc.house_number}{addition}, "
            f"{loc.postcode} {_municipality(loc.municipality_code)}: {services}",
        )
    contracting = ", ".join(_municipality(c) for c in provider.contracting_municipalities)
    _say(console, f"  contracted by: {contracting or 'none'}")
    levels = indicator_levels(provider.indicator_values)
    risky = [f"{code} {provider.indicator_values[code]} ({lvl.value})"
             for code, lvl in levels.items() if lvl.value != "green"]  # fmt: skip
    _say(
        console,
        f"  registered indicators: {provider.starting_points} points "
        f"({provider.starting_level.value} before any signal): {', '.join(risky) or 'all green'}",
    )


def _risk(story: Story, console: Console) -> None:
    risk = story.risk
    console.print()
    if risk is None:
        console.print(Text("Risk: scoring has no score for this provider (yet)", style="bold"))
        return
    level = str(risk.get("level", "?"))
    console.print(
        Text.assemble(
            ("Risk now: ", "bold"),
            (f"{risk.get('score')} {level.upper()}", _LEVEL_STYLES.get(level, "")),
            f"  (model {risk.get('model_version')}, evaluated {risk.get('evaluated_at')})",
        )
    )
    table = Table(
        "kind", "ref", "points", "explanation", title="Contributions", title_justify="left"
    )
    contributions = risk.get("contributions")
    rows = (
        [c for c in contributions if isinstance(c, dict)] if isinstance(contributions, list) else []
    )
    for c in sorted(rows, key=lambda c: -float(c.get("points", 0))):
        _add_row(
            table,
            str(c.get("kind", "")), str(c.get("ref", "")), f"{float(c.get('points', 0)):.1f}",
            str(c.get("explanation_en", "")),
        )  # fmt: skip
    console.print(table)
    history = risk.get("history")
    for change in (history if isinstance(history, list) else [])[:5]:
        if isinstance(change, dict):
            before = change.get("previous_level")
            moved = (
                f"{before} -> {change.get('level')} "
                f"({change.get('previous_score')} -> {change.get('score')})"
                if before
                else f"first scored {change.get('level')} ({change.get('score')})"
            )
            _say(console, f"  {change.get('evaluated_at')}: {moved}, {change.get('reason')}")


def _reasons(signal: SignalStory) -> str:
    if signal.decision is not None:
        rules = signal.decision.get("rules_fired")
        texts = [
            f"{r.get('rule_id')}: {r.get('text_en')}"
            + (f" [{_inputs(r.get('inputs'))}]" if r.get("inputs") else "")
            for r in (rules if isinstance(rules, list) else [])
            if isinstance(r, dict)
        ]
        return "; ".join(texts)
    if signal.assessment is not None:
        reasons = signal.assessment.get("reasons")
        return "; ".join(
            f"{r.get('rule_id')}: {r.get('text_en')}"
            for r in (reasons if isinstance(reasons, list) else [])
            if isinstance(r, dict)
        )
    return ""


def _inputs(inputs: Any) -> str:
    if not isinstance(inputs, dict):
        return ""
    return ", ".join(f"{k}={v}" for k, v in inputs.items())


def _signals_table(story: Story, console: Console) -> None:
    console.print()
    table = Table(
        "received", "partner", "reference", "decision", "priority", "why",
        title=f"Signals ({len(story.signals)})", title_justify="left",
    )  # fmt: skip
    for signal in story.signals:
        decided = signal.decision or signal.assessment or {}
        outcome = str(decided.get("outcome") or signal.status)
        strategy = decided.get("strategy")
        _add_row(
            table,
            signal.received_at[:19],
            signal.source,
            signal.reference,
            outcome + (f" ({strategy})" if strategy else ""),
            str(decided.get("priority") or ""),
            _reasons(signal),
        )
    console.print(table)


def _investigations(story: Story, console: Console) -> None:
    for inv in story.investigations:
        _say(
            console,
            f"  investigation {inv.get('investigation_id')}: {inv.get('state')}"
            f"{' (' + str(inv.get('decision')) + ')' if inv.get('decision') else ''}, "
            f"opened {inv.get('opened_at')}, {inv.get('signal_count')} signal(s)",
        )


def _alerts_table(story: Story, console: Console) -> None:
    console.print()
    table = Table(
        "created", "to", "because of", "rule", "state", "attempts",
        title=f"Alerts ({len(story.alerts)})", title_justify="left",
    )  # fmt: skip
    for alert in story.alerts:
        subscriber = alert.get("subscriber")
        to = str(subscriber.get("id")) if isinstance(subscriber, dict) else ""
        _add_row(
            table,
            str(alert.get("created_at") or "")[:19],
            to,
            str(alert.get("source_event_type") or "").removeprefix("nl.zorgtoezicht."),
            str(alert.get("rule_id") or ""),
            str(alert.get("state") or ""),
            str(alert.get("attempts") or 0),
        )
    console.print(table)


def render_story(story: Story, console: Console) -> None:
    """Print a provider's story."""
    _facts(story, console)
    _risk(story, console)
    _signals_table(story, console)
    if story.investigations:
        console.print()
        console.print(Text(f"Investigations ({len(story.investigations)})", style="italic"))
        _investigations(story, console)
    _alerts_table(story, console)
    for problem in story.problems:
        console.print(Text(problem, style="bold red"))
