"""Notify's alert key moves from one per subscriber to one per subscription, keeping old rows."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from zicht_notify.app import MIGRATIONS
from zicht_runtime.migrations import RUNTIME_MIGRATIONS, apply_migrations

pytestmark = pytest.mark.connected

NOW = datetime(2026, 3, 16, tzinfo=UTC)
SCHEMA = "notify"
_INSERT = """
    INSERT INTO alerts (alert_id, webhook_id, subscription_id, subscriber_kind, subscriber_id,
        provider_id, source_event_id, source_event_type, rule_id, body, state, created_at)
    VALUES ($1, 'msg_x', $2, 'municipality', $3, 'prv-1', $4, 't', 'r', '\\x7b7d', $5, $6)
    ON CONFLICT DO NOTHING RETURNING alert_id
"""


async def _alert(
    conn: asyncpg.Connection, event: uuid.UUID, subscription: uuid.UUID | None, who: str
) -> bool:
    state = "pending" if subscription is not None else "undeliverable"
    made = await conn.fetchval(_INSERT, uuid.uuid4(), subscription, who, event, state, NOW)
    return made is not None


async def test_alerts_made_per_subscriber_stay_and_each_subscription_may_get_its_own(
    fresh_database: str,
) -> None:
    before = Path(tempfile.mkdtemp())
    for path in sorted(MIGRATIONS.glob("000[1-5]_*.sql")):
        shutil.copy(path, before / path.name)
    event, other_event = uuid.uuid4(), uuid.uuid4()
    first, second = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(fresh_database)
    try:
        await apply_migrations(conn, SCHEMA, [RUNTIME_MIGRATIONS, ("notify", before)])
        await conn.execute(f"SET search_path TO {SCHEMA}")
        # Under the old key: one alert per subscriber per event, with or without a subscription.
        assert await _alert(conn, event, first, "GM0164")
        assert await _alert(conn, event, None, "GM0153")
        assert not await _alert(conn, event, second, "GM0164")  # the old key refused it

        applied = await apply_migrations(conn, SCHEMA, [RUNTIME_MIGRATIONS, ("notify", MIGRATIONS)])

        kept = await conn.fetchval("SELECT count(*) FROM alerts")
        second_subscription = await _alert(conn, event, second, "GM0164")
        same_subscription_again = await _alert(conn, event, first, "GM0164")
        no_subscription_again = await _alert(conn, event, None, "GM0153")
        next_event_no_subscription = await _alert(conn, other_event, None, "GM0153")
    finally:
        await conn.close()
    assert applied == ["notify/0006_alert_per_subscription.sql", "notify/0007_sealed_secrets.sql"]
    assert kept == 2
    assert second_subscription
    assert not same_subscription_again
    assert not no_subscription_again  # one undeliverable record per party and event
    assert next_event_no_subscription
