"""The kit's json/jsonb codec: Python values in and out, JSON text refused."""

from __future__ import annotations

import asyncpg
import pytest

from zicht_runtime.db import create_pool

pytestmark = pytest.mark.connected


async def test_jsonb_parameters_are_stored_as_the_documents_they_are(fresh_database: str) -> None:
    pool = await create_pool(fresh_database, "codec")
    try:
        await pool.execute("CREATE TABLE docs (id int PRIMARY KEY, doc jsonb NOT NULL)")
        await pool.execute(
            "INSERT INTO docs VALUES (1, $1), (2, $2), (3, $3)",
            {"provider": {"kvk": "99000071"}},
            [1, "two"],
            0.12,
        )
        kinds = await pool.fetch("SELECT id, jsonb_typeof(doc) AS kind FROM docs ORDER BY id")
        kvk = await pool.fetchval("SELECT doc -> 'provider' ->> 'kvk' FROM docs WHERE id = 1")
        back = await pool.fetchval("SELECT doc FROM docs WHERE id = 1")
    finally:
        await pool.close()

    assert [r["kind"] for r in kinds] == ["object", "array", "number"]
    assert kvk == "99000071"
    assert back == {"provider": {"kvk": "99000071"}}


async def test_json_text_given_as_a_jsonb_parameter_is_refused_with_the_way_out(
    fresh_database: str,
) -> None:
    pool = await create_pool(fresh_database, "codec")
    try:
        await pool.execute("CREATE TABLE docs (id int PRIMARY KEY, doc jsonb NOT NULL)")
        with pytest.raises(asyncpg.DataError, match=r"not its JSON text.*\$n::text::jsonb"):
            await pool.execute("INSERT INTO docs VALUES (1, $1)", '{"kvk": "99000071"}')
        # Text cast in SQL is parsed by Postgres into the document it encodes.
        await pool.execute("INSERT INTO docs VALUES (2, $1::text::jsonb)", '{"kvk": "99000071"}')
        kind = await pool.fetchval("SELECT jsonb_typeof(doc) FROM docs WHERE id = 2")
    finally:
        await pool.close()

    assert kind == "object"
