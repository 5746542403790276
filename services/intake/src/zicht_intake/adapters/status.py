"""What a partner sees of its submissions: status per part, and what triage made of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import asyncpg

from zicht_intake.domain import ItemStatus, SubmissionStatus
from zicht_runtime.db import DbConnection

__all__ = ["item_view", "list_submissions", "submission_status"]


async def submission_status(
    conn: DbConnection, submission_id: UUID, partner_id: str | None
) -> dict[str, Any] | None:
    """One submission with a result per part; None when absent or another partner's.

    An item's status is one of :class:`ItemStatus`: ``needs_provider`` while a signal waits
    for its provider, ``accepted`` once it goes on (when the outbox relay puts it on Kafka is
    intake's business, not the partner's), ``rejected``; then the assessment and the
    investigation it opened or joined. CSV parts carry their ``row`` in the file.
    """
    head = await conn.fetchrow(
        """
        SELECT submission_id, partner_id, source, kind, channel, partner_reference,
               received_at, status, rejections
        FROM submissions WHERE submission_id = $1 AND ($2::text IS NULL OR partner_id = $2)
        """,
        submission_id,
        partner_id,
    )
    if head is None:
        return None
    rows = await conn.fetch(
        """
        SELECT i.item_no, i.partner_reference, i.status, i.signal_id, i.provider_id,
               i.rejections, i.warnings,
               a.outcome, a.strategy, a.priority, a.framework_version, a.assessed_at,
               a.reasons, a.investigation_id, a.investigation_relation,
               v.state AS investigation_state, v.decision AS investigation_decision,
               v.closed_at AS investigation_closed_at
        FROM submission_items i
        LEFT JOIN signal_outcomes a ON a.signal_id = i.signal_id
        LEFT JOIN investigations v ON v.investigation_id = a.investigation_id
        WHERE i.submission_id = $1
        ORDER BY i.item_no
        """,
        submission_id,
    )
    items = [item_view(row, csv=head["kind"].endswith("_csv")) for row in rows]
    return {
        "submission_id": str(head["submission_id"]),
        "source": head["source"],
        "kind": head["kind"],
        "channel": head["channel"],
        "partner_reference": head["partner_reference"],
        "received_at": head["received_at"].isoformat(),
        "status": SubmissionStatus(head["status"]).value,
        "rejections": head["rejections"],
        "items": items,
    }


def item_view(row: Mapping[str, Any] | asyncpg.Record, *, csv: bool) -> dict[str, Any]:
    """One part of a submission (a row of the status query) as the status shows it."""
    item: dict[str, Any] = {"status": ItemStatus(row["status"]).value}
    if csv:
        item["row"] = row["item_no"]
    if row["partner_reference"]:
        item["partner_reference"] = row["partner_reference"]
    if row["signal_id"]:
        item["signal_id"] = str(row["signal_id"])
    if row["provider_id"]:
        item["provider_id"] = row["provider_id"]
    rejections = row["rejections"]
    if rejections:
        item["rejections"] = rejections
    warnings = row["warnings"]
    if warnings:
        item["warnings"] = warnings
    if row["outcome"] is not None:
        item["assessment"] = {
            "outcome": row["outcome"],
            "strategy": row["strategy"],
            "priority": row["priority"],
            "framework_version": row["framework_version"],
            "assessed_at": row["assessed_at"].isoformat(),
            "reasons": row["reasons"],
        }
    if row["investigation_id"] is not None:
        item["investigation"] = {
            "investigation_id": str(row["investigation_id"]),
            "relation": row["investigation_relation"],
            "state": row["investigation_state"] or "open",
            "decision": row["investigation_decision"],
            "closed_at": row["investigation_closed_at"].isoformat()
            if row["investigation_closed_at"]
            else None,
        }
    return item


async def list_submissions(
    conn: DbConnection,
    partner_id: str | None,
    *,
    partner_reference: str | None,
    status: str | None,
    limit: int,
    provider_id: str | None = None,
) -> list[dict[str, Any]]:
    """A partner's submissions, newest first, optionally by reference or status."""
    rows = await conn.fetch(
        """
        SELECT s.submission_id, s.source, s.kind, s.partner_reference, s.received_at, s.status,
               count(i.*) AS items,
               count(i.*) FILTER (WHERE i.status = 'needs_provider') AS needs_provider
        FROM submissions s LEFT JOIN submission_items i USING (submission_id)
        WHERE ($1::text IS NULL OR s.partner_id = $1)
          AND ($2::text IS NULL OR s.partner_reference = $2
               OR EXISTS (SELECT 1 FROM submission_items r
                          WHERE r.submission_id = s.submission_id AND r.partner_reference = $2))
          AND ($3::text IS NULL OR s.status = $3
               OR ($3 = 'needs_provider' AND EXISTS (
                   SELECT 1 FROM submission_items n
                   WHERE n.submission_id = s.submission_id AND n.status = 'needs_provider')))
          AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM submission_items p
                   WHERE p.submission_id = s.submission_id AND p.provider_id = $5))
        GROUP BY s.submission_id
        ORDER BY s.received_at DESC, s.submission_id
        LIMIT $4
        """,
        partner_id,
        partner_reference,
        status,
        limit,
        provider_id,
    )
    return [
        {
            "submission_id": str(r["submission_id"]),
            "source": r["source"],
            "kind": r["kind"],
            "partner_reference": r["partner_reference"],
            "received_at": r["received_at"].isoformat(),
            "status": SubmissionStatus(r["status"]).value,
            "items": r["items"],
            "needs_provider": r["needs_provider"],
            "status_url": f"/v1/submissions/{r['submission_id']}",
        }
        for r in rows
    ]
