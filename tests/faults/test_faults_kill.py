"""Each service SIGKILLed while signals flow, then started again: nothing lost, nothing twice.

Partners keep sending five submissions a second over HTTP. The service is killed without
warning (no shutdown, no leaving its consumer groups, transactions cut off), the stream goes
on, the service is started again on the same database, and once the chain is quiet every
acknowledged signal must be assessed once and every alert it and its provider's risk changes
call for must have been accepted by its subscriber exactly once.

Each kill comes once alerts about the stream's providers are arriving, so the whole chain is
in full flow when it is hit.

Notify is killed in a moment when no webhook answer is on its way back: the receiver answers
500 from a second before the kill until notify is back. A webhook a receiver accepted in the
very instant before the kill is sent again under the same ``webhook-id`` after the restart;
Standard Webhooks receivers drop such repeats by that id, but this test counts every repeat as
a duplicate, so it times the kill outside that window instead of tolerating repeats. (The hold
lasts until the restart because the receiver runs in the test process: a request the dead
notify sent may be read late, and must not be taken.)
"""

from __future__ import annotations

import asyncio

import pytest

from faults.chain import SERVICES, Chain
from faults.synthetic import SignalMix

# Service restarts and waits for a quiet chain take a while on two shared cores.
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(600)]

BEFORE_S = 2.0
"""Seconds of stream before the kill."""
DOWN_S = 1.0
"""Seconds the service stays dead while the stream goes on."""
AFTER_S = 1.0
"""Seconds of stream once it is ready again."""


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_killed_while_signals_flow_loses_and_repeats_nothing(
    chain: Chain, service: str
) -> None:
    scenario = f"kill-{service}"
    providers = chain.take(3)
    mix = SignalMix(
        providers, seed=SERVICES.index(service), start=100_000 * (1 + SERVICES.index(service))
    )
    async with chain.stream(scenario, mix, rate=5.0) as stats:
        await asyncio.sleep(BEFORE_S)
        await chain.flowing(providers)
        try:
            if service == "notify":
                chain.receiver.default_status = 500
                await asyncio.sleep(1.0)  # every alert answered 2xx before now is recorded now
            await chain.kill(service)
            await asyncio.sleep(DOWN_S)
            await chain.start(service)
        finally:
            chain.receiver.default_status = 204
        await asyncio.sleep(AFTER_S)
    assert not stats.refused, stats.refused

    result = await chain.reconcile(scenario, [p.provider_id for p in providers], within=180)
    result.assert_clean()
    assert result.expected > 0
    if service == "intake":
        assert stats.retried > 0  # partners met the dead intake and sent again
