"""API keys: stored as digests, bound to scopes, revocable; 401 and 403 as problems."""

import hashlib
from typing import Annotated

import asyncpg
import httpx
import pytest
from fastapi import Depends, FastAPI

from zicht_runtime.auth import CACHE_TTL_S, KeyStore, Principal, authenticate, require_scope
from zicht_runtime.problems import install_problem_handlers

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _app(store: KeyStore) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    who = authenticate(lambda: store)

    @app.post("/police-only")
    async def police_only(
        principal: Annotated[Principal, Depends(require_scope(who, "signals:police"))],
    ) -> dict[str, str]:
        return {"party": principal.party_id}

    return app


async def _call(app: FastAPI, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/police-only", headers=headers)


async def test_a_key_is_stored_only_as_its_digest(pool: asyncpg.Pool) -> None:
    store = KeyStore(pool)
    issued = await store.create("police-oost", ["signals:police"], description="unit")

    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM api_keys WHERE key_id = $1", issued.key_id)

    assert issued.secret.startswith(f"zk_{issued.key_id}_")
    stored = dict(rows[0])
    assert stored["key_digest"] == hashlib.sha256(issued.secret.encode()).digest()
    assert all(issued.secret not in str(value) for value in stored.values())


async def test_a_key_lets_its_party_in_only_where_its_scope_allows(pool: asyncpg.Pool) -> None:
    store = KeyStore(pool)
    police = await store.create("police-oost", ["signals:police"])
    igj = await store.create("igj", ["signals:igj"])
    app = _app(store)

    allowed = await _call(app, {"Authorization": f"Bearer {police.secret}"})
    wrong_scope = await _call(app, {"Authorization": f"Bearer {igj.secret}"})

    assert allowed.status_code == 200
    assert allowed.json() == {"party": "police-oost"}
    assert wrong_scope.status_code == 403
    assert wrong_scope.headers["content-type"] == "application/problem+json"
    assert wrong_scope.json()["errors"][0]["code"] == "source_not_permitted"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer zk_000000000000_unknown", "Basic dXNlcjpwYXNz", "Bearer " + "z" * 300],
)
async def test_a_missing_malformed_or_unknown_key_is_401(
    pool: asyncpg.Pool, header: str | None
) -> None:
    answer = await _call(_app(KeyStore(pool)), {"Authorization": header} if header else {})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["type"] == "urn:zicht:problem:unauthenticated"


async def test_a_revoked_key_is_refused_at_once(pool: asyncpg.Pool) -> None:
    store = KeyStore(pool)
    issued = await store.create("police-oost", ["signals:police"])
    app = _app(store)
    assert (await _call(app, {"Authorization": f"Bearer {issued.secret}"})).status_code == 200

    assert await store.revoke(issued.key_id)
    assert not await store.revoke(issued.key_id)

    assert (await _call(app, {"Authorization": f"Bearer {issued.secret}"})).status_code == 401
    listed = {key.key_id: key for key in await store.list("police-oost")}
    assert listed[issued.key_id].revoked_at is not None
    assert listed[issued.key_id].last_used_at is not None


class _Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_verified_key_is_cached_and_a_key_revoked_elsewhere_is_refused_within_a_second(
    pool: asyncpg.Pool,
) -> None:
    clock = _Clock()
    serving = KeyStore(pool, monotonic=clock)  # the service's one store
    elsewhere = KeyStore(pool)  # the revoke command, or another replica
    issued = await serving.create("police-oost", ["signals:police"])
    assert await serving.verify(issued.secret) is not None

    async with pool.acquire() as conn:
        # Take the table away: a cached key still verifies, so the table was not read.
        await conn.execute("ALTER TABLE api_keys RENAME TO api_keys_away")
        try:
            assert await serving.verify(issued.secret) is not None
        finally:
            await conn.execute("ALTER TABLE api_keys_away RENAME TO api_keys")

    assert await elsewhere.revoke(issued.key_id)
    assert await serving.verify(issued.secret) is not None, "trusted until its period ends"
    clock.now += CACHE_TTL_S
    assert await serving.verify(issued.secret) is None, "refused within the period (0.5 s)"
    assert CACHE_TTL_S < 1.0


async def test_a_key_revoked_by_the_serving_store_is_refused_at_once(pool: asyncpg.Pool) -> None:
    store = KeyStore(pool, monotonic=_Clock())
    issued = await store.create("police-oost", ["signals:police"])
    assert await store.verify(issued.secret) is not None
    assert await store.revoke(issued.key_id)
    assert await store.verify(issued.secret) is None
