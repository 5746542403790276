"""``python -m zicht_devtools.reconcile``: for a period, do the four services' counts add up?

Each service answers ``GET /v1/ops/flow`` (see :mod:`zicht_runtime.ops`) with what it took in,
wrote out and dead-lettered, and its business counts. This command asks all four and checks,
topic by topic, that every event one service sent was taken in by each service that consumes
it, that triage assessed every signal it took in that it did not dead-letter, and that every
alert notify made was delivered (or recorded as undeliverable: its recipient has no
subscription); it flags what is still in flight (unsent outbox rows, alerts
pending or retrying), what failed or had no subscriber, and every dead letter.

Counts are taken over a period, by each service's own clock of the moment (taken in, written,
received, assessed, made): events crossing a boundary of the period make it look
unbalanced, so reconcile a closed period, or one the chain has finished with.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx

from zicht_schemas import topics

__all__ = ["CONSUMERS", "Check", "Flow", "Reconciliation", "fetch_flows", "main", "reconcile"]

SERVICES: Final = ("intake", "triage", "scoring", "notify")

CONSUMERS: Final[Mapping[str, tuple[str, ...]]] = {
    topics.SIGNAL_RECEIVED: ("triage",),
    topics.PROVIDER_REGISTERED: ("triage", "scoring", "notify"),
    topics.INDICATORS_REPORTED: ("scoring",),
    topics.SIGNAL_ASSESSED: ("intake", "scoring", "notify"),
    topics.INVESTIGATION_CHANGED: ("intake", "scoring"),
    topics.PROVIDER_RISK_CHANGED: ("notify",),
}
"""Which services consume each topic Zicht's services publish to each other."""

_IN_FLIGHT_ALERTS: Final = ("pending", "retrying")


@dataclass(frozen=True, slots=True)
class Flow:
    """One service's answer to ``GET /v1/ops/flow``."""

    service: str
    consumed: Mapping[str, int]
    produced: Mapping[str, Mapping[str, int]]
    dead_letters: Mapping[str, int]
    backlog: int
    counts: Mapping[str, Any]

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Flow:
        """Read an answer of ``GET /v1/ops/flow``."""
        return cls(
            service=str(body["service"]),
            consumed=dict(body.get("consumed", {})),
            produced=dict(body.get("produced", {})),
            dead_letters=dict(body.get("dead_letters", {})),
            backlog=int(body.get("backlog", 0)),
            counts=dict(body.get("counts", {})),
        )

    def sent(self, topic: str) -> int:
        """Events on ``topic`` this service wrote and the relay sent."""
        return int(self.produced.get(topic, {}).get("sent", 0))

    def unsent(self, topic: str) -> int:
        """Events on ``topic`` this service wrote that wait in its outbox."""
        found = self.produced.get(topic, {})
        return int(found.get("written", 0)) - int(found.get("sent", 0))


@dataclass(frozen=True, slots=True)
class Check:
    """One comparison, and whether it held."""

    what: str
    ok: bool
    detail: str


def _problem(what: str, detail: str) -> Check:
    return Check(what, ok=False, detail=detail)


def _total(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(_total(v) for v in value.values())
    return int(value) if isinstance(value, int) else 0


@dataclass
class Reconciliation:
    """Every check made, and the totals of the period."""

    checks: list[Check] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    alerts_per_recipient: dict[str, dict[str, int]] = field(default_factory=dict)
    """Notify's alerts of the period per recipient (``kind:id``), by state."""

    @property
    def ok(self) -> bool:
        """Whether every check held."""
        return all(check.ok for check in self.checks)

    @property
    def problems(self) -> list[Check]:
        """The checks that did not hold."""
        return [check for check in self.checks if not check.ok]

    def line(self) -> str:
        """The whole reconciliation in one line."""
        t = self.totals
        verdict = "reconciles" if self.ok else f"{len(self.problems)} problem(s)"
        return (
            f"reconciliation: submissions {t.get('submissions', 0)}, signals "
            f"{t.get('signals', 0)}, assessed {t.get('assessed', 0)}, risk changes "
            f"{t.get('risk_changes', 0)}, alerts {t.get('alerts', 0)} (delivered "
            f"{t.get('delivered', 0)}, failed {t.get('failed', 0)}, undeliverable "
            f"{t.get('undeliverable', 0)}, in flight {t.get('in_flight', 0)}), dead letters "
            f"{t.get('dead_letters', 0)}: {verdict}"
        )

    def report(self) -> str:
        """The checks, one a line, problems marked; alerts per recipient; then the line."""
        lines = [f"{'ok ' if c.ok else 'NOT'} {c.what}: {c.detail}" for c in self.checks]
        lines += [
            f"    alerts to {recipient}: {_pairs(states)}"
            for recipient, states in sorted(self.alerts_per_recipient.items())
        ]
        return "\n".join([*lines, self.line()])


def reconcile(flows: Mapping[str, Flow]) -> Reconciliation:
    """Check the four services' flows of one period against each other.

    Args:
        flows: Each service's flow, by service name; a missing service is a problem.

    Returns:
        The checks and totals.
    """
    result = Reconciliation()
    checks = result.checks
    missing = [name for name in SERVICES if name not in flows]
    if missing:
        checks.append(_problem("services", f"no answer from {', '.join(missing)}"))
    producers = {
        topic: name for name, flow in flows.items() for topic in flow.produced if topic in CONSUMERS
    }
    for topic, consumers in CONSUMERS.items():
        producer = producers.get(topic)
        sent = flows[producer].sent(topic) if producer else 0
        for consumer in consumers:
            if consumer not in flows:
                continue
            taken = int(flows[consumer].consumed.get(topic, 0))
            checks.append(
                Check(
                    f"{topic} -> {consumer}",
                    taken == sent,
                    f"{producer or 'nobody'} sent {sent}, {consumer} took in {taken}",
                )
            )
    for name, flow in flows.items():
        waiting = {t: flow.unsent(t) for t in flow.produced if flow.unsent(t) > 0}
        if waiting:
            checks.append(
                _problem(f"{name} outbox", f"still to send: {_pairs(waiting)} (in flight)")
            )
        if flow.dead_letters:
            checks.append(
                _problem(f"{name} dead letters", f"dead-lettered: {_pairs(flow.dead_letters)}")
            )
    _business(flows, result)
    return result


def _business(flows: Mapping[str, Flow], result: Reconciliation) -> None:
    checks, totals = result.checks, result.totals
    intake, triage = flows.get("intake"), flows.get("triage")
    scoring, notify = flows.get("scoring"), flows.get("notify")
    if intake is not None:
        totals["submissions"] = _total(intake.counts.get("submissions", {}))
        totals["signals"] = _total(intake.counts.get("signals", {}))
        # A signal part is accepted once its provider is known, and its event written then.
        accepted = int(intake.counts.get("signal_parts", {}).get("accepted", 0))
        written = int(intake.produced.get(topics.SIGNAL_RECEIVED, {}).get("written", 0))
        checks.append(
            Check(
                "intake signals",
                accepted == written,
                f"{accepted} parts accepted, {written} signal events written",
            )
        )
        waiting = int(intake.counts.get("items", {}).get("needs_provider", 0))
        if waiting:
            checks.append(
                _problem("intake needs provider", f"{waiting} signals wait for a provider")
            )
    if triage is not None:
        assessed = _total(triage.counts.get("assessed", {}))
        totals["assessed"] = assessed
        taken = int(triage.consumed.get(topics.SIGNAL_RECEIVED, 0))
        dead = int(triage.dead_letters.get(topics.SIGNAL_RECEIVED, 0))
        checks.append(
            Check(
                "triage assessed",
                assessed == taken - dead,
                f"took in {taken} signals, dead-lettered {dead}, assessed {assessed}",
            )
        )
    if scoring is not None:
        totals["risk_changes"] = _total(scoring.counts.get("risk_changes", {}))
    if notify is not None:
        alerts: Mapping[str, int] = notify.counts.get("alerts", {})
        result.alerts_per_recipient = {
            str(recipient): {str(state): int(n) for state, n in states.items()}
            for recipient, states in notify.counts.get("alerts_per_recipient", {}).items()
        }
        totals["alerts"] = _total(alerts)
        totals["delivered"] = int(alerts.get("delivered", 0))
        totals["failed"] = int(alerts.get("failed", 0))
        totals["undeliverable"] = int(alerts.get("undeliverable", 0))
        totals["in_flight"] = sum(int(alerts.get(s, 0)) for s in _IN_FLIGHT_ALERTS)
        # An alert for a recipient without a subscription is recorded as undeliverable (and
        # published as AlertFailed): an end, not a loss. Failed and in flight are not ends.
        checks.append(
            Check(
                "notify alerts",
                totals["alerts"] == totals["delivered"] + totals["undeliverable"],
                f"made {totals['alerts']}, delivered {totals['delivered']}, failed "
                f"{totals['failed']}, undeliverable {totals['undeliverable']} (no "
                f"subscription), in flight {totals['in_flight']}",
            )
        )
    totals["dead_letters"] = sum(_total(f.dead_letters) for f in flows.values())


def _pairs(values: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items()))


async def fetch_flows(
    endpoints: Mapping[str, str],
    keys: Mapping[str, str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    timeout_s: float = 10.0,
) -> tuple[dict[str, Flow], dict[str, str]]:
    """Ask each service for its flow.

    Returns:
        The flows of those that answered, and for the others why not, by service name.
    """
    params = {k: v.isoformat() for k, v in (("since", since), ("until", until)) if v}
    flows: dict[str, Flow] = {}
    errors: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=timeout_s) as client:

        async def one(name: str) -> None:
            try:
                answer = await client.get(
                    f"{endpoints[name].rstrip('/')}/v1/ops/flow",
                    params=params,
                    headers={"Authorization": f"Bearer {keys.get(name, '')}"},
                )
            except httpx.HTTPError as exc:
                errors[name] = f"not reachable ({type(exc).__name__})"
                return
            if answer.status_code != 200:  # noqa: PLR2004 - HTTP OK
                errors[name] = f"answered {answer.status_code}: {answer.text[:200]}"
                return
            flows[name] = Flow.from_json(answer.json())

        await asyncio.gather(*(one(name) for name in endpoints))
    return flows, errors


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m zicht_devtools.reconcile",
        description="Check that the four services' counts of a period add up.",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(".zicht"),
        help="the run command's data directory; its operator-keys.json is used (default .zicht)",
    )  # fmt: skip
    parser.add_argument(
        "--keys", type=Path, default=None,
        help='a JSON file {"intake": key, "triage": key, ...} of operator keys',
    )  # fmt: skip
    parser.add_argument(
        "--http-port-base", type=int, default=8000,
        help="the services listen on base+1..4, as the run command starts them (default 8000)",
    )  # fmt: skip
    for name in SERVICES:
        parser.add_argument(f"--{name}", metavar="URL", help=f"{name}'s URL (overrides the port)")
    parser.add_argument("--since", type=datetime.fromisoformat, help="start, RFC 3339")
    parser.add_argument("--until", type=datetime.fromisoformat, help="end, RFC 3339")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Reconcile; exit 0 when it adds up, 1 when not, 2 when a service could not be asked."""
    args = _parser().parse_args(argv)
    keys_file = args.keys or args.data_dir / "operator-keys.json"
    try:
        keys = json.loads(keys_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"reconcile: cannot read the operator keys in {keys_file}: {exc}", file=sys.stderr)
        return 2
    endpoints = {
        name: getattr(args, name) or f"http://127.0.0.1:{args.http_port_base + offset}"
        for offset, name in enumerate(SERVICES, start=1)
    }
    for moment in (args.since, args.until):
        if moment is not None and moment.tzinfo is None:
            print("reconcile: give --since and --until with their UTC offset", file=sys.stderr)
            return 2
    flows, errors = asyncio.run(fetch_flows(endpoints, keys, since=args.since, until=args.until))
    for name, why in sorted(errors.items()):
        print(f"reconcile: {name} at {endpoints[name]}: {why}", file=sys.stderr)
    result = reconcile(flows)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": result.ok,
                    "totals": result.totals,
                    "alerts_per_recipient": result.alerts_per_recipient,
                    "checks": [
                        {"what": c.what, "ok": c.ok, "detail": c.detail} for c in result.checks
                    ],
                },
                indent=2,
            )
        )
    else:
        print(result.report())
    if errors:
        return 2
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
