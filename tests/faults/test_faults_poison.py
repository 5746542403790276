"""Poison on every input topic of every service: dead-lettered once per consumer, and the chain
goes on.

Two poison records go to each topic a service consumes: one whose value is not JSON, one that
is JSON of the wrong shape; both carry the CloudEvent headers of a real event of that topic
(copied, with a new id), so only the payload is at fault. Every service that consumes the
topic must send each of them to ``<topic>.dlq`` exactly once, with its reason, count it in its
``dead_letters`` table, and go on with the events behind it: a stream of signals sent around
the poison must reconcile.

The partner topics are different by design (docs/partners): a partner's unreadable message is
a refused submission, published as ``intake.signal-rejected.v1`` for the partner to see, not a
dead letter; that is what is checked there.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Final

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from faults.chain import Chain, eventually
from faults.reconcile import partitions_of, read_topic, read_topics, used_topics
from faults.synthetic import SignalMix
from zicht_schemas import DeadLetteredV1, SignalRejectedV1, dead_letter_topic, topics

# Service restarts and waits for a quiet chain take a while on two shared cores.
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(600)]

CONSUMERS: Final[Mapping[str, tuple[str, ...]]] = {
    topics.PROVIDER_REGISTERED: ("triage", "scoring", "notify"),
    topics.SIGNAL_RECEIVED: ("triage",),
    topics.INDICATORS_REPORTED: ("scoring",),
    topics.SIGNAL_ASSESSED: ("intake", "scoring", "notify"),
    topics.INVESTIGATION_CHANGED: ("intake", "scoring"),
    topics.PROVIDER_RISK_CHANGED: ("notify",),
}
"""Every CloudEvent topic a service consumes, and the services that consume it."""

PARTNER_POISON: Final[Mapping[str, tuple[bytes, bytes]]] = {
    topics.PARTNER_IGJ: (b"\xff{ not json", b'{"zaaknummer": 17, "onbekend": true}'),
    topics.PARTNER_POLICE: (b"\xff{ not json", b'{"registrationNumber": [], "x": 1}'),
    topics.PARTNER_ACCESS_TEAM: (b"\xff\xfe\x00 not utf-8", b"kenmerk;onbekende kolom\r\nA;B\r\n"),
}
"""Per partner topic: an unreadable value and one of the wrong shape."""

KAFKA_PARTNERS: Final = {"igj", "police", "access-team-kafka"}
"""Intake's partner ids of records on the partner topics (its settings' defaults)."""


async def _headers_of_a_real_event(bootstrap: str, topic: str) -> list[tuple[str, bytes]]:
    """The headers of an event on ``topic``, with a fresh ``ce_id``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await partitions_of(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    headers = dict(record.headers)
                    if "ce_type" in headers:
                        headers["ce_id"] = str(uuid.uuid4()).encode()
                        return list(headers.items())
    finally:
        await consumer.stop()
    pytest.fail(f"no event on {topic} to borrow headers from")


async def test_poison_on_every_input_topic_is_dead_lettered_and_the_chain_goes_on(
    chain: Chain,
) -> None:
    providers = chain.take(2)
    # Traffic on every input topic first, so each has a real event to borrow headers from.
    await chain.report_indicators(
        providers[0].provider_id,
        {"source": "contract_management", "period_end": "2026-01-01",
         "values": {"governance_changes_3y": 2}},
    )  # fmt: skip
    mix = SignalMix(providers, seed=41, start=950_000)
    async with chain.stream("poison", mix, rate=5.0):
        await chain.flowing(providers)

        async def every_topic_used() -> bool:
            return await used_topics(chain.bootstrap, CONSUMERS) == set(CONSUMERS)

        await eventually(every_topic_used, within=90, what="events on every input topic")
        poison: dict[str, list[tuple[int, int]]] = {}
        producer = AIOKafkaProducer(bootstrap_servers=chain.bootstrap)
        await producer.start()
        try:
            for topic in CONSUMERS:
                headers = await _headers_of_a_real_event(chain.bootstrap, topic)
                for value in (b"\x00\xff not json at all", b'{"this": "is not the schema"}'):
                    sent = await producer.send_and_wait(
                        topic, value, key=b"poison", headers=headers
                    )
                    poison.setdefault(topic, []).append((sent.partition, sent.offset))
            for topic, values in PARTNER_POISON.items():
                for value in values:
                    await producer.send_and_wait(topic, value, key=b"poison")
        finally:
            await producer.stop()
        await asyncio.sleep(3.0)  # the stream goes on behind the poison

    result = await chain.reconcile("poison", [p.provider_id for p in providers])
    result.assert_clean(operators=False)  # asked again once every poison record is dealt with

    expected = {
        (service, topic, partition, offset)
        for topic, places in poison.items()
        for partition, offset in places
        for service in CONSUMERS[topic]
    }

    async def all_dead_lettered() -> bool:
        return expected <= await _dead_letters(chain)

    await eventually(all_dead_lettered, within=90, what="every poison record dead-lettered")
    # Exactly these: each poison record once per consuming service, and no valid event.
    assert await _dead_letters(chain) == expected
    for service in ("intake", "triage", "scoring", "notify"):
        counted = await chain.sql(service, "SELECT count(*) FROM dead_letters")
        assert counted == sum(1 for e in expected if e[0] == service), service
    for event, _ in await read_topic(
        chain.bootstrap, dead_letter_topic(topics.SIGNAL_ASSESSED), DeadLetteredV1
    ):
        assert event.data.reason
        assert event.data.error_type
        assert event.data.consumer_group.startswith(f"zicht-{event.data.service}")
    print(f"dead letters: {len(expected)} (each of {sum(map(len, poison.values()))} poison "
          f"records once per consuming service)")  # fmt: skip
    # The operators' command flags exactly those dead letters, and the topics they came on.
    result.operator = await chain.operator_report()
    print(f"  operators' command: {result.operator.line}")
    result.assert_operators_agree(dead_letters=len(expected), poisoned=CONSUMERS)
    assert all(
        p.startswith(tuple(f"{t} -> " for t in CONSUMERS)) or " dead letters: " in p
        for p in result.operator.problems
    ), result.operator.text

    # Partner topics: each unreadable message is a refused submission the partner can see.
    async def refused() -> bool:
        found = await read_topic(chain.bootstrap, topics.SIGNAL_REJECTED, SignalRejectedV1)
        return len([e for e, _ in found if e.data.partner_id in KAFKA_PARTNERS]) >= 6

    await eventually(refused, within=90, what="the partner topics' poison to be refused")
    rejected = await read_topic(chain.bootstrap, topics.SIGNAL_REJECTED, SignalRejectedV1)
    by_partner = sorted(
        e.data.partner_id for e, _ in rejected if e.data.partner_id in KAFKA_PARTNERS
    )
    assert by_partner == sorted([*KAFKA_PARTNERS] * 2)
    partner_dlqs = [dead_letter_topic(topic) for topic in PARTNER_POISON]
    assert not await used_topics(chain.bootstrap, partner_dlqs)


async def _dead_letters(chain: Chain) -> set[tuple[str, str, int, int]]:
    dlqs = [dead_letter_topic(topic) for topic in CONSUMERS]
    found = set()
    for events in (await read_topics(chain.bootstrap, dlqs, DeadLetteredV1)).values():
        for event, _ in events:
            data = event.data
            found.add((data.service, data.original_topic, data.original_partition,
                       data.original_offset))  # fmt: skip
    return found
