"""Notify's business counts for operators (``GET /v1/ops/flow``) and the reconciliation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from zicht_runtime.db import DbConnection

__all__ = ["business_counts"]


async def business_counts(
    conn: DbConnection, since: datetime, until: datetime
) -> Mapping[str, Any]:
    """Alerts made then, by state, and per recipient (``kind:id``) by state."""
    rows = await conn.fetch(
        "SELECT subscriber_kind, subscriber_id, state, count(*) AS n FROM alerts "
        "WHERE created_at >= $1 AND created_at < $2 "
        "GROUP BY subscriber_kind, subscriber_id, state ORDER BY subscriber_kind, subscriber_id",
        since,
        until,
    )
    by_state: dict[str, int] = {}
    per_recipient: dict[str, dict[str, int]] = {}
    for row in rows:
        by_state[row["state"]] = by_state.get(row["state"], 0) + row["n"]
        recipient = f"{row['subscriber_kind']}:{row['subscriber_id']}"
        per_recipient.setdefault(recipient, {})[row["state"]] = row["n"]
    return {"alerts": by_state, "alerts_per_recipient": per_recipient}
