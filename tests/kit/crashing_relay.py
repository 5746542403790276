"""A relay process that dies by SIGKILL right after the broker acknowledged its first batch.

Run by test_outbox.py as ``python crashing_relay.py <database url> <bootstrap> <schema>``:
the rows it published are never marked sent, as after a crash or an OOM kill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from zicht_runtime.db import create_pool
from zicht_runtime.kafka import AiokafkaSender
from zicht_runtime.outbox import OutboxMessage, OutboxRelay
from zicht_runtime.settings import ServiceSettings


class KilledAfterPublish:
    """Publishes for real, then the process is killed before the relay can mark the rows."""

    def __init__(self, sender: AiokafkaSender) -> None:
        self._sender = sender

    async def send_batch(self, records: Sequence[OutboxMessage]) -> None:
        await self._sender.send_batch(records)
        os.kill(os.getpid(), signal.SIGKILL)


async def main(url: str, bootstrap: str, schema: str) -> None:
    settings = ServiceSettings(service_name="kit-test", kafka_bootstrap_servers=bootstrap)
    pool = await create_pool(url, schema)
    sender = AiokafkaSender(settings)
    await sender.start()
    relay = OutboxRelay(pool, KilledAfterPublish(sender), schema=schema, batch_size=20)
    await relay.relay_once()
    raise SystemExit("the relay should have been killed")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
