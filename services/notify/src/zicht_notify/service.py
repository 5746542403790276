"""The notify service's use cases: route events to recipients, deliver signed webhooks.

Routing runs in the consumer's transaction: the alerts it makes (or the record that a
recipient has no subscription) commit with the inbox entry, so an event redelivered by
Kafka makes no second alert. Delivery is a state machine in Postgres, worked by a loop
that survives restarts: pending -> delivered, or retrying (backoff) -> failed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import httpx
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from zicht_notify.domain import (
    AlertV1,
    DeliveryVerdict,
    Heard,
    ProviderRelations,
    Recipient,
    RetryPolicy,
    Route,
    RoutingPolicy,
    SealingError,
    SecretBox,
    StepResult,
    SubscriptionFilter,
    VerificationStep,
    alert_id_for,
    build_alert,
    classify,
    generate_secret,
    judge,
    matches,
    parse_retry_after,
    route,
    sign,
    verification_data,
    verification_webhook_id,
    webhook_id_for,
)
from zicht_notify.metrics import NotifyMetrics, default_metrics
from zicht_runtime.clock import Clock
from zicht_runtime.db import DbConnection
from zicht_runtime.outbox import write_events
from zicht_runtime.telemetry import business_span, commit_scope, context_headers, extract_context
from zicht_schemas import (
    AlertDeliveredV1,
    AlertFailedV1,
    AlertFailureReason,
    CloudEvent,
    ProviderRegisteredV1,
    ProviderRiskChangedV1,
    RiskLevel,
    SignalAssessedV1,
    SubscriberKind,
    new_event,
    to_structured,
)

__all__ = ["NotifyService", "ResealReport", "verified"]

log = logging.getLogger(__name__)
tracer = trace.get_tracer("zicht.notify")

_LEVEL_RANK = {RiskLevel.GREEN: 0, RiskLevel.ORANGE: 1, RiskLevel.RED: 2}


@dataclass(frozen=True)
class ResealReport:
    """What a reseal did: rows sealed anew under ``key_id``, and rows it could not open."""

    key_id: str
    resealed: int
    were_plain: int
    unopenable: int


@dataclass
class NotifyService:
    """Tells the right parties what they need, and keeps trying until they have it."""

    clock: Clock
    box: SecretBox
    routing: RoutingPolicy
    source: str
    link_base: str
    retry: RetryPolicy
    timeout_s: float = 10.0
    verification_timeout_s: float = 5.0
    pause_hold: timedelta = timedelta(days=7)
    """How long a paused subscription's alerts are held for it; older ones are given up."""
    rng: random.Random = field(default_factory=random.Random)
    metrics: NotifyMetrics = field(default_factory=default_metrics)

    # --- webhook secrets at rest ----------------------------------------------------------

    def seal_secrets(self, secrets: Sequence[str], subscription_id: UUID) -> tuple[bytes, str]:
        """A subscription's secrets (newest first) sealed for its row, with the key id."""
        return self.box.seal(secrets, subscription_id.bytes), self.box.current_key_id

    def secrets_of(self, row: Any) -> list[str]:
        """The secrets of a ``subscriptions`` row, newest first.

        Raises:
            SealingError: The row is sealed under a key this instance does not hold, or was
                changed.
        """
        if row["sealed_secrets"] is None:  # stored before sealing, not sealed since (0006)
            return list(row["secrets"])
        return self.box.open(bytes(row["sealed_secrets"]), row["subscription_id"].bytes)

    async def reseal(self, conn: DbConnection, *, plain_only: bool = False) -> ResealReport:
        """Seal every subscription not sealed under the current key (or only plain ones).

        Each row is opened and sealed again in one transaction, holding its lock, so an API
        change in between waits and nothing is lost. Rows sealed under a key this instance
        does not hold are counted and left as they are.
        """
        current = self.box.current_key_id
        resealed = were_plain = unopenable = 0
        async with conn.transaction():
            rows = await conn.fetch(
                """
                SELECT subscription_id, secrets, sealed_secrets FROM subscriptions
                WHERE sealed_secrets IS NULL OR ($1::text IS NOT NULL AND secrets_key_id <> $1)
                FOR UPDATE
                """,
                None if plain_only else current,
            )
            for row in rows:
                try:
                    secrets = self.secrets_of(row)
                except SealingError as exc:
                    unopenable += 1
                    log.error(  # noqa: TRY400  # the reason is the whole story; no traceback
                        "cannot reseal subscription %s: %s", row["subscription_id"], exc
                    )
                    continue
                sealed, key_id = self.seal_secrets(secrets, row["subscription_id"])
                await conn.execute(
                    "UPDATE subscriptions SET sealed_secrets = $2, secrets_key_id = $3, "
                    "secrets = NULL WHERE subscription_id = $1",
                    row["subscription_id"],
                    sealed,
                    key_id,
                )
                resealed += 1
                were_plain += row["sealed_secrets"] is None
        if resealed or unopenable:
            log.info(
                "webhook secrets resealed",
                extra={"zicht.resealed": resealed, "zicht.unopenable": unopenable},
            )
        return ResealReport(current, resealed, were_plain, unopenable)

    # --- relations ----------------------------------------------------------------------

    async def record_provider(self, conn: DbConnection, provider: ProviderRegisteredV1) -> None:
        """Keep a provider's name, KvK and related municipalities for routing."""
        await conn.execute(
            """
            INSERT INTO providers (provider_id, name, kvk, location_municipalities,
                contracting_municipalities, active, registry_version)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (provider_id) DO UPDATE SET name = $2, kvk = $3,
                location_municipalities = $4, contracting_municipalities = $5, active = $6,
                registry_version = $7
            WHERE providers.registry_version <= $7
            """,
            provider.provider_id,
            provider.name,
            provider.kvk,
            sorted({loc.municipality_code for loc in provider.locations}),
            sorted(set(provider.contracting_municipalities)),
            provider.active,
            provider.registry_version,
        )

    async def relations(self, conn: DbConnection, provider_id: str) -> ProviderRelations | None:
        """What notify knows of a provider's relations, or None when it does not know it."""
        row = await conn.fetchrow("SELECT * FROM providers WHERE provider_id = $1", provider_id)
        return _relations(row) if row is not None else None

    async def relations_of(
        self, conn: DbConnection, provider_ids: Sequence[str]
    ) -> dict[str, ProviderRelations]:
        """The relations of every provider notify knows among ``provider_ids``, in one query."""
        rows = await conn.fetch(
            "SELECT * FROM providers WHERE provider_id = ANY($1::text[])", list(provider_ids)
        )
        return {row["provider_id"]: _relations(row) for row in rows}

    # --- routing --------------------------------------------------------------------------

    async def route_event(
        self,
        conn: DbConnection,
        received: CloudEvent[SignalAssessedV1] | CloudEvent[ProviderRiskChangedV1],
    ) -> list[UUID]:
        """Make one alert per subscription of each recipient; record those without one."""
        event = received.data
        provider_id = event.provider_id
        with (
            self.metrics.routing(),
            business_span(
                tracer,
                "route alert",
                {"zicht.provider_id": provider_id, "zicht.event_type": received.type},
            ) as span,
        ):
            relations = await self.relations(conn, provider_id)
            told: frozenset[Recipient] = frozenset()
            falling = isinstance(event, ProviderRiskChangedV1) and _falls(event)
            if falling:
                told = await self._told_of_rise(conn, provider_id)
            routes = route(event, relations, self.routing, told)
            span.set_attribute("zicht.recipients", len(routes))
            made: list[UUID] = []
            now = self.clock.now()
            for r in routes:
                for alert_id in await self._alerts_for(conn, received, relations, r, now):
                    made.append(alert_id)
                    self.metrics.alert_routed(r.recipient.kind.value)
            if isinstance(event, ProviderRiskChangedV1):
                await self._remember_rise(conn, event, routes, now)
            return made

    async def _alerts_for(
        self,
        conn: DbConnection,
        received: CloudEvent[Any],
        relations: ProviderRelations | None,
        r: Route,
        now: datetime,
    ) -> list[UUID]:
        """The alerts of one route: one per subscription of the recipient that lets it through.

        Every subscription is told on its own, under its own alert id and ``webhook-id``: a
        second subscription of a party gets what its filters match, whatever an older one
        gets. A paused subscription's alert is held for it (pending, delivered in order when
        it is resumed); a recipient with no subscription at all gets one undeliverable
        record; one whose subscriptions all narrow the alert away nothing.
        """
        source_event_id = UUID(received.id)
        subscriptions = await conn.fetch(
            """
            SELECT subscription_id, paused, event_types, min_level, categories, providers
            FROM subscriptions
            WHERE subscriber_kind = $1 AND subscriber_id = $2 AND deleted_at IS NULL
            ORDER BY created_at, subscription_id
            """,
            r.recipient.kind.value,
            r.recipient.id,
        )
        if not subscriptions:
            made = await self._record_alert(conn, received, relations, r, now, subscription_id=None)
            return [] if made is None else [made]
        probe = build_alert(
            received.data,
            relations,
            r,
            alert_id=alert_id_for(source_event_id, r.recipient),
            link_base=self.link_base,
            source_event_id=source_event_id,
            source_event_type=received.type,
        )
        made_ids: list[UUID] = []
        for sub in subscriptions:
            if not matches(_filter(sub), probe):
                continue  # this subscription narrowed it away: no alert is due to it
            made = await self._record_alert(
                conn,
                received,
                relations,
                r,
                now,
                subscription_id=sub["subscription_id"],
            )
            if made is not None:
                made_ids.append(made)
        return made_ids

    async def _record_alert(
        self,
        conn: DbConnection,
        received: CloudEvent[Any],
        relations: ProviderRelations | None,
        r: Route,
        now: datetime,
        *,
        subscription_id: UUID | None,
    ) -> UUID | None:
        """Store one alert: pending for a subscription (held while paused), else undeliverable.

        Returns:
            The alert id, or None when this alert was made before (a redelivered event).
        """
        source_event_id = UUID(received.id)
        alert_id = alert_id_for(source_event_id, r.recipient, subscription_id)
        alert = build_alert(
            received.data,
            relations,
            r,
            alert_id=alert_id,
            link_base=self.link_base,
            source_event_id=source_event_id,
            source_event_type=received.type,
        )
        deliverable = subscription_id is not None
        reason = None if deliverable else AlertFailureReason.NO_SUBSCRIPTION
        inserted = await conn.fetchval(
            """
            INSERT INTO alerts (alert_id, webhook_id, subscription_id, subscriber_kind,
                subscriber_id, provider_id, source_event_id, source_event_type, rule_id, body,
                state, next_attempt_at, traceparent, created_at, failed_at, failure_reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
            ON CONFLICT DO NOTHING
            RETURNING alert_id
            """,
            alert_id,
            webhook_id_for(alert_id),
            subscription_id,
            r.recipient.kind.value,
            r.recipient.id,
            received.data.provider_id,
            source_event_id,
            received.type,
            r.rule_id,
            _structured(alert, received, self.source, now),
            "pending" if deliverable else "undeliverable",
            now if deliverable else None,
            _traceparent(),
            now,
            None if deliverable else now,
            reason.value if reason is not None else None,
        )
        if inserted is None:
            return None
        if reason is not None:
            await self._publish_failed(
                conn,
                alert_id=alert_id,
                webhook_id=None,
                recipient=r.recipient,
                subscription_id=subscription_id,
                provider_id=received.data.provider_id,
                source_event_id=source_event_id,
                source_event_type=received.type,
                attempts=0,
                status=None,
                reason=reason,
                now=now,
            )
        return alert_id

    async def _told_of_rise(self, conn: DbConnection, provider_id: str) -> frozenset[Recipient]:
        rows = await conn.fetch(
            "SELECT recipient_kind, recipient_id FROM told_of_rise WHERE provider_id = $1",
            provider_id,
        )
        return frozenset(
            Recipient(SubscriberKind(r["recipient_kind"]), r["recipient_id"]) for r in rows
        )

    async def _remember_rise(
        self,
        conn: DbConnection,
        event: ProviderRiskChangedV1,
        routes: Sequence[Route],
        now: datetime,
    ) -> None:
        if _falls(event):
            if event.level is RiskLevel.GREEN:
                # Down to green: everyone who was told has heard the end of it.
                await conn.execute(
                    "DELETE FROM told_of_rise WHERE provider_id = $1", event.provider_id
                )
                return
            # A fall to a level that still counts (red to orange): those told of the rise
            # now hold the new level, and must hear the next fall too, so they stay.
            above = [
                lvl.value for lvl, rank in _LEVEL_RANK.items() if rank > _LEVEL_RANK[event.level]
            ]
            await conn.execute(
                "UPDATE told_of_rise SET level = $3, told_at = $4 "
                "WHERE provider_id = $1 AND level = ANY($2)",
                event.provider_id,
                above,
                event.level.value,
                now,
            )
            return
        for r in routes:
            await conn.execute(
                """
                INSERT INTO told_of_rise (provider_id, recipient_kind, recipient_id, level,
                                          told_at)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (provider_id, recipient_kind, recipient_id)
                DO UPDATE SET level = $4, told_at = $5
                """,
                event.provider_id,
                r.recipient.kind.value,
                r.recipient.id,
                event.level.value,
                now,
            )

    # --- delivery -------------------------------------------------------------------------

    async def deliver_due(self, pool: asyncpg.Pool, client: httpx.AsyncClient, limit: int) -> int:
        """Send every alert that is due (up to ``limit`` at once); return how many were sent."""
        now = self.clock.now()
        lease = now + timedelta(seconds=self.timeout_s * 3)
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """
                SELECT a.alert_id, a.webhook_id, a.subscription_id, a.subscriber_kind,
                       a.subscriber_id, a.provider_id, a.source_event_id, a.source_event_type,
                       a.body, a.attempts, a.created_at, a.first_attempt_at, a.traceparent,
                       s.url, s.secrets, s.sealed_secrets,
                       s.previous_secret_expires_at, s.paused, s.deleted_at
                FROM alerts a LEFT JOIN subscriptions s USING (subscription_id)
                WHERE a.state IN ('pending', 'retrying') AND a.next_attempt_at <= $1
                  -- A subscription whose callback is not verified yet holds its alerts, and
                  -- so does a paused one, until they are older than the hold: then they
                  -- are taken, to be given up (see _deliver).
                  AND (s.subscription_id IS NULL
                       OR (s.verified_at IS NOT NULL AND (NOT s.paused OR a.created_at < $3)))
                  -- Order: an alert waits while an earlier one to the same subscription about
                  -- the same provider is still on its way (a retry holds back the rest); the
                  -- subscriber's other subscriptions do not wait for it.
                  AND NOT EXISTS (
                      SELECT 1 FROM alerts e
                      WHERE e.subscription_id = a.subscription_id
                        AND e.provider_id = a.provider_id
                        AND e.state IN ('pending', 'retrying')
                        AND e.seq < a.seq)
                ORDER BY a.next_attempt_at
                LIMIT $2
                FOR UPDATE OF a SKIP LOCKED
                """,
                now,
                limit,
                now - self.pause_hold,
            )
            if not rows:
                return 0
            # A lease: another worker leaves these alone while they are in flight.
            await conn.execute(
                "UPDATE alerts SET next_attempt_at = $2, "
                "first_attempt_at = coalesce(first_attempt_at, $3) WHERE alert_id = ANY($1)",
                [r["alert_id"] for r in rows],
                lease,
                now,
            )
        await asyncio.gather(*(self._deliver(pool, client, row) for row in rows))
        return len(rows)

    async def _not_sendable(self, pool: asyncpg.Pool, row: Any, span: trace.Span) -> bool:
        """Hold or give up an alert whose subscription is paused or gone; False: send it."""
        if row["paused"] and row["created_at"] >= self.clock.now() - self.pause_hold:
            # Paused after it was taken: held again, not an attempt.
            async with pool.acquire() as conn:
                await conn.execute(
                    "UPDATE alerts SET next_attempt_at = $2 WHERE alert_id = $1",
                    row["alert_id"],
                    self.clock.now(),
                )
            span.set_attribute("zicht.delivery", "held")
            return True
        if row["url"] is None or row["deleted_at"] is not None or row["paused"]:
            # Gone, or held for a paused subscription longer than the hold.
            await self._finish_failed(
                pool, row, None, AlertFailureReason.SUBSCRIPTION_DISABLED, row["attempts"]
            )
            return True
        return False

    async def _deliver(self, pool: asyncpg.Pool, client: httpx.AsyncClient, row: Any) -> None:
        parent = extract_context(_headers_of(row["traceparent"]))
        with (
            self.metrics.delivering(),
            tracer.start_as_current_span(
                "deliver webhook",
                context=parent,
                kind=SpanKind.CLIENT,
                attributes={
                    "zicht.alert_id": str(row["alert_id"]),
                    "zicht.subscriber_id": row["subscriber_id"],
                    "zicht.attempt": row["attempts"] + 1,
                },
            ) as span,
        ):
            if await self._not_sendable(pool, row, span):
                return
            now = self.clock.now()
            try:
                secrets = self.secrets_of(row)
            except SealingError as exc:
                # A key this instance lacks (a rotation half rolled out): not the alert's
                # fault. Its lease runs out and an instance that holds the key sends it.
                log.error(  # noqa: TRY400  # the reason is the whole story; no traceback
                    "cannot open the secrets of alert %s: %s", row["alert_id"], exc
                )
                span.set_attribute("zicht.delivery", "secrets unopenable")
                return
            expires = row["previous_secret_expires_at"]
            if len(secrets) > 1 and expires is not None and expires < now:
                secrets = secrets[:1]
            headers = sign(secrets, row["webhook_id"], int(now.timestamp()), bytes(row["body"]))
            headers["content-type"] = "application/cloudevents+json"
            # The delivery span is the request's client span (HTTP semantic conventions; no
            # httpx span beside it) and its parent for a receiver that continues the trace.
            target = urlsplit(row["url"])
            span.set_attributes(
                {"http.request.method": "POST", "server.address": target.hostname or ""}
            )
            propagate.inject(headers)
            status: int | None = None
            retry_after = None
            timed_out = connection_error = False
            error = None
            try:
                answer = await client.post(
                    row["url"],
                    content=bytes(row["body"]),
                    headers=headers,
                    timeout=self.timeout_s,
                )
                status = answer.status_code
                retry_after = parse_retry_after(answer.headers.get("retry-after"), now)
            except httpx.TimeoutException as exc:
                timed_out, error = True, type(exc).__name__
            except httpx.HTTPError as exc:
                connection_error, error = True, type(exc).__name__
            attempts = row["attempts"] + 1
            verdict = classify(status, timed_out=timed_out, connection_error=connection_error)
            span.set_attribute("zicht.delivery", verdict.value)
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            if verdict is DeliveryVerdict.DELIVERED:
                await self._finish_delivered(pool, row, status or 200, attempts)
                return
            if verdict is DeliveryVerdict.RETRY:
                # The window runs from the first attempt (an alert may have waited for its
                # subscription's verification before it).
                first = row["first_attempt_at"] or now
                due = self.retry.next_attempt_at(
                    attempts, now, retry_after, self.rng, first_attempt_at=first
                )
                if due is not None:
                    async with pool.acquire() as conn:
                        await conn.execute(
                            """
                            UPDATE alerts SET state = 'retrying', attempts = $2,
                                next_attempt_at = $3, last_status = $4, last_error = $5
                            WHERE alert_id = $1
                            """,
                            row["alert_id"],
                            attempts,
                            due,
                            status,
                            error,
                        )
                    return
                reason = AlertFailureReason.RETRIES_EXHAUSTED
            else:
                reason = (
                    AlertFailureReason.ENDPOINT_GONE
                    if status == 410  # noqa: PLR2004 - HTTP Gone
                    else AlertFailureReason.REJECTED_BY_RECEIVER
                )
            await self._finish_failed(pool, row, status, reason, attempts, error)

    async def _finish_delivered(
        self, pool: asyncpg.Pool, row: Any, status: int, attempts: int
    ) -> None:
        now = self.clock.now()
        async with commit_scope(), pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                UPDATE alerts SET state = 'delivered', attempts = $2, last_status = $3,
                    delivered_at = $4, next_attempt_at = NULL, last_error = NULL
                WHERE alert_id = $1
                """,
                row["alert_id"],
                attempts,
                status,
                now,
            )
            self.metrics.alert_delivered(row["subscriber_kind"])
            delivered = AlertDeliveredV1(
                alert_id=row["alert_id"],
                webhook_id=row["webhook_id"],
                subscriber_id=row["subscriber_id"],
                subscriber_kind=SubscriberKind(row["subscriber_kind"]),
                subscription_id=row["subscription_id"],
                provider_id=row["provider_id"],
                source_event_id=row["source_event_id"],
                source_event_type=row["source_event_type"],
                attempts=attempts,
                last_status_code=status,
                delivered_at=now,
            )
            await write_events(
                conn,
                new_event(
                    delivered,
                    source=self.source,
                    subject=row["provider_id"],
                    event_id=uuid.uuid5(row["alert_id"], "delivered"),
                    causation_id=row["source_event_id"],
                    time=now,
                ),
            )

    async def _finish_failed(  # noqa: PLR0917  # one step of the delivery, in its order
        self,
        pool: asyncpg.Pool,
        row: Any,
        status: int | None,
        reason: AlertFailureReason,
        attempts: int,
        error: str | None = None,
    ) -> None:
        now = self.clock.now()
        async with commit_scope(), pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                UPDATE alerts SET state = 'failed', attempts = $2, last_status = $3,
                    failed_at = $4, failure_reason = $5, next_attempt_at = NULL,
                    last_error = $6
                WHERE alert_id = $1
                """,
                row["alert_id"],
                attempts,
                status,
                now,
                reason.value,
                error,
            )
            if reason is AlertFailureReason.ENDPOINT_GONE and row["subscription_id"] is not None:
                # 410 Gone: the endpoint says it will not come back; stop sending to it.
                await conn.execute(
                    "UPDATE subscriptions SET paused = true, updated_at = $2 "
                    "WHERE subscription_id = $1",
                    row["subscription_id"],
                    now,
                )
                log.warning(
                    "subscription paused: its endpoint answered 410 Gone",
                    extra={"zicht.subscriber_id": row["subscriber_id"]},
                )
            await self._publish_failed(
                conn,
                alert_id=row["alert_id"],
                webhook_id=row["webhook_id"],
                recipient=Recipient(SubscriberKind(row["subscriber_kind"]), row["subscriber_id"]),
                subscription_id=row["subscription_id"],
                provider_id=row["provider_id"],
                source_event_id=row["source_event_id"],
                source_event_type=row["source_event_type"],
                attempts=attempts,
                status=status,
                reason=reason,
                now=now,
            )

    async def _publish_failed(
        self,
        conn: DbConnection,
        *,
        alert_id: UUID,
        webhook_id: str | None,
        recipient: Recipient,
        subscription_id: UUID | None,
        provider_id: str,
        source_event_id: UUID,
        source_event_type: str,
        attempts: int,
        status: int | None,
        reason: AlertFailureReason,
        now: datetime,
    ) -> None:
        self.metrics.alert_failed(reason.value, recipient.kind.value)
        failed = AlertFailedV1(
            alert_id=alert_id,
            webhook_id=webhook_id,
            subscriber_id=recipient.id,
            subscriber_kind=recipient.kind,
            subscription_id=subscription_id,
            provider_id=provider_id,
            source_event_id=source_event_id,
            source_event_type=source_event_type,
            attempts=attempts,
            last_status_code=status,
            failed_at=now,
            failure_reason=reason,
        )
        await write_events(
            conn,
            new_event(
                failed,
                source=self.source,
                subject=provider_id,
                event_id=uuid.uuid5(alert_id, f"failed/{attempts}/{now.isoformat()}"),
                causation_id=source_event_id,
                time=now,
            ),
        )

    # --- verification ---------------------------------------------------------------------

    async def verify_callback(
        self,
        client: httpx.AsyncClient,
        *,
        url: str,
        secrets: Sequence[str],
        subscription_id: UUID,
        subscriber: Recipient,
    ) -> list[StepResult]:
        """Send the two test deliveries to ``url`` and judge each answer.

        The second step is only taken when the first passed: a receiver that refuses a
        correct signature would refuse the wrong one too, which proves nothing.

        Returns:
            The steps taken, in order; the callback is verified when every step passed and
            there are two.
        """
        now = self.clock.now()
        check_id = uuid.uuid4()
        body = to_structured(
            new_event(
                verification_data(subscription_id, subscriber, now),
                source=self.source,
                event_id=check_id,
                time=now,
            )
        )
        webhook_id = verification_webhook_id(check_id)
        stamp = int(now.timestamp())
        results: list[StepResult] = []
        with tracer.start_as_current_span(
            "verify callback",
            kind=SpanKind.CLIENT,
            attributes={"zicht.subscriber_id": subscriber.id},
        ) as span:
            for step, signing in (
                (VerificationStep.SIGNED, list(secrets)),
                (VerificationStep.WRONG_SIGNATURE, [generate_secret()]),
            ):
                headers = sign(signing, webhook_id, stamp, body)
                headers["content-type"] = "application/cloudevents+json"
                propagate.inject(headers)
                heard = await self._test_post(client, url, body, headers)
                result = judge(step, heard, self.verification_timeout_s)
                results.append(result)
                if not result.passed:
                    break
            span.set_attribute(
                "zicht.delivery", "verified" if _all_passed(results) else "not verified"
            )
        return results

    async def _test_post(
        self, client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
    ) -> Heard:
        try:
            answer = await client.post(
                url, content=body, headers=headers, timeout=self.verification_timeout_s
            )
        except httpx.TimeoutException:
            return Heard(timed_out=True)
        except httpx.HTTPError as exc:
            return Heard(error=_plain_error(exc))
        return Heard(status=answer.status_code)

    async def redeliver(self, conn: DbConnection, alert_id: UUID) -> bool:
        """Put a failed or undeliverable alert back in the queue (same webhook-id)."""
        row = await conn.fetchrow(
            """
            SELECT a.alert_id, a.subscriber_kind, a.subscriber_id, a.subscription_id,
                   a.state, a.source_event_type
            FROM alerts a WHERE a.alert_id = $1 FOR UPDATE
            """,
            alert_id,
        )
        if row is None or row["state"] not in {"failed", "undeliverable"}:
            return False
        subscription = row["subscription_id"] or await conn.fetchval(
            "SELECT subscription_id FROM subscriptions WHERE subscriber_kind = $1 "
            "AND subscriber_id = $2 AND deleted_at IS NULL AND NOT paused "
            "ORDER BY created_at LIMIT 1",
            row["subscriber_kind"],
            row["subscriber_id"],
        )
        if subscription is None:
            return False
        await conn.execute(
            """
            UPDATE alerts SET state = 'pending', subscription_id = $2, next_attempt_at = $3,
                created_at = $3, failed_at = NULL, failure_reason = NULL, attempts = 0,
                first_attempt_at = NULL
            WHERE alert_id = $1
            """,
            alert_id,
            subscription,
            self.clock.now(),
        )
        return True


def _all_passed(results: Sequence[StepResult]) -> bool:
    return len(results) == len(VerificationStep) and all(r.passed for r in results)


def verified(results: Sequence[StepResult]) -> bool:
    """Whether a callback passed every step of its verification."""
    return _all_passed(results)


def _plain_error(exc: httpx.HTTPError) -> str:
    """A few plain words on why no answer came; never the URL (it may hold a token)."""
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host unreachable"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "not an http or https URL"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the endpoint broke the HTTP exchange"
    return type(exc).__name__


def _falls(event: ProviderRiskChangedV1) -> bool:
    previous = event.previous_level or RiskLevel.GREEN
    return _LEVEL_RANK[event.level] < _LEVEL_RANK[previous]


def _filter(row: Any) -> SubscriptionFilter:
    from zicht_schemas import Category  # noqa: PLC0415

    return SubscriptionFilter(
        event_types=frozenset(row["event_types"]) if row["event_types"] is not None else None,
        min_level=RiskLevel(row["min_level"]) if row["min_level"] else None,
        categories=frozenset(Category(c) for c in row["categories"])
        if row["categories"] is not None
        else None,
        providers=frozenset(row["providers"]) if row["providers"] is not None else None,
    )


def _structured(alert: AlertV1, received: CloudEvent[Any], source: str, now: datetime) -> bytes:
    """The webhook body: a CloudEvents structured-mode JSON document around the alert."""
    event = new_event(
        alert,
        source=source,
        subject=received.data.provider_id,
        event_id=alert.alert_id,
        correlation_id=received.correlationid or received.id,
        causation_id=received.id,
        time=now,
    )
    return to_structured(event)


def _traceparent() -> str | None:
    headers = dict(context_headers())
    value = headers.get("traceparent")
    return value.decode() if value else None


def _headers_of(traceparent: str | None) -> list[tuple[str, bytes]]:
    return [("traceparent", traceparent.encode())] if traceparent else []


def _relations(row: Any) -> ProviderRelations:
    return ProviderRelations(
        provider_id=row["provider_id"],
        name=row["name"],
        kvk=row["kvk"],
        location_municipalities=frozenset(row["location_municipalities"]),
        contracting_municipalities=frozenset(row["contracting_municipalities"]),
    )
