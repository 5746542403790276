"""Intake's business counts for operators (``GET /v1/ops/flow``) and the reconciliation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from zicht_runtime.db import DbConnection

__all__ = ["business_counts"]


async def business_counts(
    conn: DbConnection, since: datetime, until: datetime
) -> Mapping[str, Any]:
    """Submissions, their parts and their signal parts by status; signals by source; then."""
    submissions = await conn.fetch(
        "SELECT status, count(*) AS n FROM submissions "
        "WHERE received_at >= $1 AND received_at < $2 GROUP BY status",
        since,
        until,
    )
    items = await conn.fetch(
        "SELECT i.status, count(*) AS n FROM submission_items i JOIN submissions s "
        "USING (submission_id) WHERE s.received_at >= $1 AND s.received_at < $2 "
        "GROUP BY i.status",
        since,
        until,
    )
    # The parts that are signals (not registry entries or indicator reports), by status: an
    # accepted one has had its signal.received event written.
    signal_parts = await conn.fetch(
        "SELECT i.status, count(*) AS n FROM submission_items i JOIN submissions s "
        "USING (submission_id) WHERE s.received_at >= $1 AND s.received_at < $2 "
        "AND i.signal_id IS NOT NULL GROUP BY i.status",
        since,
        until,
    )
    signals = await conn.fetch(
        "SELECT source, count(*) AS n FROM signals "
        "WHERE received_at >= $1 AND received_at < $2 GROUP BY source",
        since,
        until,
    )
    return {
        "submissions": {r["status"]: r["n"] for r in submissions},
        "items": {r["status"]: r["n"] for r in items},
        "signal_parts": {r["status"]: r["n"] for r in signal_parts},
        "signals": {r["source"]: r["n"] for r in signals},
    }
