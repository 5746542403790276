"""Reconciling what partners submitted with what subscribers received, independently of notify.

The expected alerts are computed here from the events on the topics with notify's *pure*
routing (:func:`zicht_notify.domain.route` under the shipped policy) and the registry's
relations, restricted to the parties that subscribe. Falls follow the policy's wording: a fall
goes to everyone whose last word about the provider was a higher level (told of a rise and not
yet told it fell that far). What arrived is what the webhook receiver accepted, keyed by the
alert's source event and recipient as its body says.

The counts, for one scenario (its submissions and its providers):

- submitted: signals in submissions intake acknowledged (202, or 200 for a repeat);
- assessed: those signals with an assessment on ``triage.signal-assessed.v1``;
- alerts expected: (source event, recipient) pairs routing gives a subscriber;
- alerts delivered: of those, the pairs with a webhook accepted (2xx) by the receiver;
- duplicates: extra webhook-ids for one (source event, recipient), plus extra assessments of
  one signal (each would be a second alert about the same signal): what a receiver that
  deduplicates by ``webhook-id``, as Standard Webhooks asks, would still see twice;
- lost: expected pairs never delivered;
- redelivered: webhook-ids accepted more than once (the same alert sent again, as delivery at
  least once allows when notify could not record the receiver's answer); a receiver that
  deduplicates by ``webhook-id`` sees each once. Only a database fault under notify may cause
  them; every other scenario asserts none.

The services' own account of the period (``python -m zicht_devtools.reconcile``, the
operators' command) is taken too, and must agree: see :class:`OperatorReport`.

Alerts that arrived but were not expected, or at another subscriber's path, are counted too
(``unexpected``, ``misrouted``); a clean run has none.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from pydantic import BaseModel

from support.webhooks import Receiver
from zicht_notify.domain import ProviderRelations, Recipient, default_routing, route
from zicht_schemas import (
    CloudEvent,
    InvalidEventError,
    ProviderRegisteredV1,
    ProviderRiskChangedV1,
    RiskLevel,
    SignalAssessedV1,
    SignalReceivedV1,
    SubscriberKind,
    from_kafka_record,
    topics,
)

__all__ = [
    "Delivery",
    "Reconciliation",
    "Submitted",
    "TopicLog",
    "TopicState",
    "deliveries",
    "partitions_of",
    "read_topic",
    "read_topics",
    "reconcile",
    "summary",
    "used_topics",
]

ModelT = TypeVar("ModelT", bound=BaseModel)
_RANK = {RiskLevel.GREEN: 0, RiskLevel.ORANGE: 1, RiskLevel.RED: 2}

Key = tuple[str, Recipient]
"""An alert's identity: its source event id and its recipient."""


@dataclass(frozen=True)
class Submitted:
    """A submission intake acknowledged, as the partner recorded it."""

    scenario: str
    submission_id: str
    reference: str
    kind: str
    signals: int
    """How many signals it carries that intake accepted (one for JSON, good rows for CSV)."""
    status: int


@dataclass(frozen=True)
class Delivery:
    """One webhook the receiver answered, with what its body says."""

    path: str
    webhook_id: str
    status: int
    source_event_id: str
    recipient: Recipient
    provider_id: str
    data: dict[str, Any] = field(compare=False, repr=False)
    """The alert (the webhook's CloudEvent ``data``)."""

    @property
    def accepted(self) -> bool:
        """Answered with a 2xx: the receiver took it."""
        return 200 <= self.status < 300


def deliveries(receiver: Receiver, start: int = 0) -> list[Delivery]:
    """The alert attempts the receiver answered, from the ``start``-th on (verification
    deliveries are not alerts)."""
    found = []
    # The receiver appends to `received` and `answered` in the same handler, in step.
    for (path, headers, body), (_, webhook_id, status) in zip(
        receiver.received[start:], receiver.answered[start:], strict=True
    ):
        assert headers["webhook-id"] == webhook_id
        data = json.loads(body)["data"]
        recipient = Recipient(SubscriberKind(data["recipient"]["kind"]), data["recipient"]["id"])
        found.append(
            Delivery(
                path=path,
                webhook_id=webhook_id,
                status=status,
                source_event_id=str(data["source_event_id"]),
                recipient=recipient,
                provider_id=data["provider"]["provider_id"],
                data=data,
            )
        )
    return found


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic`` (none when it does not exist), asking the broker if need be."""
    if consumer.partitions_for_topic(topic) is None:
        await consumer.topics()  # a metadata request for every topic
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def read_topic(
    bootstrap: str, topic: str, model: type[ModelT]
) -> list[tuple[CloudEvent[ModelT], int]]:
    """Every valid event on ``topic`` up to its end now, with its partition; poison skipped.

    Events of one partition come in offset order (the order their producer meant).
    """
    found = await read_topics(bootstrap, [topic], model)
    return found[topic]


async def read_topics(
    bootstrap: str, names: Sequence[str], model: type[ModelT]
) -> dict[str, list[tuple[CloudEvent[ModelT], int]]]:
    """:func:`read_topic` for several topics of one event type, with one consumer."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
    )
    await consumer.start()
    found: dict[str, list[tuple[CloudEvent[ModelT], int]]] = {name: [] for name in names}
    try:
        partitions = []
        for name in names:
            partitions += await partitions_of(consumer, name)
        if not partitions:
            return found
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        waiting = {tp for tp in partitions if ends[tp] > 0}
        while waiting:
            batches = await consumer.getmany(*waiting, timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    try:
                        event = from_kafka_record(record.value or b"", record.headers, model)
                    except InvalidEventError:
                        continue  # a poison message a fault test put there
                    found[tp.topic].append((event, tp.partition))
            for tp in list(waiting):
                if await consumer.position(tp) >= ends[tp]:
                    waiting.discard(tp)
    finally:
        await consumer.stop()
    return found


async def used_topics(bootstrap: str, names: Iterable[str]) -> set[str]:
    """Which of these topics hold at least one record."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = []
        for name in names:
            partitions += await partitions_of(consumer, name)
        ends = await consumer.end_offsets(partitions) if partitions else {}
        return {tp.topic for tp, end in ends.items() if end > 0}
    finally:
        await consumer.stop()


@dataclass
class TopicState:
    """What the topics hold now: the registry, signals, assessments and risk changes."""

    registered: dict[str, ProviderRegisteredV1]
    received: list[CloudEvent[SignalReceivedV1]]
    assessed: list[CloudEvent[SignalAssessedV1]]
    risk: list[CloudEvent[ProviderRiskChangedV1]]


_FOLLOWED: Final[Mapping[str, type[BaseModel]]] = {
    topics.PROVIDER_REGISTERED: ProviderRegisteredV1,
    topics.SIGNAL_RECEIVED: SignalReceivedV1,
    topics.SIGNAL_ASSESSED: SignalAssessedV1,
    topics.PROVIDER_RISK_CHANGED: ProviderRiskChangedV1,
}


class TopicLog:
    """The four topics reconciliation needs, read once and then followed as they grow.

    Reading every topic from its start on each poll would cost the test process (which also
    runs the webhook receiver) more and more CPU as a run goes on; this keeps one consumer and
    what it decoded so far.
    """

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._events: dict[str, list[CloudEvent[Any]]] = {topic: [] for topic in _FOLLOWED}
        self._seen: set[tuple[str, str]] = set()

    async def _start(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        await consumer.start()
        self._partitions = [
            tp for topic in _FOLLOWED for tp in await partitions_of(consumer, topic)
        ]
        consumer.assign(self._partitions)
        await consumer.seek_to_beginning(*self._partitions)
        self._consumer = consumer
        return consumer

    async def close(self) -> None:
        """Stop the consumer."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def state(self) -> TopicState:
        """Read what was added since the last call; what the topics hold now."""
        consumer = self._consumer or await self._start()
        ends = await consumer.end_offsets(self._partitions)
        waiting = {tp for tp in self._partitions if await consumer.position(tp) < ends[tp]}
        while waiting:
            batches = await consumer.getmany(*waiting, timeout_ms=500)
            for tp, records in batches.items():
                model = _FOLLOWED[tp.topic]
                for record in records:
                    try:
                        event = from_kafka_record(record.value or b"", record.headers, model)
                    except InvalidEventError:
                        continue  # a poison message a fault test put there
                    # Once per CloudEvent id: a relay may publish a row twice (at-least-once).
                    if (tp.topic, event.id) not in self._seen:
                        self._seen.add((tp.topic, event.id))
                        self._events[tp.topic].append(event)
            for tp in list(waiting):
                if await consumer.position(tp) >= ends[tp]:
                    waiting.discard(tp)
        registered: dict[str, ProviderRegisteredV1] = {}
        for entry in self._events[topics.PROVIDER_REGISTERED]:
            data: ProviderRegisteredV1 = entry.data
            known = registered.get(data.provider_id)
            if known is None or known.registry_version <= data.registry_version:
                registered[data.provider_id] = data
        return TopicState(
            registered=registered,
            received=list(self._events[topics.SIGNAL_RECEIVED]),
            assessed=list(self._events[topics.SIGNAL_ASSESSED]),
            risk=list(self._events[topics.PROVIDER_RISK_CHANGED]),
        )


@dataclass
class Reconciliation:
    """The counts of one scenario, and the details behind them."""

    scenario: str
    submitted: int
    assessed: int
    expected: int
    delivered: int
    duplicates: int
    lost: int
    redelivered: int = 0
    operator: OperatorReport | None = None
    """What the operators' reconciliation command said of the scenario's period."""
    unexpected: int = 0
    misrouted: int = 0
    risk_changes: int = 0
    broken_risk_chains: list[str] = field(default_factory=list)
    lost_alerts: list[str] = field(default_factory=list)
    repeated_webhooks: list[str] = field(default_factory=list)
    """Webhook-ids the receiver accepted more than once."""
    twice_alerted: list[str] = field(default_factory=list)
    """(source event, recipient) pairs that reached the receiver under two webhook-ids."""
    twice_assessed: list[str] = field(default_factory=list)
    """Signals with more than one assessment event."""
    unassessed: list[str] = field(default_factory=list)
    expected_keys: set[Key] = field(default_factory=set)
    delivered_by_path: dict[str, list[Delivery]] = field(default_factory=dict)

    def line(self) -> str:
        """The reconciliation line every fault test prints."""
        return (
            f"reconciliation {self.scenario}: submitted {self.submitted}, assessed "
            f"{self.assessed}, alerts expected {self.expected}, alerts delivered "
            f"{self.delivered}, duplicates {self.duplicates}, lost {self.lost}, redelivered "
            f"(same webhook-id) {self.redelivered}"
        )

    def details(self) -> str:
        """What else was counted, for the test's output."""
        parts = [
            f"risk changes {self.risk_changes}",
            f"unexpected {self.unexpected}",
            f"misrouted {self.misrouted}",
        ]
        if self.unassessed:
            parts.append(f"unassessed signals {self.unassessed[:5]}")
        if self.lost_alerts:
            parts.append(f"lost {self.lost_alerts[:5]}")
        if self.repeated_webhooks:
            parts.append(f"webhook-ids accepted again {self.repeated_webhooks[:5]}")
        if self.twice_alerted:
            parts.append(f"alerted under two webhook-ids {self.twice_alerted[:5]}")
        if self.twice_assessed:
            parts.append(f"signals assessed twice {self.twice_assessed[:5]}")
        if self.broken_risk_chains:
            parts.append(f"risk chains broken {self.broken_risk_chains[:5]}")
        said = f"\n  operators' command: {self.operator.line}" if self.operator else ""
        return f"  ({', '.join(parts)}){said}"

    def assert_clean(self, *, operators: bool = True) -> None:
        """Nothing lost, nothing duplicated, nothing sent where it should not go; and the
        operators' command agrees (unless ``operators`` is false: the test asks it later)."""
        assert self.submitted > 0, "nothing was submitted"
        assert self.assessed == self.submitted, self.details()
        assert self.duplicates == 0, self.details()
        assert self.lost == 0, self.details()
        assert self.redelivered == 0, self.details()
        assert self.unexpected == 0, self.details()
        assert self.misrouted == 0, self.details()
        assert not self.broken_risk_chains, self.details()
        if operators:
            self.assert_operators_agree()

    def assert_operators_agree(
        self, *, dead_letters: int = 0, poisoned: Iterable[str] = ()
    ) -> None:
        """The operators' command reconciles the period and counts what this count counts.

        Args:
            dead_letters: How many dead letters the scenario made on purpose; the command
                flags them, and nothing else may be flagged.
            poisoned: Topics the scenario wrote poison to itself: their consumers took in
                more than any service sent, which the command flags too.
        """
        report = self.operator
        assert report is not None, "the operators' command was not asked"
        allowed = tuple(f"{topic} -> " for topic in poisoned)

        def expected(problem: str) -> bool:
            if dead_letters and " dead letters: " in problem:
                return True
            return bool(allowed) and problem.startswith(allowed)

        flagged = [p for p in report.problems if not expected(p)]
        assert not flagged, f"the operators' command flags {flagged}\n{report.text}"
        assert report.totals.get("dead_letters", 0) == dead_letters, report.text
        # The period holds this scenario alone: the services count what the topics showed.
        assert report.totals.get("signals") == self.submitted, report.text
        assert report.totals.get("assessed") == self.assessed, report.text
        assert report.totals.get("risk_changes") == self.risk_changes, report.text
        delivered = report.totals.get("delivered", 0)
        assert delivered == self.delivered + self.unexpected, report.text


@dataclass(frozen=True)
class OperatorReport:
    """The answer of ``python -m zicht_devtools.reconcile --json`` for a scenario's period."""

    ok: bool
    totals: Mapping[str, int]
    problems: list[str]
    line: str
    text: str

    @classmethod
    def from_command(cls, answer: Mapping[str, Any], text: str) -> OperatorReport:
        """Read the command's JSON answer (``text`` is the whole output, for messages)."""
        checks = answer.get("checks", [])
        problems = [f"{c['what']}: {c['detail']}" for c in checks if not c["ok"]]
        totals = {str(k): int(v) for k, v in answer.get("totals", {}).items()}
        verdict = "reconciles" if answer.get("ok") else f"{len(problems)} problem(s)"
        line = ", ".join(f"{k} {v}" for k, v in totals.items()) + f": {verdict}"
        return cls(bool(answer.get("ok")), totals, problems, line, text)


def reconcile(  # noqa: PLR0917  # what one scenario's count needs, in the order it is read
    scenario: str,
    submitted: Sequence[Submitted],
    providers: Iterable[str],
    state: TopicState,
    attempts: Sequence[Delivery],
    subscribed: Mapping[Recipient, str],
) -> Reconciliation:
    """Count one scenario: its submissions, and everything about its providers.

    Args:
        scenario: The scenario's name, for the line.
        submitted: The submissions intake acknowledged in the scenario.
        providers: The provider ids the scenario is about.
        state: What the topics hold.
        attempts: Every webhook the receiver answered.
        subscribed: The parties that subscribe, with the receiver path of each.
    """
    own = set(providers)
    submission_ids = {s.submission_id for s in submitted}
    signals = {
        str(e.data.signal_id) for e in state.received if str(e.data.submission_id) in submission_ids
    }
    policy = default_routing()
    relations = {
        pid: ProviderRelations.from_event(event)
        for pid, event in state.registered.items()
        if pid in own
    }
    expected: set[Key] = set()
    assessments: dict[str, set[str]] = defaultdict(set)
    for event in state.assessed:
        if str(event.data.signal_id) not in signals:
            continue
        assessments[str(event.data.signal_id)].add(event.id)
        for r in route(event.data, relations.get(event.data.provider_id), policy):
            expected.add((event.id, r.recipient))
    risk_events = [e for e in state.risk if e.data.provider_id in own]
    expected |= _risk_alerts(risk_events, relations)
    broken = _broken_chains(risk_events)
    expected = {key for key in expected if key[1] in subscribed}
    sources = {source for source, _ in expected} | {e.id for e in risk_events}
    sources |= {event_id for ids in assessments.values() for event_id in ids}

    mine = [a for a in attempts if a.accepted and a.source_event_id in sources]
    per_webhook = Counter(a.webhook_id for a in mine)
    per_key: dict[Key, set[str]] = defaultdict(set)
    for a in mine:
        per_key[(a.source_event_id, a.recipient)].add(a.webhook_id)
    delivered_keys = set(per_key)
    duplicates = sum(len(ids) - 1 for ids in per_key.values())
    duplicates += sum(len(ids) - 1 for ids in assessments.values())
    lost = expected - delivered_keys
    by_path: dict[str, list[Delivery]] = defaultdict(list)
    for a in mine:
        by_path[a.path].append(a)
    return Reconciliation(
        scenario=scenario,
        submitted=sum(s.signals for s in submitted),
        assessed=len(assessments),
        expected=len(expected),
        delivered=len(expected & delivered_keys),
        duplicates=duplicates,
        lost=len(lost),
        redelivered=sum(n - 1 for n in per_webhook.values()),
        unexpected=len(delivered_keys - expected),
        misrouted=sum(1 for a in mine if subscribed.get(a.recipient) != a.path),
        risk_changes=len(risk_events),
        broken_risk_chains=broken,
        lost_alerts=sorted(f"{source[:8]}->{r.id}" for source, r in lost),
        repeated_webhooks=sorted(w for w, n in per_webhook.items() if n > 1),
        twice_alerted=sorted(
            f"{k[0][:8]}->{k[1].id}" for k, ids in per_key.items() if len(ids) > 1
        ),
        twice_assessed=sorted(s for s, ids in assessments.items() if len(ids) > 1),
        unassessed=sorted(signals - set(assessments)),
        expected_keys=expected,
        delivered_by_path=dict(by_path),
    )


def _risk_alerts(
    events: Sequence[CloudEvent[ProviderRiskChangedV1]],
    relations: Mapping[str, ProviderRelations],
) -> set[Key]:
    """The alerts of risk changes, provider by provider in the order scoring published them.

    Each party's *picture* is the last level it was told; a fall is routed to the parties
    whose picture is above the new level (``told_of_rise``), who then hold the new level.
    """
    policy = default_routing()
    pictures: dict[str, dict[Recipient, RiskLevel]] = defaultdict(dict)
    found: set[Key] = set()
    for event in events:
        data = event.data
        picture = pictures[data.provider_id]
        told = frozenset(r for r, level in picture.items() if _RANK[level] > _RANK[data.level])
        routes = route(data, relations.get(data.provider_id), policy, told)
        for r in routes:
            found.add((event.id, r.recipient))
            picture[r.recipient] = data.level
    return found


def _broken_chains(events: Sequence[CloudEvent[ProviderRiskChangedV1]]) -> list[str]:
    """Providers whose risk changes do not follow each other (one lost or one twice)."""
    last: dict[str, RiskLevel] = {}
    broken = []
    for event in events:
        data = event.data
        before = last.get(data.provider_id)
        if data.previous_level != before:
            broken.append(f"{data.provider_id}: {before} then {data.previous_level}->{data.level}")
        last[data.provider_id] = data.level
    return broken


def summary(by_path: Mapping[str, Sequence[Delivery]]) -> dict[str, int]:
    """How many distinct alerts each receiver path accepted."""
    return {path: len({d.webhook_id for d in found}) for path, found in by_path.items()}
