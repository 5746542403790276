"""Refusals before the body is read: no key (401) and a body over the limit (413)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from zicht_runtime.guard import RequestGuard
from zicht_runtime.problems import install_problem_handlers

pytestmark = pytest.mark.unit

KEY = {"Authorization": "Bearer zk_" + "a" * 40}


class Thing(BaseModel):
    name: str


def app_with_guard(limit: int) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestGuard, max_body_bytes=limit)
    seen: list[str] = []

    @app.post("/v1/things")
    async def make(thing: Thing) -> dict[str, Any]:
        seen.append(thing.name)
        return {"name": thing.name}

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.state.seen = seen
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_no_key_is_a_401_before_a_malformed_body_is_read() -> None:
    async with client(app_with_guard(1024)) as c:
        answer = await c.post("/v1/things", content=b"nope")
        malformed = await c.post(
            "/v1/things", content=b"nope", headers={"Authorization": "Basic xyz"}
        )
        open_route = await c.get("/healthz")

    for refused in (answer, malformed):
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"].startswith("Bearer")
    assert open_route.status_code == 200


async def test_a_body_over_the_limit_is_a_413_declared_or_streamed() -> None:
    app = app_with_guard(1024)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 200

    async with client(app) as c:
        declared = await c.post("/v1/things", content=b" " * 5000, headers=KEY)
        streamed = await c.post("/v1/things", content=chunks(), headers=KEY)
        small = await c.post("/v1/things", json={"name": "ok"}, headers=KEY)

    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert declared.json()["type"] == "urn:zicht:problem:too-large"
    assert small.status_code == 200
    assert app.state.seen == ["ok"]
