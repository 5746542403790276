"""Intake's tables in Postgres: raw submissions, items, signals, registry, outcomes, log.

All SQL of the service lives here, raw and parameterised. Every function takes the
connection of the caller's transaction, so a state change and the events it causes (in the
outbox) commit together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from zicht_intake.domain import RegistryLocation, RegistryProvider
from zicht_runtime.db import DbConnection
from zicht_runtime.retention import BATCH as PURGE_BATCH
from zicht_schemas import CareService

__all__ = [
    "ItemRow",
    "SignalRow",
    "StoredFreeText",
    "StoredSubmission",
    "SubmissionRow",
    "find_signal_by_reference",
    "find_submission",
    "insert_item",
    "insert_signal",
    "insert_submission",
    "log_processing",
    "purge_raw_submissions",
    "registry_candidates",
    "signal_free_text",
]


@dataclass(frozen=True, slots=True)
class SubmissionRow:
    """A raw submission as received, before anything was made of it."""

    submission_id: UUID
    partner_id: str
    key_id: str | None
    source: str
    kind: str
    channel: str
    partner_reference: str | None
    idempotency_key: str | None
    content_digest: bytes
    content_type: str
    raw: bytes
    received_at: datetime
    trace_id: str | None = None
    kafka_topic: str | None = None
    kafka_partition: int | None = None
    kafka_offset: int | None = None
    canonical_digest: bytes | None = None
    """The digest of the body's canonical JSON; None when the body is no JSON document."""


@dataclass(frozen=True, slots=True)
class StoredSubmission:
    """What is known of an earlier submission when the same one arrives again."""

    submission_id: UUID
    content_digest: bytes
    canonical_digest: bytes | None
    status: str
    received_at: datetime
    rejections: list[dict[str, Any]]
    by_key: bool
    """Found by the request's idempotency key (else by the partner reference)."""


@dataclass(frozen=True, slots=True)
class ItemRow:
    """The result of one part of a submission (a signal, a row, a provider, a report)."""

    submission_id: UUID
    item_no: int
    partner_reference: str | None
    status: str
    signal_id: UUID | None = None
    provider_id: str | None = None
    rejections: Sequence[dict[str, Any]] = ()
    warnings: Sequence[dict[str, Any]] = ()


@dataclass(frozen=True, slots=True)
class SignalRow:
    """A normalised signal kept by intake (pseudonymised, masked)."""

    signal_id: UUID
    submission_id: UUID
    item_no: int
    partner_id: str
    source: str
    partner_reference: str
    received_at: datetime
    occurred_at: datetime
    status: str
    provider_id: str | None
    matched_by: str | None
    draft: str
    free_text: str | None
    content_digest: bytes
    event_id: str | None


async def find_submission(
    conn: DbConnection,
    partner_id: str,
    kind: str,
    reference: str | None,
    idempotency_key: str | None,
) -> StoredSubmission | None:
    """The partner's earlier submission with this idempotency key or reference, if any."""
    row = await conn.fetchrow(
        """
        SELECT submission_id, content_digest, canonical_digest, status, received_at, rejections,
               coalesce(idempotency_key = $4, false) AS by_key
        FROM submissions
        WHERE partner_id = $1
          AND (($4::text IS NOT NULL AND idempotency_key = $4)
               OR ($3::text IS NOT NULL AND kind = $2 AND partner_reference = $3
                   AND status <> 'rejected'))
        ORDER BY (idempotency_key = $4) DESC NULLS LAST
        LIMIT 1
        """,
        partner_id,
        kind,
        reference,
        idempotency_key,
    )
    if row is None:
        return None
    return StoredSubmission(
        submission_id=row["submission_id"],
        content_digest=bytes(row["content_digest"]),
        canonical_digest=None
        if row["canonical_digest"] is None
        else bytes(row["canonical_digest"]),
        status=row["status"],
        received_at=row["received_at"],
        rejections=row["rejections"],
        by_key=row["by_key"],
    )


async def insert_submission(conn: DbConnection, sub: SubmissionRow, status: str) -> None:
    """Store a raw submission (within the caller's transaction)."""
    await conn.execute(
        """
        INSERT INTO submissions (submission_id, partner_id, key_id, source, kind, channel,
            partner_reference, idempotency_key, content_digest, content_type, raw,
            received_at, status, trace_id, kafka_topic, kafka_partition, kafka_offset,
            canonical_digest)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18)
        """,
        sub.submission_id,
        sub.partner_id,
        sub.key_id,
        sub.source,
        sub.kind,
        sub.channel,
        sub.partner_reference,
        sub.idempotency_key,
        sub.content_digest,
        sub.content_type,
        sub.raw,
        sub.received_at,
        status,
        sub.trace_id,
        sub.kafka_topic,
        sub.kafka_partition,
        sub.kafka_offset,
        sub.canonical_digest,
    )


async def set_submission_status(
    conn: DbConnection, submission_id: UUID, status: str, rejections: Sequence[dict[str, Any]]
) -> None:
    """Record what became of a submission as a whole."""
    await conn.execute(
        "UPDATE submissions SET status = $2, rejections = $3::jsonb WHERE submission_id = $1",
        submission_id,
        status,
        list(rejections),
    )


async def insert_item(conn: DbConnection, item: ItemRow) -> None:
    """Record the result of one part of a submission."""
    await conn.execute(
        """
        INSERT INTO submission_items (submission_id, item_no, partner_reference, status,
            signal_id, provider_id, rejections, warnings)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)
        """,
        item.submission_id,
        item.item_no,
        item.partner_reference,
        item.status,
        item.signal_id,
        item.provider_id,
        list(item.rejections),
        list(item.warnings),
    )


async def find_signal_by_reference(
    conn: DbConnection, partner_id: str, source: str, reference: str
) -> tuple[UUID, bytes] | None:
    """The signal a partner sent earlier under this reference: its id and content digest."""
    row = await conn.fetchrow(
        "SELECT signal_id, content_digest FROM signals "
        "WHERE partner_id = $1 AND source = $2 AND partner_reference = $3",
        partner_id,
        source,
        reference,
    )
    return None if row is None else (row["signal_id"], bytes(row["content_digest"]))


async def insert_signal(conn: DbConnection, signal: SignalRow) -> None:
    """Keep a normalised signal."""
    await conn.execute(
        """
        INSERT INTO signals (signal_id, submission_id, item_no, partner_id, source,
            partner_reference, received_at, occurred_at, status, provider_id, matched_by,
            draft, free_text, content_digest, event_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::jsonb, $13, $14, $15)
        """,
        signal.signal_id,
        signal.submission_id,
        signal.item_no,
        signal.partner_id,
        signal.source,
        signal.partner_reference,
        signal.received_at,
        signal.occurred_at,
        signal.status,
        signal.provider_id,
        signal.matched_by,
        signal.draft,
        signal.free_text,
        signal.content_digest,
        signal.event_id,
    )


async def registry_candidates(
    conn: DbConnection, kvk: str | None, agb: str | None, postcode: str | None
) -> list[RegistryProvider]:
    """Every registered provider sharing the KvK or AGB, or with a location at the postcode."""
    if kvk is None and agb is None and postcode is None:
        return []
    rows = await conn.fetch(
        """
        SELECT p.provider_id, p.name, p.kvk, p.agb,
               coalesce(array_agg(l.location_id ORDER BY l.location_id)
                        FILTER (WHERE l.location_id IS NOT NULL), '{}') AS location_ids,
               coalesce(jsonb_agg(jsonb_build_object(
                   'location_id', l.location_id, 'postcode', l.postcode,
                   'house_number', l.house_number, 'addition', l.house_number_addition,
                   'municipality_code', l.municipality_code, 'services', l.services)
                   ORDER BY l.location_id) FILTER (WHERE l.location_id IS NOT NULL),
                   '[]'::jsonb) AS locations
        FROM providers p
        LEFT JOIN provider_locations l USING (provider_id)
        WHERE p.provider_id IN (
            SELECT provider_id FROM providers WHERE $1::text IS NOT NULL AND kvk = $1
            UNION SELECT provider_id FROM providers WHERE $2::text IS NOT NULL AND agb = $2
            UNION SELECT provider_id FROM provider_locations
                  WHERE $3::text IS NOT NULL AND postcode = $3)
        GROUP BY p.provider_id
        ORDER BY p.provider_id
        LIMIT 50
        """,
        kvk,
        agb,
        postcode,
    )
    return [_registry_provider(row) for row in rows]


async def registry_provider(conn: DbConnection, provider_id: str) -> RegistryProvider | None:
    """One registered provider with its locations, or None."""
    row = await conn.fetchrow(
        """
        SELECT p.provider_id, p.name, p.kvk, p.agb,
               coalesce(jsonb_agg(jsonb_build_object(
                   'location_id', l.location_id, 'postcode', l.postcode,
                   'house_number', l.house_number, 'addition', l.house_number_addition,
                   'municipality_code', l.municipality_code, 'services', l.services)
                   ORDER BY l.location_id) FILTER (WHERE l.location_id IS NOT NULL),
                   '[]'::jsonb) AS locations
        FROM providers p LEFT JOIN provider_locations l USING (provider_id)
        WHERE p.provider_id = $1
        GROUP BY p.provider_id
        """,
        provider_id,
    )
    return None if row is None else _registry_provider(row)


def _registry_provider(row: Any) -> RegistryProvider:
    locations = tuple(
        RegistryLocation(
            location_id=loc["location_id"],
            postcode=loc["postcode"],
            house_number=loc["house_number"],
            house_number_addition=loc["addition"],
            municipality_code=loc["municipality_code"],
            services=tuple(CareService(s) for s in loc["services"]),
        )
        for loc in row["locations"]
    )
    return RegistryProvider(
        provider_id=row["provider_id"],
        name=row["name"],
        kvk=row["kvk"],
        agb=row["agb"],
        locations=locations,
    )


@dataclass(frozen=True, slots=True)
class StoredProvider:
    """The registry's entry of a provider as stored."""

    provider_id: str
    entry_digest: bytes
    registry_version: int


async def stored_provider(conn: DbConnection, provider_id: str) -> StoredProvider | None:
    """The stored registry entry's digest and version (locked for update), or None."""
    row = await conn.fetchrow(
        "SELECT provider_id, entry_digest, registry_version FROM providers "
        "WHERE provider_id = $1 FOR UPDATE",
        provider_id,
    )
    if row is None:
        return None
    return StoredProvider(row["provider_id"], bytes(row["entry_digest"]), row["registry_version"])


@dataclass(frozen=True, slots=True)
class LocationRow:
    """A location of a provider as stored for identification."""

    location_id: str
    postcode: str
    house_number: int | None
    house_number_addition: str | None
    municipality_code: str
    services: tuple[str, ...]


async def save_provider(
    conn: DbConnection,
    *,
    provider_id: str,
    name: str,
    name_key: str,
    kvk: str | None,
    agb: str | None,
    entry: str,
    entry_digest: bytes,
    registry_version: int,
    updated_at: datetime,
    locations: Iterable[LocationRow],
) -> None:
    """Replace a provider's registry entry and locations."""
    await conn.execute(
        """
        INSERT INTO providers (provider_id, name, name_key, kvk, agb, entry, entry_digest,
                               registry_version, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, $8, $9)
        ON CONFLICT (provider_id) DO UPDATE SET name = $2, name_key = $3, kvk = $4, agb = $5,
            entry = $6::text::jsonb, entry_digest = $7, registry_version = $8, updated_at = $9
        """,
        provider_id,
        name,
        name_key,
        kvk,
        agb,
        entry,
        entry_digest,
        registry_version,
        updated_at,
    )
    await conn.execute("DELETE FROM provider_locations WHERE provider_id = $1", provider_id)
    rows = [
        (
            provider_id,
            loc.location_id,
            loc.postcode,
            loc.house_number,
            loc.house_number_addition,
            loc.municipality_code,
            list(loc.services),
        )
        for loc in locations
    ]
    if rows:
        await conn.executemany(
            """
            INSERT INTO provider_locations (provider_id, location_id, postcode, house_number,
                house_number_addition, municipality_code, services)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            rows,
        )


@dataclass(frozen=True, slots=True)
class StoredFreeText:
    """The free text a partner wrote with a signal (masked), and where the signal came from."""

    signal_id: UUID
    submission_id: UUID
    source: str
    free_text: str | None


async def signal_free_text(conn: DbConnection, signal_id: UUID) -> StoredFreeText | None:
    """A signal's free text, or None when there is no such signal."""
    row = await conn.fetchrow(
        "SELECT signal_id, submission_id, source, free_text FROM signals WHERE signal_id = $1",
        signal_id,
    )
    if row is None:
        return None
    return StoredFreeText(row["signal_id"], row["submission_id"], row["source"], row["free_text"])


async def log_processing(
    conn: DbConnection,
    *,
    actor: str,
    action: str,
    purpose: str,
    submission_id: UUID | None = None,
    signal_id: UUID | None = None,
    trace_id: str | None = None,
) -> None:
    """Write one line of the processing log: who did what with personal data, and why."""
    await conn.execute(
        """
        INSERT INTO processing_log (actor, action, purpose, submission_id, signal_id, trace_id)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        actor,
        action,
        purpose,
        submission_id,
        signal_id,
        trace_id,
    )


async def purge_raw_submissions(conn: DbConnection, before: datetime, now: datetime) -> int:
    """Remove the raw body of submissions received before ``before``, batch by batch.

    The row stays: its receipt (partner, reference, time, status, reasons) and its digests,
    so a later question about the submission, and a partner's retry of it, are still
    answered; ``purged_at`` says when the body went.
    """
    purged = 0
    while True:
        status = await conn.execute(
            """
            UPDATE submissions SET raw = NULL, purged_at = $2
            WHERE submission_id = ANY(ARRAY(
                SELECT submission_id FROM submissions
                WHERE raw IS NOT NULL AND received_at < $1 LIMIT $3))
            """,
            before,
            now,
            PURGE_BATCH,
        )
        done = int(status.split()[-1])
        purged += done
        if done < PURGE_BATCH:
            return purged
