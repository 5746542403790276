"""``raw_chain``: the limit of this machine and broker, a raw aiokafka chain of four hops.

Four hop processes, each a bare aiokafka consumer and producer: poll a batch (up to 500
records, as the services do), publish every record on to the next topic, wait for the
broker's acks, commit the batch's offsets. Nothing else: no database, no validation, no
telemetry. Each hop is its own process, as each service is, and the records have the sizes
of the real events (value and headers; taken from the last ``throughput`` run when there is
one, else the sizes measured when this benchmark was written): a partner record in,
``signal-received`` out of hop 1, ``signal-assessed`` out of hop 2, ``provider-risk-changed``
out of hop 3, ``alert-delivered`` out of hop 4.

The driver produces partner-sized records with the same bounded-in-flight load as the
``throughput`` benchmark and measures, from the last hop's committed offsets, how many records
per second make it through all four hops, after a warm-up. Every throughput figure of Zicht
is given as a ratio to this.

``python -m bench.raw_chain hop ...`` runs one hop (the driver starts four).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import Result, load_result, say, scratch_dir, slope
from bench.infra import Infra
from bench.kafka import Offsets
from zicht_devtools.devstack import create_topics
from zicht_schemas import topics

__all__ = ["DEFAULT_SIZES", "HOP_TOPICS", "run"]

HOP_TOPICS: Final = (
    topics.PARTNER_IGJ,
    topics.SIGNAL_RECEIVED,
    topics.SIGNAL_ASSESSED,
    topics.PROVIDER_RISK_CHANGED,
    topics.ALERT_DELIVERED,
)
"""The real topic whose record sizes each chain topic copies: the input, then each hop's out."""

DEFAULT_SIZES: Final[dict[str, tuple[int, int]]] = {
    # (value bytes, header bytes), measured in a throughput run (outbox averages).
    topics.PARTNER_IGJ: (610, 30),
    topics.SIGNAL_RECEIVED: (734, 594),
    topics.SIGNAL_ASSESSED: (1371, 594),
    topics.PROVIDER_RISK_CHANGED: (964, 545),
    topics.ALERT_DELIVERED: (444, 532),
}
_PARTITIONS: Final = 4
_MAX_BATCH: Final = 500
_HEADERS_PER_RECORD: Final = 8
_SEND_CHUNK: Final = 250


def sizes_in_use() -> tuple[dict[str, tuple[int, int]], str]:
    """The record sizes per topic, and where they come from."""
    found = dict(DEFAULT_SIZES)
    throughput = load_result("throughput")
    measured = (throughput or {}).get("details", {}).get("message_sizes", {})
    if not measured:
        return found, "sizes measured when the benchmark was written"
    for topic in HOP_TOPICS[1:]:
        sizes = measured.get(topic)
        if sizes:
            found[topic] = (int(sizes["value_bytes"]), int(sizes["header_bytes"]))
    return found, "sizes of the last throughput run's events (outbox averages)"


def _headers(total: int) -> list[tuple[str, bytes]]:
    """Headers adding up to about ``total`` bytes, like the ``ce_*`` and trace headers."""
    each = max(1, total // _HEADERS_PER_RECORD - 8)
    return [(f"ce_h{n}", b"h" * each) for n in range(_HEADERS_PER_RECORD)]


async def hop(
    *, bootstrap: str, source: str, target: str, group: str, value: int, headers: int, wait_ms: int
) -> None:
    """Consume ``source`` in batches, publish each record on to ``target``, commit; forever."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=wait_ms,
        max_poll_records=_MAX_BATCH,
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    payload = b"v" * value
    extra = _headers(headers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=max(wait_ms, 10), max_records=_MAX_BATCH)
            records = [r for partition in batch.values() for r in partition]
            if not records:
                continue
            futures = [
                await producer.send(target, payload, key=r.key, headers=extra) for r in records
            ]
            await asyncio.gather(*futures)
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


@dataclass
class _Driver:
    bootstrap: str
    last_group: str
    last_topic: str
    max_in_flight: int
    value: int
    headers: int
    sent: int = 0
    through: int = 0

    async def produce(self, stop: asyncio.Event, first_topic: str) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
        )
        await producer.start()
        payload = b"p" * self.value
        extra = [("content-type", b"application/json")]
        try:
            while not stop.is_set():
                room = self.max_in_flight - (self.sent - self.through)
                if room <= 0:
                    await asyncio.sleep(0.02)
                    continue
                count = min(room, _SEND_CHUNK)
                futures = [
                    await producer.send(
                        first_topic, payload, key=str(self.sent + n).encode(), headers=extra
                    )
                    for n in range(count)
                ]
                await asyncio.gather(*futures)
                self.sent += count
        finally:
            await producer.stop()


def _start_hops(
    bootstrap: str, names: list[str], sizes: dict[str, tuple[int, int]], wait_ms: int
) -> list[subprocess.Popen[bytes]]:
    """One process per hop: hop n reads ``names[n - 1]`` and writes ``names[n]``."""
    hops = []
    for number in range(1, len(HOP_TOPICS)):
        value, headers = sizes[HOP_TOPICS[number]]
        arguments = {
            "--bootstrap": bootstrap,
            "--source": names[number - 1],
            "--target": names[number],
            "--group": f"bench.raw.hop{number}",
            "--value": str(value),
            "--headers": str(headers),
            "--wait-ms": str(wait_ms),
        }
        command = [sys.executable, "-m", "bench.raw_chain", "hop"]
        for option, given in arguments.items():
            command += [option, given]
        hops.append(
            subprocess.Popen(command, start_new_session=True)  # noqa: S603 - our own interpreter and module
        )
    return hops


async def _measure(
    infra: Infra,
    sizes: dict[str, tuple[int, int]],
    *,
    warmup_s: float,
    window_s: float,
    max_in_flight: int,
    wait_ms: int,
) -> dict[str, float | None]:
    names = [f"bench.raw.{n}" for n in range(len(HOP_TOPICS))]
    await create_topics(infra.bootstrap, names, partitions=_PARTITIONS)
    hops: list[subprocess.Popen[bytes]] = []
    try:
        hops = _start_hops(infra.bootstrap, names, sizes, wait_ms)
        value, headers = sizes[HOP_TOPICS[0]]
        driver = _Driver(
            infra.bootstrap, f"bench.raw.hop{len(hops)}", names[-2], max_in_flight, value, headers
        )
        offsets = Offsets(infra.bootstrap)
        await offsets.start()
        stop = asyncio.Event()
        producing = asyncio.create_task(driver.produce(stop, names[0]))
        points: list[tuple[float, int]] = []
        try:
            # The hops join their groups one after the other (a few seconds each on this
            # broker): the warm-up starts once records come out of the last hop.
            flowing_by = time.monotonic() + 90
            while driver.through == 0:
                if time.monotonic() > flowing_by:
                    raise RuntimeError("nothing came through the chain within 90 s")
                await asyncio.sleep(0.25)
                driver.through = await offsets.committed(driver.last_group, driver.last_topic)
            window_from = time.monotonic() + warmup_s
            while time.monotonic() < window_from + window_s:
                driver.through = await offsets.committed(driver.last_group, driver.last_topic)
                now = time.monotonic()
                if now >= window_from:
                    points.append((now, driver.through))
                await asyncio.sleep(0.25)
        finally:
            stop.set()
            await asyncio.gather(producing, return_exceptions=True)
            await offsets.stop()
        if any(h.poll() is not None for h in hops):
            raise RuntimeError("a hop process died during the measurement")
        first, last = points[0], points[-1]
        return {
            "through": slope(points),
            "through_endpoints": (last[1] - first[1]) / (last[0] - first[0]),
            "sent": driver.sent,
        }
    finally:
        for process in hops:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in hops:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def run(*, quick: bool) -> Result:
    """Measure the raw chain; see the module docstring."""
    sizes, origin = sizes_in_use()
    warmup, window = (5.0, 10.0) if quick else (10.0, 30.0)
    max_in_flight, wait_ms = 1000, 5
    with scratch_dir("zicht-bench-raw-") as workdir, Infra(workdir, postgres=False) as infra:
        say("raw chain: four hop processes, bounded in-flight load")
        measured = await _measure(
            infra,
            sizes,
            warmup_s=warmup,
            window_s=window,
            max_in_flight=max_in_flight,
            wait_ms=wait_ms,
        )
        versions = infra.versions()
    result = Result("raw_chain", "The limit: a raw aiokafka chain of four hops")
    result.add(
        "raw chain, 4 hops",
        measured["through"],
        "msg/s",
        note="records through all four hops (consume batch, publish on, commit)",
    )
    result.add("raw chain, 4 hops (window endpoints)", measured["through_endpoints"], "msg/s")
    result.settings = {
        "hops": "4 processes, each: getmany(max 500) -> send each on (acks=all) -> commit",
        "partitions": _PARTITIONS,
        "max_in_flight": max_in_flight,
        "fetch_max_wait_ms": wait_ms,
        "warmup_s": warmup,
        "window_s": window,
        "sizes (value, headers) by the topic they copy": {t: sizes[t] for t in HOP_TOPICS},
        "sizes from": origin,
        "postgres": versions[0],
        "broker": versions[1],
    }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``hop``: run one hop until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.raw_chain")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("hop", help="run one hop of the chain")
    for name in ("bootstrap", "source", "target", "group"):
        one.add_argument(f"--{name}", required=True)
    for name in ("value", "headers", "wait-ms"):
        one.add_argument(f"--{name}", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(
        hop(
            bootstrap=args.bootstrap,
            source=args.source,
            target=args.target,
            group=args.group,
            value=args.value,
            headers=args.headers,
            wait_ms=args.wait_ms,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
