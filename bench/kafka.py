"""Kafka helpers of the benchmarks: produce partner records, and read progress from offsets.

Progress is read from the broker, not from the services: a consumer group's committed
offsets say how many records it has finished (the kit commits only after the transaction
that stored their effect), and a topic's end offsets say how many were published. Both are
cheap to ask for once a second, whatever the size of the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from zicht_demo.signals import Submission, SubmissionKind
from zicht_schemas import topics

__all__ = ["Offsets", "PartnerProducer", "group_of", "partner_topic"]

_PARTNER_TOPICS: Final[Mapping[SubmissionKind, str]] = {
    SubmissionKind.IGJ: topics.PARTNER_IGJ,
    SubmissionKind.POLICE: topics.PARTNER_POLICE,
}


def partner_topic(submission: Submission) -> str:
    """The partner topic a submission goes to."""
    return _PARTNER_TOPICS[submission.kind]


def group_of(service: str) -> str:
    """The consumer group a service reads all its topics with (the kit's naming)."""
    return f"zicht-{service}"


class PartnerProducer:
    """Publishes partner bodies as the partners would: key = their reference, JSON header."""

    def __init__(self, bootstrap: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, linger_ms=5, acks="all", max_batch_size=256 * 1024
        )
        self.sent = 0

    async def start(self) -> None:
        """Connect."""
        await self._producer.start()

    async def stop(self) -> None:
        """Flush and disconnect."""
        await self._producer.stop()

    async def send(self, submissions: Sequence[Submission]) -> None:
        """Send a batch and wait until the broker has all of it."""
        futures = [
            await self._producer.send(
                partner_topic(s),
                s.body,
                key=s.reference.encode(),
                headers=[("content-type", s.content_type.encode())],
            )
            for s in submissions
        ]
        await asyncio.gather(*futures)
        self.sent += len(submissions)


class Offsets:
    """Committed offsets of consumer groups and end offsets of topics, summed over partitions.

    A group's committed offsets are read by a consumer of that group that never subscribes
    (so it never joins the group or moves its partitions); the admin client's offset fetch is
    not understood by the local broker.
    """

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._readers: dict[str, AIOKafkaConsumer] = {}
        self._partitions: dict[str, list[TopicPartition]] = {}

    async def start(self) -> None:
        """Connect."""
        await self._consumer.start()

    async def stop(self) -> None:
        """Disconnect."""
        for reader in self._readers.values():
            await reader.stop()
        self._readers.clear()
        await self._consumer.stop()

    async def _partitions_of(self, topic: str) -> list[TopicPartition]:
        partitions = self._partitions.get(topic)
        if partitions is None:
            numbers = self._consumer.partitions_for_topic(topic)
            if not numbers:
                await self._consumer._client.force_metadata_update()
                numbers = self._consumer.partitions_for_topic(topic) or set()
            partitions = [TopicPartition(topic, n) for n in sorted(numbers)]
            if partitions:
                self._partitions[topic] = partitions
        return partitions

    async def committed(self, group: str, topic: str) -> int:
        """Records of ``topic`` the group has committed (0 before its first commit)."""
        reader = self._readers.get(group)
        if reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap, group_id=group, enable_auto_commit=False
            )
            await reader.start()
            self._readers[group] = reader
        total = 0
        for partition in await self._partitions_of(topic):
            offset = await reader.committed(partition)
            total += max(0, int(offset or 0))
        return total

    async def published(self, topic: str) -> int:
        """Records on a topic, over all its partitions."""
        partitions = await self._partitions_of(topic)
        if not partitions:
            return 0
        ends: Mapping[TopicPartition, int] = await self._consumer.end_offsets(partitions)
        return sum(ends.values())
