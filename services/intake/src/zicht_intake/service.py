"""The intake service's use cases: record, normalise, identify, pseudonymise, publish.

Every use case runs inside the caller's transaction: the raw submission, what became of
each part of it, and the events to publish (in the outbox) commit together, so a partner
hears ``202`` only for what is stored, and nothing stored is left unpublished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from opentelemetry import trace
from pydantic import TypeAdapter, ValidationError

from zicht_intake.adapters import postgres as db
from zicht_intake.domain import (
    Identification,
    PartnerFormat,
    Pseudonymiser,
    Refusal,
    Rejection,
    SignalDraft,
    canonical_json,
    complete,
    identify,
    normalise_igj,
    normalise_indicators,
    normalise_police,
    normalise_registry,
    parse_access_team_csv,
    parse_indicators_csv,
    parse_registry_csv,
    provider_name_key,
    reference_of,
    registry_locations,
)
from zicht_intake.metrics import IntakeMetrics, default_metrics
from zicht_runtime.clock import Clock
from zicht_runtime.db import DbConnection
from zicht_runtime.outbox import write_events
from zicht_runtime.telemetry import business_span
from zicht_schemas import (
    CloudEvent,
    InvestigationChangedV1,
    ProviderMatch,
    SignalAssessedV1,
    SignalReceivedV1,
    SignalRejectedV1,
    Source,
    new_event,
)

__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "Incoming",
    "IntakeService",
    "ItemResult",
    "SubmissionKind",
    "SubmissionOutcome",
    "signal_tally",
]

log = logging.getLogger(__name__)
tracer = trace.get_tracer("zicht.intake")

_NAMESPACE = uuid.UUID("6a1f3c2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b")
_PURPOSE = "supervision of Wmo 2015 and Jeugdwet care: signal intake"
_DRAFT = TypeAdapter(SignalDraft)

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
"""The HTTP header a partner may name a submission by, to retry it safely."""


class SubmissionKind:
    """What a submission holds; one reference space per kind and partner."""

    SIGNAL = "signal"
    ACCESS_TEAM_CSV = "access_team_csv"
    REGISTRY = "registry"
    REGISTRY_CSV = "registry_csv"
    INDICATORS = "indicators"
    INDICATORS_CSV = "indicators_csv"


_JSON_KINDS = frozenset({SubmissionKind.SIGNAL, SubmissionKind.REGISTRY, SubmissionKind.INDICATORS})


@dataclass(frozen=True, slots=True)
class Incoming:
    """A submission as it arrived, over HTTP or Kafka, from an authenticated partner."""

    partner_id: str
    source: Source
    channel: str
    body: bytes
    content_type: str = ""
    key_id: str | None = None
    idempotency_key: str | None = None
    team: str | None = None
    kafka_topic: str | None = None
    kafka_partition: int | None = None
    kafka_offset: int | None = None
    kafka_key: str | None = None


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one part of a submission."""

    item_no: int
    partner_reference: str | None
    status: str
    signal_id: UUID | None = None
    provider_id: str | None = None
    rejections: tuple[Rejection, ...] = ()


@dataclass(frozen=True, slots=True)
class SubmissionOutcome:
    """The answer to a submission: stored as what, and why."""

    submission_id: UUID
    status: str
    received_at: datetime
    replayed: bool = False
    conflict: bool = False
    rejections: tuple[Rejection, ...] = ()
    items: tuple[ItemResult, ...] = field(default_factory=tuple)
    stored_errors: tuple[dict[str, Any], ...] = ()
    """On a replay: the rejections the first submission got, as answered then."""

    @property
    def refused(self) -> bool:
        """Nothing of the submission was accepted."""
        return self.status == "rejected"


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _canonical_digest(kind: str, body: bytes) -> bytes | None:
    """The digest of a JSON body's canonical form; None for CSV and for what is no JSON."""
    canonical = canonical_json(body) if kind in _JSON_KINDS else None
    return None if canonical is None else _digest(canonical)


def _same_content(earlier: db.StoredSubmission, kind: str, body: bytes) -> bool:
    """Whether a resubmission holds what the earlier one held: the same JSON, however written."""
    canonical = _canonical_digest(kind, body)
    if canonical is not None and earlier.canonical_digest is not None:
        return canonical == earlier.canonical_digest
    return earlier.content_digest == _digest(body)


def _trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def rejection_json(rejection: Rejection) -> dict[str, Any]:
    """A rejection as stored and answered: code, where, and a fixed detail."""
    item: dict[str, Any] = {"code": rejection.code.value, "detail": rejection.detail}
    if rejection.pointer is not None:
        item["pointer"] = rejection.pointer
    if rejection.row is not None:
        item["row"] = rejection.row
    if rejection.column is not None:
        item["column"] = rejection.column
    if rejection.header is not None:
        item["header"] = rejection.header
    return item


def _reused_idempotency_key() -> Rejection:
    from zicht_schemas import RejectionCode  # noqa: PLC0415  # keeps the top import list short

    return Rejection(
        RejectionCode.DUPLICATE_REFERENCE,
        "this Idempotency-Key was used before with a different body; a new submission needs "
        "a new key",
        header=IDEMPOTENCY_KEY_HEADER,
    )


def _duplicate_reference(pointer: str | None = None, row: int | None = None) -> Rejection:
    from zicht_schemas import RejectionCode  # noqa: PLC0415  # keeps the top import list short

    return Rejection(
        RejectionCode.DUPLICATE_REFERENCE,
        "this reference was used before with different content; a correction is a new "
        "signal with a new reference",
        pointer=pointer,
        row=row,
        column="kenmerk" if row is not None else None,
    )


@dataclass
class IntakeService:
    """Records partners' submissions and turns them into canonical, pseudonymised events."""

    clock: Clock
    pseudonymiser: Pseudonymiser
    source: str
    metrics: IntakeMetrics = field(default_factory=default_metrics)

    # --- signals ------------------------------------------------------------------------

    async def submit_signal(
        self, conn: DbConnection, incoming: Incoming, fmt: PartnerFormat
    ) -> SubmissionOutcome:
        """One JSON signal (IGJ or police): stored, normalised, identified, published."""
        with self.metrics.normalising():
            outcome = await self._submit_signal(conn, incoming, fmt)
        self._count(incoming, outcome)
        return outcome

    async def submit_access_team_csv(
        self, conn: DbConnection, incoming: Incoming
    ) -> SubmissionOutcome:
        """An access team's CSV file: every row accepted or rejected on its own."""
        with self.metrics.normalising():
            outcome = await self._submit_access_team_csv(conn, incoming)
        self._count(incoming, outcome)
        return outcome

    def _count(self, incoming: Incoming, outcome: SubmissionOutcome) -> None:
        """Count a submission's signals, once its transaction commits."""
        received, rejected = signal_tally(outcome)
        if received:
            self.metrics.signals(incoming.source.value, incoming.channel, received, rejected)

    async def _submit_signal(
        self, conn: DbConnection, incoming: Incoming, fmt: PartnerFormat
    ) -> SubmissionOutcome:
        now = self.clock.now()
        reference = reference_of(fmt, incoming.body) or incoming.kafka_key
        with business_span(
            tracer,
            "normalise signal",
            {"zicht.source": incoming.source.value, "zicht.channel": incoming.channel},
        ) as span:
            earlier = await self._earlier(conn, incoming, SubmissionKind.SIGNAL, reference, now)
            if earlier is not None:
                return earlier
            submission_id = uuid.uuid4()
            span.set_attribute("zicht.submission_id", str(submission_id))
            await self._store_raw(
                conn, incoming, SubmissionKind.SIGNAL, reference, submission_id, now
            )
            normalise = normalise_igj if fmt is PartnerFormat.IGJ else normalise_police
            result = normalise(incoming.body, received_at=now, pseudonymiser=self.pseudonymiser)
            if isinstance(result, Refusal):
                span.set_attribute("zicht.outcome", "rejected")
                return await self._refuse(conn, incoming, submission_id, reference, now, result)
            item = await self._accept_signal(conn, incoming, submission_id, 0, result, now)
            span.set_attribute("zicht.outcome", item.status)
            status = "rejected" if item.status == "rejected" else "accepted"
            await db.set_submission_status(
                conn, submission_id, status, [rejection_json(r) for r in item.rejections]
            )
            if item.rejections:
                await self._publish_rejection(
                    conn, incoming, submission_id, reference, now, item.rejections
                )
            return SubmissionOutcome(
                submission_id, status, now, rejections=item.rejections, items=(item,)
            )

    async def _submit_access_team_csv(
        self, conn: DbConnection, incoming: Incoming
    ) -> SubmissionOutcome:
        now = self.clock.now()
        reference = incoming.idempotency_key and None  # files have no reference; rows do
        with business_span(
            tracer,
            "normalise signal",
            {"zicht.source": incoming.source.value, "zicht.channel": incoming.channel},
        ) as span:
            earlier = await self._earlier(
                conn, incoming, SubmissionKind.ACCESS_TEAM_CSV, reference, now
            )
            if earlier is not None:
                return earlier
            submission_id = uuid.uuid4()
            span.set_attribute("zicht.submission_id", str(submission_id))
            await self._store_raw(
                conn, incoming, SubmissionKind.ACCESS_TEAM_CSV, None, submission_id, now
            )
            parsed = parse_access_team_csv(
                incoming.body,
                received_at=now,
                pseudonymiser=self.pseudonymiser,
                team=incoming.team or incoming.partner_id,
            )
            if isinstance(parsed, Refusal):
                return await self._refuse(conn, incoming, submission_id, None, now, parsed)
            items: list[ItemResult] = []
            for row in parsed:
                if isinstance(row.result, Refusal):
                    item = ItemResult(
                        row.row, row.partner_reference, "rejected", rejections=row.result.rejections
                    )
                    await self._store_item(conn, submission_id, item)
                    await self._publish_rejection(
                        conn,
                        incoming,
                        submission_id,
                        row.partner_reference,
                        now,
                        row.result.rejections,
                    )
                else:
                    item = await self._accept_signal(
                        conn, incoming, submission_id, row.row, row.result, now
                    )
                    if item.rejections:
                        await self._publish_rejection(
                            conn,
                            incoming,
                            submission_id,
                            row.partner_reference,
                            now,
                            item.rejections,
                        )
                items.append(item)
            status = _overall(items)
            span.set_attribute("zicht.outcome", status)
            await db.set_submission_status(conn, submission_id, status, [])
            return SubmissionOutcome(submission_id, status, now, items=tuple(items))

    async def _accept_signal(  # noqa: PLR0917  # the steps of one use case, called in its order
        self,
        conn: DbConnection,
        incoming: Incoming,
        submission_id: UUID,
        item_no: int,
        draft: SignalDraft,
        now: datetime,
    ) -> ItemResult:
        """Keep a normalised signal; publish it when its provider is known."""
        reference = draft.partner_reference
        draft_json = _DRAFT.dump_json(draft)
        digest = _digest(_DRAFT.dump_json(_without_receipt(draft)))
        earlier = await db.find_signal_by_reference(
            conn, incoming.partner_id, draft.source.value, reference
        )
        if earlier is not None:
            signal_id, earlier_digest = earlier
            if earlier_digest == digest:
                item = ItemResult(item_no, reference, "accepted", signal_id=signal_id)
            else:
                pointer = None if item_no else "/" + _reference_field(draft.source)
                item = ItemResult(
                    item_no,
                    reference,
                    "rejected",
                    rejections=(_duplicate_reference(pointer, item_no or None),),
                )
            await self._store_item(conn, submission_id, item)
            return item
        signal_id = uuid.uuid5(_NAMESPACE, f"{incoming.partner_id}/{draft.source}/{reference}")
        identification = await self._identify(conn, draft)
        event = complete(
            draft,
            identification,
            signal_id=signal_id,
            submission_id=submission_id,
            partner_id=incoming.partner_id,
            received_at=now,
        )
        status = "needs_provider" if event is None else "accepted"
        event_id = await self._publish_received(conn, event, submission_id, now) if event else None
        await db.insert_signal(
            conn,
            db.SignalRow(
                signal_id=signal_id,
                submission_id=submission_id,
                item_no=item_no,
                partner_id=incoming.partner_id,
                source=draft.source.value,
                partner_reference=reference,
                received_at=now,
                occurred_at=draft.occurred_at,
                status=status,
                provider_id=event.provider.provider_id if event else None,
                matched_by=event.provider.matched_by.value if event else None,
                draft=draft_json.decode(),
                free_text=draft.free_text,
                content_digest=digest,
                event_id=event_id,
            ),
        )
        warnings = [_warning_json(w) for w in draft.warnings]
        item = ItemResult(
            item_no,
            reference,
            status,
            signal_id=signal_id,
            provider_id=event.provider.provider_id if event else None,
        )
        await self._store_item(conn, submission_id, item, warnings)
        trace_id = _trace_id()
        if draft.client_pseudonyms:
            await db.log_processing(
                conn,
                actor=f"intake:{incoming.partner_id}",
                action="pseudonymise client BSN",
                purpose=_PURPOSE,
                submission_id=submission_id,
                signal_id=signal_id,
                trace_id=trace_id,
            )
        return item

    async def _identify(self, conn: DbConnection, draft: SignalDraft) -> Identification | None:
        hint = draft.provider
        candidates = await db.registry_candidates(conn, hint.kvk, hint.agb, hint.postcode)
        return identify(hint, candidates)

    async def _publish_received(
        self, conn: DbConnection, event: SignalReceivedV1, submission_id: UUID, now: datetime
    ) -> str:
        cloud = new_event(
            event,
            source=self.source,
            event_id=uuid.uuid5(event.signal_id, "signal.received"),
            correlation_id=event.signal_id,
            causation_id=submission_id,
            time=now,
        )
        await write_events(conn, cloud)
        return cloud.id

    # --- supervisors ----------------------------------------------------------------------

    async def read_free_text(
        self, conn: DbConnection, signal_id: UUID, *, reader: str
    ) -> db.StoredFreeText | None:
        """A signal's free text for a supervisor; every read is logged, in the same transaction.

        None when there is no such signal (nothing was read, so nothing is logged).
        """
        found = await db.signal_free_text(conn, signal_id)
        if found is None:
            return None
        await db.log_processing(
            conn,
            actor=reader,
            action="read free text of a signal",
            purpose=_PURPOSE,
            submission_id=found.submission_id,
            signal_id=signal_id,
            trace_id=_trace_id(),
        )
        return found

    # --- operators ------------------------------------------------------------------------

    async def resolve_provider(
        self,
        conn: DbConnection,
        submission_id: UUID,
        provider_id: str,
        *,
        item_no: int | None,
        operator: str,
    ) -> list[UUID] | None:
        """Name the provider of waiting signals; they go on. None: no such provider."""
        provider = await db.registry_provider(conn, provider_id)
        if provider is None:
            return None
        rows = await conn.fetch(
            "SELECT signal_id, submission_id, item_no, partner_id, received_at, "
            "draft::text AS draft FROM signals WHERE submission_id = $1 "
            "AND status = 'needs_provider' AND ($2::int IS NULL OR item_no = $2) FOR UPDATE",
            submission_id,
            item_no,
        )
        now = self.clock.now()
        done: list[UUID] = []
        for row in rows:
            draft = _DRAFT.validate_json(row["draft"])
            location = _location_for(draft, provider)
            identification = Identification(provider, location, ProviderMatch.REGISTRY_ID)
            if not await self._release(conn, row, draft, identification, operator, now):
                continue
            await db.log_processing(
                conn,
                actor=operator,
                action="resolve provider of a waiting signal",
                purpose=_PURPOSE,
                submission_id=submission_id,
                signal_id=row["signal_id"],
                trace_id=_trace_id(),
            )
            done.append(row["signal_id"])
        return done

    async def release_waiting(
        self, conn: DbConnection, provider_id: str | None = None, *, limit: int = 500
    ) -> list[UUID]:
        """Signals waiting for a provider that the registry now knows go on; their ids.

        With ``provider_id``, the signals that provider may be about (its KvK, AGB or a
        location's postcode); without, every waiting signal that any registered provider may
        be about (the sweep at start and on schedule, which also catches a signal committed
        while its provider's registration was being written). Each is identified as at
        receipt, among every candidate, so a shared postcode cannot pick the wrong provider.
        Rows another transaction holds are skipped: that transaction, or the next sweep,
        takes them.
        """
        rows = await conn.fetch(
            """
            SELECT s.signal_id, s.submission_id, s.item_no, s.partner_id, s.received_at,
                   s.draft::text AS draft
            FROM signals s
            WHERE s.status = 'needs_provider'
              AND EXISTS (
                SELECT 1 FROM providers p
                WHERE ($1::text IS NULL OR p.provider_id = $1)
                  AND (p.kvk = s.draft -> 'provider' ->> 'kvk'
                       OR p.agb = s.draft -> 'provider' ->> 'agb'
                       OR EXISTS (SELECT 1 FROM provider_locations l
                                  WHERE l.provider_id = p.provider_id
                                    AND l.postcode = s.draft -> 'provider' ->> 'postcode')))
            ORDER BY s.received_at
            LIMIT $2
            FOR UPDATE OF s SKIP LOCKED
            """,
            provider_id,
            limit,
        )
        now = self.clock.now()
        released: list[UUID] = []
        for row in rows:
            draft = _DRAFT.validate_json(row["draft"])
            if await self._release(
                conn, row, draft, await self._identify(conn, draft), "registry", now
            ):
                released.append(row["signal_id"])
        if released:
            log.info(
                "waiting signals released by the registry",
                extra={"zicht.released": len(released), "zicht.provider_id": provider_id},
            )
        return released

    async def _release(  # noqa: PLR0917  # the steps of one use case, called in its order
        self,
        conn: DbConnection,
        row: Any,
        draft: SignalDraft,
        identification: Identification | None,
        resolved_by: str,
        now: datetime,
    ) -> bool:
        """A waiting signal goes on with its provider; False while it still cannot."""
        event = complete(
            draft,
            identification,
            signal_id=row["signal_id"],
            submission_id=row["submission_id"],
            partner_id=row["partner_id"],
            received_at=row["received_at"],
        )
        if event is None:
            return False
        event_id = await self._publish_received(conn, event, row["submission_id"], now)
        await conn.execute(
            "UPDATE signals SET status = 'accepted', provider_id = $2, matched_by = $3, "
            "event_id = $4, resolved_by = $5, resolved_at = $6 WHERE signal_id = $1",
            row["signal_id"],
            event.provider.provider_id,
            event.provider.matched_by.value,
            event_id,
            resolved_by,
            now,
        )
        await conn.execute(
            "UPDATE submission_items SET status = 'accepted', provider_id = $3 "
            "WHERE submission_id = $1 AND item_no = $2",
            row["submission_id"],
            row["item_no"],
            event.provider.provider_id,
        )
        return True

    # --- registry and indicators ----------------------------------------------------------

    async def put_provider(
        self, conn: DbConnection, incoming: Incoming, provider_id: str
    ) -> SubmissionOutcome:
        """Replace a provider's registry entry; publish it when it changed."""
        now = self.clock.now()
        content = _canonical_digest(SubmissionKind.REGISTRY, incoming.body)
        reference = f"{provider_id}@{(content or _digest(incoming.body)).hex()[:16]}"
        earlier = await self._earlier(conn, incoming, SubmissionKind.REGISTRY, reference, now)
        if earlier is not None:
            return earlier
        submission_id = uuid.uuid4()
        await self._store_raw(
            conn, incoming, SubmissionKind.REGISTRY, reference, submission_id, now
        )
        result = normalise_registry(incoming.body, provider_id=provider_id, today=now.date())
        if isinstance(result, Refusal):
            return await self._refuse(
                conn, incoming, submission_id, None, now, result, publish=False
            )
        item = await self._save_entry(conn, submission_id, 0, provider_id, result, now)
        await db.set_submission_status(conn, submission_id, "accepted", [])
        return SubmissionOutcome(submission_id, "accepted", now, items=(item,))

    async def import_registry_csv(
        self, conn: DbConnection, incoming: Incoming
    ) -> SubmissionOutcome:
        """A registry CSV: each provider accepted or rejected on its own."""
        return await self._import_per_provider(
            conn,
            incoming,
            SubmissionKind.REGISTRY_CSV,
            lambda now: parse_registry_csv(incoming.body, today=now.date()),
            self._save_entry,
        )

    async def _import_per_provider(
        self,
        conn: DbConnection,
        incoming: Incoming,
        kind: str,
        parse: Callable[[datetime], Refusal | Sequence[Any]],
        accept: Callable[[DbConnection, UUID, int, str, Any, datetime], Awaitable[ItemResult]],
    ) -> SubmissionOutcome:
        """A CSV import whose parts (one per provider) are accepted or rejected on their own.

        ``parse`` gives a file-level refusal or parts with ``provider_id`` and ``result``
        (a refusal or what ``accept`` stores and publishes).
        """
        now = self.clock.now()
        earlier = await self._earlier(conn, incoming, kind, None, now)
        if earlier is not None:
            return earlier
        submission_id = uuid.uuid4()
        await self._store_raw(conn, incoming, kind, None, submission_id, now)
        parsed = parse(now)
        if isinstance(parsed, Refusal):
            return await self._refuse(
                conn, incoming, submission_id, None, now, parsed, publish=False
            )
        items = []
        for part in parsed:
            # A part is numbered by its first row in the file, as the partner sees it there.
            no = part.rows[0]
            if isinstance(part.result, Refusal):
                item = ItemResult(
                    no,
                    part.provider_id,
                    "rejected",
                    provider_id=part.provider_id,
                    rejections=part.result.rejections,
                )
                await self._store_item(conn, submission_id, item)
            else:
                item = await accept(conn, submission_id, no, part.provider_id, part.result, now)
            items.append(item)
        status = _overall(items)
        await db.set_submission_status(conn, submission_id, status, [])
        return SubmissionOutcome(submission_id, status, now, items=tuple(items))

    async def _save_entry(  # noqa: PLR0917  # the steps of one use case, called in its order
        self,
        conn: DbConnection,
        submission_id: UUID,
        item_no: int,
        provider_id: str,
        entry: Any,
        now: datetime,
    ) -> ItemResult:
        # Text, for its digest; stored as the object it encodes ($n::text::jsonb).
        entry_json = json.dumps(_entry_dict(entry), sort_keys=True, default=str)
        digest = _digest(entry_json.encode())
        stored = await db.stored_provider(conn, provider_id)
        if stored is None or stored.entry_digest != digest:
            version = 1 if stored is None else stored.registry_version + 1
            event = entry.to_event(
                provider_id=provider_id, registry_version=version, updated_at=now
            )
            await db.save_provider(
                conn,
                provider_id=provider_id,
                name=event.name,
                name_key=provider_name_key(event.name),
                kvk=event.kvk,
                agb=event.agb,
                entry=entry_json,
                entry_digest=digest,
                registry_version=version,
                updated_at=now,
                locations=[
                    db.LocationRow(
                        location_id=loc.location_id,
                        postcode=loc.postcode,
                        house_number=loc.house_number,
                        house_number_addition=loc.house_number_addition,
                        municipality_code=loc.municipality_code,
                        services=tuple(s.value for s in loc.services),
                    )
                    for loc in registry_locations(entry)
                ],
            )
            await write_events(
                conn,
                new_event(
                    event,
                    source=self.source,
                    event_id=uuid.uuid5(_NAMESPACE, f"provider/{provider_id}/{version}"),
                    causation_id=submission_id,
                    time=now,
                ),
            )
            await self.release_waiting(conn, provider_id)
        item = ItemResult(item_no, provider_id, "accepted", provider_id=provider_id)
        await self._store_item(conn, submission_id, item)
        return item

    async def report_indicators(
        self, conn: DbConnection, incoming: Incoming, provider_id: str
    ) -> SubmissionOutcome:
        """A barrier-model indicator report of one provider, published for scoring."""
        now = self.clock.now()
        earlier = await self._earlier(conn, incoming, SubmissionKind.INDICATORS, None, now)
        if earlier is not None:
            return earlier
        submission_id = uuid.uuid4()
        await self._store_raw(conn, incoming, SubmissionKind.INDICATORS, None, submission_id, now)
        result = normalise_indicators(incoming.body, provider_id=provider_id, received_at=now)
        if isinstance(result, Refusal):
            return await self._refuse(
                conn, incoming, submission_id, None, now, result, publish=False
            )
        item = await self._publish_report(conn, submission_id, 0, provider_id, result, now)
        await db.set_submission_status(conn, submission_id, "accepted", [])
        return SubmissionOutcome(submission_id, "accepted", now, items=(item,))

    async def import_indicators_csv(
        self, conn: DbConnection, incoming: Incoming
    ) -> SubmissionOutcome:
        """An indicator CSV: each provider's report accepted or rejected on its own."""
        return await self._import_per_provider(
            conn,
            incoming,
            SubmissionKind.INDICATORS_CSV,
            lambda now: parse_indicators_csv(incoming.body, received_at=now),
            self._publish_report,
        )

    async def _publish_report(  # noqa: PLR0917  # the steps of one use case, called in its order
        self,
        conn: DbConnection,
        submission_id: UUID,
        item_no: int,
        provider_id: str,
        report: Any,
        now: datetime,
    ) -> ItemResult:
        report_id = uuid.uuid5(submission_id, str(item_no))
        event = report.to_event(report_id=report_id, provider_id=provider_id)
        await write_events(
            conn,
            new_event(
                event,
                source=self.source,
                event_id=uuid.uuid5(report_id, "indicators.reported"),
                causation_id=submission_id,
                time=now,
            ),
        )
        item = ItemResult(item_no, provider_id, "accepted", provider_id=provider_id)
        await self._store_item(conn, submission_id, item)
        return item

    # --- what became of a signal (triage's events) ----------------------------------------

    async def record_assessment(self, conn: DbConnection, assessed: SignalAssessedV1) -> None:
        """Keep triage's latest decision about a signal, for the signaller to see."""
        reasons = [
            {"rule_id": r.rule_id, "text_nl": r.text_nl, "text_en": r.text_en}
            for r in assessed.rules_fired
        ]
        link = assessed.investigation
        await conn.execute(
            """
            INSERT INTO signal_outcomes (signal_id, assessment_id, outcome, strategy, priority,
                framework_version, assessed_at, reasons, investigation_id,
                investigation_relation)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)
            ON CONFLICT (signal_id) DO UPDATE SET assessment_id = $2, outcome = $3,
                strategy = $4, priority = $5, framework_version = $6, assessed_at = $7,
                reasons = $8::jsonb, investigation_id = $9, investigation_relation = $10
            WHERE signal_outcomes.assessed_at <= $7
            """,
            assessed.signal_id,
            assessed.assessment_id,
            assessed.outcome.value,
            assessed.strategy.value if assessed.strategy else None,
            assessed.priority.value,
            assessed.framework_version,
            assessed.assessed_at,
            reasons,
            link.investigation_id if link else None,
            link.relation.value if link else None,
        )

    async def record_investigation(
        self, conn: DbConnection, changed: InvestigationChangedV1
    ) -> None:
        """Keep the state of an investigation signals were bundled into or opened."""
        state = "closed" if changed.closed_at is not None else "open"
        await conn.execute(
            """
            INSERT INTO investigations (investigation_id, provider_id, state, decision,
                                        opened_at, closed_at, changed_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (investigation_id) DO UPDATE SET state = $3, decision = $4,
                closed_at = $6, changed_at = $7
            WHERE investigations.changed_at <= $7
            """,
            changed.investigation_id,
            changed.provider_id,
            state,
            changed.decision.value if changed.decision else None,
            changed.opened_at,
            changed.closed_at,
            changed.changed_at,
        )

    # --- shared steps ---------------------------------------------------------------------

    async def _earlier(
        self,
        conn: DbConnection,
        incoming: Incoming,
        kind: str,
        reference: str | None,
        now: datetime,
    ) -> SubmissionOutcome | None:
        """The answer to a resubmission: the first submission, or a conflict."""
        if reference is None and incoming.idempotency_key is None:
            return None
        earlier = await db.find_submission(
            conn, incoming.partner_id, kind, reference, incoming.idempotency_key
        )
        if earlier is None:
            return None
        if _same_content(earlier, kind, incoming.body):
            return SubmissionOutcome(
                earlier.submission_id,
                earlier.status,
                earlier.received_at,
                replayed=True,
                stored_errors=tuple(earlier.rejections),
            )
        # Same key or reference, other content: refused, but the raw submission is kept.
        submission_id = uuid.uuid4()
        if earlier.by_key:
            refusal = Refusal((_reused_idempotency_key(),))
        else:
            pointer = "/" + _reference_field(incoming.source) if reference else None
            refusal = Refusal((_duplicate_reference(pointer),))
        await self._store_raw(
            conn, incoming, kind, None, submission_id, now, keep_idempotency_key=False
        )
        outcome = await self._refuse(conn, incoming, submission_id, reference, now, refusal)
        return SubmissionOutcome(
            outcome.submission_id,
            outcome.status,
            now,
            conflict=True,
            rejections=outcome.rejections,
        )

    async def _store_raw(  # noqa: PLR0917  # the steps of one use case, called in its order
        self,
        conn: DbConnection,
        incoming: Incoming,
        kind: str,
        reference: str | None,
        submission_id: UUID,
        now: datetime,
        *,
        keep_idempotency_key: bool = True,
    ) -> None:
        await db.insert_submission(
            conn,
            db.SubmissionRow(
                submission_id=submission_id,
                partner_id=incoming.partner_id,
                key_id=incoming.key_id,
                source=incoming.source.value,
                kind=kind,
                channel=incoming.channel,
                partner_reference=reference,
                # A refused conflicting resubmission does not take the key of the first.
                idempotency_key=incoming.idempotency_key if keep_idempotency_key else None,
                content_digest=_digest(incoming.body),
                canonical_digest=_canonical_digest(kind, incoming.body),
                content_type=incoming.content_type,
                raw=incoming.body,
                received_at=now,
                trace_id=_trace_id(),
                kafka_topic=incoming.kafka_topic,
                kafka_partition=incoming.kafka_partition,
                kafka_offset=incoming.kafka_offset,
            ),
            status="received",
        )
        await db.log_processing(
            conn,
            actor=f"partner:{incoming.partner_id}",
            action=f"store raw {kind} submission",
            purpose=_PURPOSE,
            submission_id=submission_id,
            trace_id=_trace_id(),
        )

    async def _refuse(  # noqa: PLR0917  # the steps of one use case, called in its order
        self,
        conn: DbConnection,
        incoming: Incoming,
        submission_id: UUID,
        reference: str | None,
        now: datetime,
        refusal: Refusal,
        *,
        publish: bool = True,
    ) -> SubmissionOutcome:
        rejections = [rejection_json(r) for r in refusal.rejections]
        await db.set_submission_status(conn, submission_id, "rejected", rejections)
        await self._store_item(
            conn,
            submission_id,
            ItemResult(0, reference, "rejected", rejections=refusal.rejections),
        )
        if publish:
            await self._publish_rejection(
                conn, incoming, submission_id, reference, now, refusal.rejections
            )
        return SubmissionOutcome(submission_id, "rejected", now, rejections=refusal.rejections)

    async def _publish_rejection(  # noqa: PLR0917  # the steps of one use case, called in its order
        self,
        conn: DbConnection,
        incoming: Incoming,
        submission_id: UUID,
        reference: str | None,
        now: datetime,
        rejections: Sequence[Rejection],
    ) -> None:
        data = {
            "rejection_id": uuid.uuid5(submission_id, f"rejected/{reference}"),
            "submission_id": submission_id,
            "partner_id": incoming.partner_id,
            "source": incoming.source,
            "partner_reference": reference,
            "received_at": now,
            "reasons": tuple(r.to_reason() for r in rejections),
        }
        try:
            event = SignalRejectedV1.model_validate(data)
        except ValidationError:
            # The reference itself is malformed: the rejection goes out without it.
            event = SignalRejectedV1.model_validate({**data, "partner_reference": None})
        cloud: CloudEvent[SignalRejectedV1] = new_event(
            event,
            source=self.source,
            event_id=event.rejection_id,
            causation_id=submission_id,
            time=now,
        )
        await write_events(conn, cloud)

    async def _store_item(
        self,
        conn: DbConnection,
        submission_id: UUID,
        item: ItemResult,
        warnings: Sequence[dict[str, Any]] = (),
    ) -> None:
        await db.insert_item(
            conn,
            db.ItemRow(
                submission_id=submission_id,
                item_no=item.item_no,
                partner_reference=item.partner_reference,
                status=item.status,
                signal_id=item.signal_id,
                provider_id=item.provider_id,
                rejections=[rejection_json(r) for r in item.rejections],
                warnings=warnings,
            ),
        )


def signal_tally(outcome: SubmissionOutcome) -> tuple[int, Counter[str]]:
    """How many signals a submission brought, and how many were refused per rejection code.

    A replay of an earlier submission brings nothing new. A submission refused as a whole
    (unreadable, or a conflicting resubmission) counts as one signal; a refused signal
    counts under the code of its first rejection.
    """
    if outcome.replayed:
        return 0, Counter()
    if outcome.items:
        refused = [item.rejections for item in outcome.items if item.status == "rejected"]
        received = len(outcome.items)
    else:
        refused, received = [outcome.rejections], 1
    return received, Counter(r[0].code.value if r else "unknown" for r in refused)


def _overall(items: Sequence[ItemResult]) -> str:
    rejected = sum(item.status == "rejected" for item in items)
    if not items or rejected == len(items):
        return "rejected"
    return "partially_accepted" if rejected else "accepted"


def _reference_field(source: Source) -> str:
    return {Source.IGJ: "zaaknummer", Source.POLICE: "registrationNumber"}.get(source, "kenmerk")


def _without_receipt(draft: SignalDraft) -> SignalDraft:
    """The draft without what depends on the moment of receipt (for content comparison)."""
    from dataclasses import replace  # noqa: PLC0415

    return replace(draft, warnings=())


def _warning_json(warning: Any) -> dict[str, Any]:
    item = {"code": warning.code, "detail": warning.detail}
    for name in ("pointer", "row", "column"):
        value = getattr(warning, name, None)
        if value is not None:
            item[name] = value
    return item


def _entry_dict(entry: Any) -> Any:
    from dataclasses import asdict, is_dataclass  # noqa: PLC0415

    if is_dataclass(entry) and not isinstance(entry, type):
        return asdict(entry)
    return entry.model_dump(mode="json")


def _location_for(draft: SignalDraft, provider: Any) -> Any:
    """The provider's location the signal is about, by postcode, when one matches."""
    for location in provider.locations:
        if draft.location_postcode and location.postcode == draft.location_postcode:
            return location
    return None
