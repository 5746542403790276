"""Webhook secrets at rest in real Postgres: sealed, sealed on start, readable after rotation."""

from __future__ import annotations

import asyncio
import base64
import shutil
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from zicht_devtools.devstack import PostgresDatabases
from zicht_notify.app import MIGRATIONS, create_app, create_kit, create_service
from zicht_notify.config import NotifySettings
from zicht_notify.domain import generate_secret
from zicht_runtime.auth import KeyStore
from zicht_runtime.migrations import RUNTIME_MIGRATIONS, apply_migrations

pytestmark = [pytest.mark.connected, pytest.mark.asyncio(loop_scope="session")]

OLD = f"2025-1:{base64.b64encode(b'o' * 32).decode()}"
NEW = f"2026-1:{base64.b64encode(b'n' * 32).decode()}"


def _settings(url: str, bootstrap: str, keys: str) -> NotifySettings:
    return NotifySettings(
        _env_file=None,
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        kafka_consumer_group=f"notify-at-rest-{uuid.uuid4().hex[:8]}",
        kafka_session_timeout_ms=6000,
        log_json=False,
        webhook_secret_keys=SecretStr(keys),
    )


async def _stored(url: str, subscription_id: uuid.UUID) -> asyncpg.Record:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT * FROM notify.subscriptions WHERE subscription_id = $1", subscription_id
        )
    finally:
        await conn.close()
    assert row is not None
    return row


async def test_a_secret_given_through_the_api_is_stored_sealed_never_in_plain_text(
    databases: PostgresDatabases, kafka_bootstrap: str
) -> None:
    url = await databases.create()
    settings = _settings(url, kafka_bootstrap, OLD)
    service = create_service(settings)
    kit = create_kit(settings, service)
    app = create_app(settings, service=service, kit=kit)
    async with app.router.lifespan_context(app):
        key = await KeyStore(kit.pool).create(
            "GM0153", ["subscriptions"], attributes={"kind": "municipality", "id": "GM0153"}
        )
        auth = {"Authorization": f"Bearer {key.secret}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://notify"
        ) as client:
            # No secret of its own: notify chooses one, shows it once, and stores it sealed.
            made = await client.post(
                "/v1/subscriptions", json={"url": "http://127.0.0.1:9/hook"}, headers=auth
            )
            assert made.status_code == 201, made.text
            chosen = made.json()["secret"]
            subscription_id = uuid.UUID(made.json()["subscription_id"])
            row = await _stored(url, subscription_id)
            rotated = await client.post(
                f"/v1/subscriptions/{subscription_id}/rotate-secret", headers=auth
            )
            assert rotated.status_code == 200, rotated.text
            after = await _stored(url, subscription_id)
    for stored, secrets in ((row, [chosen]), (after, [rotated.json()["secret"], chosen])):
        assert stored["secrets"] is None
        assert stored["secrets_key_id"] == "2025-1"
        sealed = bytes(stored["sealed_secrets"])
        for secret in secrets:
            assert secret.encode() not in sealed
            assert base64.b64decode(secret.removeprefix("whsec_")) not in sealed
        assert service.secrets_of(stored) == secrets


async def test_plain_secrets_of_an_older_schema_are_sealed_on_start_and_survive_a_rotation(
    databases: PostgresDatabases, kafka_bootstrap: str, tmp_path: Path
) -> None:
    url = await databases.create()
    # The schema as it was before sealing: migrations 0001 to 0005, secrets in plain text.
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS.glob("000[1-5]_*.sql")):
        shutil.copy(path, before / path.name)
    secrets = [generate_secret(), generate_secret()]
    subscription_id = uuid.uuid4()
    now = datetime.now(UTC)
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn, "notify", [RUNTIME_MIGRATIONS, ("notify", before)])
        await conn.execute(
            "INSERT INTO notify.subscriptions (subscription_id, subscriber_kind, subscriber_id, "
            "url, secrets, created_at, updated_at, verified_at) "
            "VALUES ($1, 'municipality', 'GM0153', 'http://127.0.0.1:9/hook', $2, $3, $3, $3)",
            subscription_id,
            secrets,
            now,
        )
    finally:
        await conn.close()

    settings = _settings(url, kafka_bootstrap, OLD)
    service = create_service(settings)
    app = create_app(settings, service=service)
    async with app.router.lifespan_context(app):
        sealed = await _stored(url, subscription_id)
    assert sealed["secrets"] is None
    assert sealed["secrets_key_id"] == "2025-1"
    assert all(s.encode() not in bytes(sealed["sealed_secrets"]) for s in secrets)
    assert service.secrets_of(sealed) == secrets

    # Rotation: the new key in front, the old one still there to open what it sealed.
    rotated = create_service(_settings(url, kafka_bootstrap, f"{NEW},{OLD}"))
    assert rotated.secrets_of(sealed) == secrets
    resealed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zicht_notify", "reseal",
        env={"ZICHT_DATABASE_URL": url, "ZICHT_WEBHOOK_SECRET_KEYS": f"{NEW},{OLD}"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(resealed.communicate(), timeout=120)
    assert resealed.returncode == 0, err.decode()
    assert "resealed 1 subscriptions under key 2026-1" in out.decode()
    after = await _stored(url, subscription_id)
    assert after["secrets_key_id"] == "2026-1"
    # Now the old key can go: the new one alone opens every row.
    assert create_service(_settings(url, kafka_bootstrap, NEW)).secrets_of(after) == secrets
