"""The broker starts again with nothing: every topic empty, every committed offset gone.

That is what the local broker of ``make run`` does across a stop (it keeps its data in
memory). Events published but not yet consumed were only on the old broker; the compacted
registry topic is empty. The services see that the broker is another cluster, publish their
outboxes again, and consumers take each event once (their inboxes turn copies away): nothing
accepted before the stop is lost, nothing is assessed or alerted twice.
"""

from __future__ import annotations

import asyncio

import pytest

from faults.chain import SERVICES, Chain
from faults.synthetic import SignalMix
from zicht_schemas import topics

# Service restarts and waits for a quiet chain take a while on two shared cores.
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(600)]


async def test_a_broker_started_afresh_loses_nothing_published_before_and_repeats_nothing(
    chain: Chain,
) -> None:
    providers = chain.take(3)
    ids = [p.provider_id for p in providers]
    mix = SignalMix(providers, seed=17, start=620_000)
    async with chain.stream("broker-forgets", mix, rate=5.0) as stats:
        await chain.flowing(providers)
        # Triage stops taking signals in: what intake publishes now waits on the broker.
        await chain.stop("triage")
        await asyncio.sleep(4.0)
    assert not stats.refused, stats.refused
    await chain.wait_sql(
        "intake", "SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL",
        what="intake's outbox published to the old broker",
    )  # fmt: skip
    waiting = await chain.sql(
        "intake",
        "SELECT count(*) FROM outbox WHERE topic = $1 AND created_at > now() - interval '8 s'",
        topics.SIGNAL_RECEIVED,
    )
    assert waiting > 0, "signals were published while triage was stopped"
    for name in SERVICES:
        if chain.running(name):
            await chain.stop(name)

    await chain.replace_broker()
    await chain.start()
    # After the restart, more: the chain carries new signals on the new broker too.
    async with chain.stream("broker-forgets", mix, rate=5.0):
        await asyncio.sleep(3.0)

    result = await chain.reconcile("broker-forgets", ids, within=240)
    result.assert_clean()
    assert result.expected > 0
