"""Scoring's business counts for operators (``GET /v1/ops/flow``) and the reconciliation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from zicht_runtime.db import DbConnection

__all__ = ["business_counts"]


async def business_counts(
    conn: DbConnection, since: datetime, until: datetime
) -> Mapping[str, Any]:
    """Signals weighed and risk changes by new level then; providers by level now."""
    weighed = await conn.fetchval(
        "SELECT count(*) FROM signals WHERE assessed_at >= $1 AND assessed_at < $2", since, until
    )
    changes = await conn.fetch(
        "SELECT level, count(*) AS n FROM risk_history "
        "WHERE evaluated_at >= $1 AND evaluated_at < $2 GROUP BY level",
        since,
        until,
    )
    levels = await conn.fetch("SELECT level, count(*) AS n FROM risk GROUP BY level")
    return {
        "signals_weighed": weighed,
        "risk_changes": {r["level"]: r["n"] for r in changes},
        "providers_by_level_now": {r["level"]: r["n"] for r in levels},
    }
