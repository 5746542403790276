"""``GET /v1/ops/flow``: what a service consumed, produced and dead-lettered in a period.

Every service answers it from the kit's own tables (inbox, outbox, dead letters) plus the
counts of its business (submissions, assessments, risk changes, alerts), which it hands the
kit as a ``counts`` function. Operators, and :mod:`zicht_devtools.reconcile`, put the four
answers side by side: what one service sent on a topic must be what the next one consumed.
Only an operator key may ask; the answer holds counts, never content.
"""

# No `from __future__ import annotations` here: FastAPI reads the dependency annotations
# of the route built in the closure at runtime, where strings cannot be resolved.

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query

from zicht_runtime.auth import KeyStore, Principal, authenticate, require_scope
from zicht_runtime.db import DbConnection
from zicht_runtime.problems import Problem, problem_responses

__all__ = ["OPERATOR_SCOPE", "Counts", "flow", "ops_router"]

OPERATOR_SCOPE = "operator"
"""The scope of an operator key, in every service."""

Counts = Callable[[DbConnection, datetime, datetime], Awaitable[Mapping[str, Any]]]
"""A service's business counts for ``[since, until)``: name to a number or a breakdown."""

_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


async def flow(
    conn: DbConnection,
    service: str,
    since: datetime,
    until: datetime,
    counts: Counts | None = None,
) -> dict[str, Any]:
    """The service's flow in ``[since, until)``, as ``GET /v1/ops/flow`` answers it.

    Args:
        conn: A connection on the service's schema.
        service: The service's name.
        since: Start of the period (inclusive, timezone-aware).
        until: End of the period (exclusive, timezone-aware).
        counts: The service's business counts, if it has any.

    Returns:
        ``consumed`` (events taken in per topic, dead-lettered ones included), ``produced``
        (events written to the outbox per topic, and how many of them are sent),
        ``dead_letters`` per topic consumed, the outbox ``backlog`` now (any period), and the
        service's ``counts``.
    """
    consumed = await conn.fetch(
        "SELECT topic, count(*) AS n FROM inbox WHERE processed_at >= $1 AND processed_at < $2 "
        "GROUP BY topic ORDER BY topic",
        since,
        until,
    )
    produced = await conn.fetch(
        "SELECT topic, count(*) AS written, count(sent_at) AS sent FROM outbox "
        "WHERE created_at >= $1 AND created_at < $2 GROUP BY topic ORDER BY topic",
        since,
        until,
    )
    dead = await conn.fetch(
        "SELECT topic, count(*) AS n FROM dead_letters "
        "WHERE dead_lettered_at >= $1 AND dead_lettered_at < $2 GROUP BY topic ORDER BY topic",
        since,
        until,
    )
    backlog = await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    return {
        "service": service,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "consumed": {r["topic"]: r["n"] for r in consumed},
        "produced": {r["topic"]: {"written": r["written"], "sent": r["sent"]} for r in produced},
        "dead_letters": {r["topic"]: r["n"] for r in dead},
        "backlog": backlog,
        "counts": dict(await counts(conn, since, until)) if counts is not None else {},
    }


def _aware(value: datetime | None, name: str, default: datetime) -> datetime:
    if value is None:
        return default
    if value.tzinfo is None:
        raise Problem(
            422,
            "invalid-parameter",
            "The request does not match the agreed format",
            errors=[
                {
                    "code": "invalid_value",
                    "parameter": name,
                    "detail": "a moment with its UTC offset (RFC 3339)",
                }
            ],
        )
    return value


def ops_router(
    service: str,
    pool: Callable[[], asyncpg.Pool],
    keys: Callable[[], KeyStore],
    counts: Counts | None = None,
) -> APIRouter:
    """The operators' flow route of one service."""
    router = APIRouter(prefix="/v1/ops", tags=["operations"])
    who = authenticate(keys)
    Operating = Annotated[  # noqa: N806
        Principal, Depends(require_scope(who, OPERATOR_SCOPE, code="forbidden"))
    ]

    @router.get(
        "/flow",
        summary="What this service consumed, produced and dead-lettered in a period (operators)",
        responses=problem_responses(401, 403, 422),
    )
    async def get_flow(
        _principal: Operating,
        since: Annotated[
            datetime | None, Query(description="Start (inclusive), RFC 3339; default: ever.")
        ] = None,
        until: Annotated[
            datetime | None, Query(description="End (exclusive), RFC 3339; default: now.")
        ] = None,
    ) -> dict[str, Any]:
        start = _aware(since, "since", _BEGINNING)
        end = _aware(until, "until", datetime.now(UTC))
        if start > end:
            raise Problem(
                422,
                "invalid-parameter",
                "The request does not match the agreed format",
                errors=[{"code": "invalid_value", "parameter": "since", "detail": "after until"}],
            )
        async with pool().acquire() as conn:
            return await flow(conn, service, start, end, counts)

    return router
