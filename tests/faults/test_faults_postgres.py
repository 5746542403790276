"""Postgres stopped under one service while signals flow, and started again.

Triage and notify each run on a Postgres server of their own in the chain, so one can be
stopped (fast shutdown: every connection is cut) without touching the others. The service
must not acknowledge anything it could not store, must not dead-letter events because its
database is away (a transient fault is retried), notice it (``/readyz``), and carry on without
a restart once the server is back: every signal assessed once, every alert delivered once.

Under notify this found a bug, now fixed: the delivery loop died when a transaction of a round
lost its connection (asyncpg's ``InterfaceError`` escaped it) and ``/readyz`` did not notice.
A webhook accepted while notify could not record it is sent again under the same
``webhook-id`` once the database is back: at-least-once delivery, which Standard Webhooks
receivers dedupe by that id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import asyncpg
import httpx
import pytest

from faults.chain import Chain, eventually
from faults.synthetic import PartnerSubmission, SignalMix, igj_body

# Service restarts and waits for a quiet chain take a while on two shared cores.
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(600)]

DOWN_S = 8.0
RESUMED_WITHIN_S = 30.0
"""How long notify may take to deliver again once its database is back and it is ready."""


async def test_postgres_stopped_under_triage_and_started_again_loses_and_repeats_nothing(
    chain: Chain,
) -> None:
    providers = chain.take(3)
    dead_before = await chain.sql("triage", "SELECT count(*) FROM dead_letters")

    async def not_ready() -> bool:
        return not await _ready(chain, "triage")

    mix = SignalMix(providers, seed=70, start=700_000)
    async with chain.stream("postgres-triage", mix, rate=5.0) as stats:
        await chain.flowing(providers)
        chain.stop_postgres("triage")
        try:
            # Triage notices (its readiness check asks the database), and stays up.
            await eventually(not_ready, within=30, what="triage to miss its database")
            await asyncio.sleep(DOWN_S)
        finally:
            chain.start_postgres("triage")
        await eventually(
            lambda: _ready(chain, "triage"), within=60, what="triage to be ready again"
        )
    assert not stats.refused, stats.refused
    assert chain.running("triage"), chain.log_tail("triage")
    dead = await chain.sql("triage", "SELECT count(*) FROM dead_letters")
    assert dead == dead_before, "a database outage is transient: nothing is dead-lettered for it"

    result = await chain.reconcile(
        "postgres-triage", [p.provider_id for p in providers], within=180
    )
    result.assert_clean()
    assert result.expected > 0


async def test_notify_delivers_again_after_its_database_went_away_mid_delivery(
    chain: Chain,
) -> None:
    """Postgres stops while notify records a delivery, then comes back: delivery goes on.

    To stop it at exactly that moment, the test holds a row lock on an alert whose webhook is
    on its way (the receiver is slow), so notify's "delivered" transaction waits on it when
    the server stops. The same fault without the lock kills the delivery loop in about half
    of the runs (whenever the stop falls inside one of its transactions). The alert that was
    accepted but not recorded is sent again under the same ``webhook-id`` (at-least-once);
    that repeat is expected here, any other duplicate or loss is not.
    """
    providers = chain.take(2)
    after = chain.take(1)[0]
    resumed = False
    mix = SignalMix(providers, seed=71, start=720_000)
    try:
        async with chain.stream("postgres-notify", mix, rate=5.0) as stats:
            await chain.flowing(providers)
            chain.receiver.delay_s = 2.0
            try:
                await _stop_while_notify_records_a_delivery(chain)
            finally:
                chain.start_postgres("notify")
                chain.receiver.delay_s = 0.0
            await eventually(
                lambda: _ready(chain, "notify"), within=60, what="notify to be ready again"
            )
        assert not stats.refused, stats.refused
        # A signal about another provider, sent now: its alert must arrive within seconds.
        reference = "IGJ-2026-729999"
        body = igj_body(reference, after, after.locations[0], finding="calamiteit",
                        target_group="beschermd-wonen")  # fmt: skip
        sent = PartnerSubmission("igj", reference, body, (after.provider_id,))
        answer = await chain.submit("postgres-notify", sent)
        assert answer.status == 202, answer.body
        deadline = asyncio.get_running_loop().time() + RESUMED_WITHIN_S
        while not resumed and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(1.0)
            resumed = bool(chain.accepted_about(after.provider_id))
        waiting = await chain.sql(
            "notify", "SELECT count(*) FROM alerts WHERE state IN ('pending', 'retrying')"
        )
        assert resumed, (
            f"no alert delivered {RESUMED_WITHIN_S:.0f}s after notify's database came back; "
            f"{waiting} alerts wait in notify"
        )
        result = await chain.reconcile(
            "postgres-notify", [p.provider_id for p in [*providers, after]], within=120
        )
        assert result.lost == 0, result.details()
        assert not result.twice_alerted, result.details()
        assert not result.twice_assessed, result.details()
        assert result.unexpected == result.misrouted == 0, result.details()
        result.assert_operators_agree()
    finally:
        if not resumed:
            # Leave a delivering notify to the tests that follow; its stop says what became of
            # the delivery loop.
            await chain.stop("notify")
            for line in chain.log_tail("notify", 400).splitlines():
                if "shutdown step failed" in line:
                    logged = json.loads(line)
                    errors = [e for e in logged.get("exception", "").splitlines() if "Error:" in e]
                    print(logged["message"], *errors, sep="\n  ")
            await chain.start("notify")


async def _ready(chain: Chain, service: str) -> bool:
    try:
        return (await chain.client(service).get("/readyz", timeout=5)).status_code == 200
    except httpx.HTTPError:
        return False


async def _stop_while_notify_records_a_delivery(chain: Chain) -> None:
    """Stop notify's Postgres while notify waits to record an accepted delivery."""
    locker = await asyncpg.connect(chain.database_urls["notify"])
    watcher = await asyncpg.connect(chain.database_urls["notify"])
    try:
        transaction = locker.transaction()
        await transaction.start()
        # An alert leased for delivery (its webhook is on its way to the slow receiver).
        leased = None
        deadline = asyncio.get_running_loop().time() + 60
        while leased is None and asyncio.get_running_loop().time() < deadline:
            leased = await locker.fetchval(
                "SELECT alert_id FROM notify.alerts WHERE state IN ('pending', 'retrying') "
                "AND next_attempt_at > now() + interval '10 seconds' LIMIT 1 "
                "FOR UPDATE SKIP LOCKED"
            )
            if leased is None:
                await asyncio.sleep(0.1)
        assert leased is not None, "no delivery on its way to lock"
        holder = await locker.fetchval("SELECT pg_backend_pid()")

        async def blocked() -> bool:
            # Another session waits on this lock: notify, recording the delivery.
            return bool(
                await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                    holder,
                )
            )

        await eventually(blocked, within=30, what="notify to wait on the lock", every=0.1)
        chain.stop_postgres("notify")
    finally:
        for conn in (locker, watcher):
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await conn.close(timeout=2)
