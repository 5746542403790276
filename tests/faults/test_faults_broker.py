"""The broker frozen (SIGSTOP) for 30 seconds under load, then let go (SIGCONT).

While it is frozen, connections stay open and nothing is answered: producers and consumers
time out, group sessions lapse. Intake keeps accepting partners' submissions (they are stored
before they are acknowledged); the rest of the chain waits. Once the broker runs again,
everything accepted must flow through, each signal assessed once, each alert delivered once.
"""

from __future__ import annotations

import asyncio

import pytest

from faults.chain import Chain
from faults.synthetic import SignalMix

# Service restarts and waits for a quiet chain take a while on two shared cores.
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(600)]

PAUSE_S = 30.0


async def test_the_broker_paused_for_thirty_seconds_under_load_loses_and_repeats_nothing(
    chain: Chain,
) -> None:
    providers = chain.take(3)
    mix = SignalMix(providers, seed=11, start=600_000)
    async with chain.stream("broker-paused", mix, rate=5.0) as stats:
        await chain.flowing(providers)
        chain.pause_broker()
        try:
            before = stats.acknowledged
            await asyncio.sleep(PAUSE_S)
            during = stats.acknowledged - before
        finally:
            chain.resume_broker()
        await asyncio.sleep(2.0)
    assert not stats.refused, stats.refused
    print(f"acknowledged while the broker was frozen: {during}")
    assert during >= PAUSE_S / 3  # intake went on accepting while the broker was frozen

    result = await chain.reconcile("broker-paused", [p.provider_id for p in providers], within=180)
    result.assert_clean()
    assert result.expected > 0
