"""Triage's business counts for operators (``GET /v1/ops/flow``) and the reconciliation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from zicht_runtime.db import DbConnection

__all__ = ["business_counts"]


async def business_counts(
    conn: DbConnection, since: datetime, until: datetime
) -> Mapping[str, Any]:
    """Signals taken in, current assessments by outcome, and investigations opened, then."""
    signals = await conn.fetchval(
        "SELECT count(*) FROM signals WHERE received_at >= $1 AND received_at < $2", since, until
    )
    assessed = await conn.fetch(
        "SELECT outcome, count(*) AS n FROM assessments "
        "WHERE current AND assessed_at >= $1 AND assessed_at < $2 GROUP BY outcome",
        since,
        until,
    )
    opened = await conn.fetchval(
        "SELECT count(*) FROM investigations WHERE opened_at >= $1 AND opened_at < $2",
        since,
        until,
    )
    return {
        "signals": signals,
        "assessed": {r["outcome"]: r["n"] for r in assessed},
        "investigations_opened": opened,
    }
