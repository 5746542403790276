"""Subscribers' webhook receivers that are down, slow, or failing while alerts are due.

Notify keeps each alert in Postgres until a receiver takes it (2xx), retrying with backoff
under the same ``webhook-id``; the chain runs with a short backoff (0.5 s, up to 2 s). Each
fault lasts while a stream of signals flows and until notify has demonstrably met it (refused
connections, slow or 500 answers), then the receiver is healthy again; once the chain is quiet
every alert must have been accepted exactly once.
"""

from __future__ import annotations

import asyncio

import pytest

from faults.chain import DELIVERY_TIMEOUT_S, Chain, eventually
from faults.synthetic import SignalMix
from kit.helpers import wait_for

# Service restarts and waits for a quiet chain take a while on two shared cores.
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(600)]

FAULT_S = 4.0
"""Seconds of stream sent while the receiver is at fault."""
MET = 3
"""How many deliveries must meet the fault before it ends."""


async def test_a_receiver_refusing_connections_for_a_while_gets_every_alert_once(
    chain: Chain,
) -> None:
    providers = chain.take(2)
    own = [p.provider_id for p in providers]
    mix = SignalMix(providers, seed=31, start=800_000)
    await chain.stop_receiver()
    try:
        async with chain.stream("receiver-down", mix, rate=5.0) as stats:
            await asyncio.sleep(FAULT_S)

        async def refused() -> bool:
            waiting = await chain.sql(
                "notify",
                "SELECT count(*) FROM alerts WHERE provider_id = ANY($1) "
                "AND state = 'retrying' AND last_error IS NOT NULL",
                own,
            )
            return bool(waiting >= MET)

        await eventually(refused, within=120, what="notify to meet refused connections")
    finally:
        await chain.serve_receiver()
    assert not stats.refused, stats.refused
    result = await chain.reconcile("receiver-down", own)
    result.assert_clean()
    assert result.expected > 0


async def test_a_slow_receiver_answering_within_the_timeout_gets_every_alert_once(
    chain: Chain,
) -> None:
    providers = chain.take(2)
    mix = SignalMix(providers, seed=32, start=810_000)
    answered = len(chain.receiver.answered)
    chain.receiver.delay_s = DELIVERY_TIMEOUT_S * 0.6
    try:
        async with chain.stream("receiver-slow", mix, rate=5.0) as stats:
            await asyncio.sleep(FAULT_S)

        async def slow_answers() -> bool:
            return len(chain.receiver.answered) - answered >= MET

        await wait_for(slow_answers, within=120, what="slow answers to alerts")
    finally:
        chain.receiver.delay_s = 0.0
    assert not stats.refused, stats.refused
    result = await chain.reconcile("receiver-slow", [p.provider_id for p in providers])
    result.assert_clean()
    assert result.expected > 0


async def test_a_receiver_answering_500_for_a_while_gets_every_alert_once(chain: Chain) -> None:
    providers = chain.take(2)
    mix = SignalMix(providers, seed=33, start=820_000)
    failed = sum(1 for d in chain.deliveries() if d.status == 500)
    chain.receiver.default_status = 500
    try:
        async with chain.stream("receiver-500", mix, rate=5.0) as stats:
            await asyncio.sleep(FAULT_S)

        async def failing() -> bool:
            return sum(1 for d in chain.deliveries() if d.status == 500) - failed >= MET

        await wait_for(failing, within=120, what="alerts answered 500")
    finally:
        chain.receiver.default_status = 204
    assert not stats.refused, stats.refused
    result = await chain.reconcile("receiver-500", [p.provider_id for p in providers])
    result.assert_clean()
    assert result.expected > 0
