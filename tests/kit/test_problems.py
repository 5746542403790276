"""Every refusal is RFC 9457 problem details, and none echoes the refused value."""

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from zicht_runtime.problems import Problem, install_problem_handlers

pytestmark = [pytest.mark.unit, pytest.mark.asyncio(loop_scope="session")]


class Body(BaseModel):
    """A body with a constrained field."""

    bsn: str = Field(pattern=r"^[0-9]{9}$")
    count: int


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def things(body: Body) -> dict[str, int]:
        return {"count": body.count}

    @app.get("/teapot")
    async def teapot() -> None:
        raise Problem(409, "conflict", "Already brewing", errors=[{"code": "x", "detail": "d"}])

    @app.get("/database-away/{how}")
    async def database_away(how: str) -> None:
        if how == "restarting":
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        if how == "closed":
            raise asyncpg.InterfaceError("cannot call Transaction.__aexit__(): connection closed")
        raise ConnectionRefusedError(111, "Connection refused")

    return app


async def _send(method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


async def test_a_field_error_names_the_field_by_pointer_and_never_echoes_the_value() -> None:
    answer = await _send("POST", "/things", json={"bsn": "12345678X-secret", "count": "many"})

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == "urn:zicht:problem:invalid-submission"
    assert {e["pointer"] for e in body["errors"]} == {"/bsn", "/count"}
    assert "secret" not in answer.text
    assert "many" not in answer.text


async def test_a_body_that_is_not_json_is_a_400_problem() -> None:
    answer = await _send(
        "POST", "/things", content=b"{nope", headers={"content-type": "application/json"}
    )

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "malformed_payload"


async def test_unknown_routes_and_methods_and_raised_problems_are_problems() -> None:
    missing = await _send("GET", "/nowhere")
    wrong_method = await _send("DELETE", "/things")
    raised = await _send("GET", "/teapot")

    assert (missing.status_code, missing.json()["type"]) == (404, "urn:zicht:problem:not-found")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"
    assert raised.json() == {
        "type": "urn:zicht:problem:conflict", "title": "Already brewing", "status": 409,
        "instance": "/teapot", "errors": [{"code": "x", "detail": "d"}],
    }  # fmt: skip


@pytest.mark.parametrize("how", ["restarting", "closed", "refused"])
async def test_a_database_out_of_reach_is_a_503_with_when_to_retry(how: str) -> None:
    answer = await _send("GET", f"/database-away/{how}")

    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["type"] == "urn:zicht:problem:unavailable"
    assert "connection" not in answer.text.lower(), "the cause stays in the log"
