"""Notify's HTTP API: subscribers manage their webhooks; operators see failed deliveries.

A subscriber's key names who it is (``--attr kind=municipality --attr id=GM0153``; a casus
table by its id, IGJ as ``igj``). A subscription may narrow what the routing policy sends
(event types, minimum level, categories, providers) but never reach beyond the providers the
subscriber is related to: asking for more is a 403 naming why.

A subscription carries alerts once its callback is verified (see
:mod:`zicht_notify.domain.verification`). A subscriber that gives its own ``secret`` when it
creates a subscription is verified on the spot, and a callback that fails is refused with a
422 naming the step; one that lets notify choose the secret gets it in the answer, installs it,
and asks ``POST /v1/subscriptions/{id}/verify``. Until then its alerts wait, none are lost.
Changing the URL or the secret verifies the new one before it is stored.
"""

# No `from __future__ import annotations` here: FastAPI reads the dependency annotations
# of the routes and dependencies built in closures at runtime, where strings cannot be resolved.

import ipaddress
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import httpx
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from zicht_notify.domain import (
    Recipient,
    StepResult,
    Subscriber,
    SubscriptionFilter,
    check_scope,
    generate_secret,
    signature,
)
from zicht_notify.service import NotifyService, verified
from zicht_runtime.auth import KeyStore, Principal, authenticate, require_scope
from zicht_runtime.problems import Problem, problem_responses
from zicht_schemas import Category, RiskLevel, SubscriberKind

__all__ = ["ROLES", "Scopes", "build_router"]


class Scopes:
    """What a notify API key may do."""

    SUBSCRIBER = "subscriptions"
    OPERATOR = "operator"


ROLES: dict[str, tuple[str, ...]] = {
    "subscriber": (Scopes.SUBSCRIBER,),
    "operator": (Scopes.OPERATOR,),
}


class Filters(BaseModel):
    """What a subscription narrows the routing to; absent means everything routed to you."""

    # A field notify does not know is refused (422), not ignored: a subscriber that sends
    # one (e.g. ``subscriber``) believes it asked for something notify would not do.
    model_config = ConfigDict(extra="forbid")

    event_types: list[str] | None = Field(
        default=None, max_length=10, description="CloudEvent types to receive."
    )
    min_level: RiskLevel | None = Field(default=None, description="Lowest risk level to hear.")
    categories: list[Category] | None = Field(
        default=None, max_length=10, description="Signal categories to hear."
    )
    providers: list[str] | None = Field(
        default=None, max_length=1000, description="Only these providers (registry ids)."
    )


_OWN_KEY_HELP = (
    "Your own signing secret, whsec_ followed by the base64 of 24 to 64 random bytes. When "
    "given, the callback is verified at once; when left out, notify chooses one, returns it, "
    "and alerts wait until POST /v1/subscriptions/{id}/verify passes."
)


def _valid_secret(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        signature(value, "msg_check", 0, b"")
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    return value


class NewSubscription(Filters):
    """A webhook to create."""

    url: HttpUrl = Field(description="Where alerts are POSTed (https in production).")
    description: str = Field(default="", max_length=200, description="What it is for.")
    secret: str | None = Field(default=None, max_length=100, description=_OWN_KEY_HELP)

    _secret = field_validator("secret")(_valid_secret)


class SubscriptionChange(Filters):
    """A change to a subscription; fields left out stay as they are."""

    url: HttpUrl | None = Field(default=None, description="A new endpoint.")
    paused: bool | None = Field(default=None, description="Pause or resume deliveries.")
    description: str | None = Field(default=None, max_length=200, description="What it is for.")
    secret: str | None = Field(
        default=None,
        max_length=100,
        description="A new signing secret of your own (whsec_...); the callback is verified "
        "with it before it is stored, and the previous one keeps signing for an overlap.",
    )

    _secret = field_validator("secret")(_valid_secret)


def _subscriber(principal: Principal) -> Subscriber:
    kind = principal.attributes.get("kind", "")
    ident = principal.attributes.get("id", "")
    try:
        return Subscriber(SubscriberKind(kind), ident)
    except ValueError as exc:
        raise Problem(403, "forbidden", "This key names no subscriber") from exc


def _check_url(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise _bad("/url", "not an http(s) URL")
    if allow_private:
        return
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        if parts.hostname == "localhost":
            raise _bad("/url", "must not point at this machine") from None
        return
    if address.is_private or address.is_loopback or address.is_link_local:
        raise _bad("/url", "must not point at a private or loopback address")


def _bad(pointer: str, detail: str) -> Problem:
    return Problem(
        422,
        "invalid-submission",
        "The request does not match the agreed format",
        errors=[{"code": "invalid_value", "pointer": pointer, "detail": detail}],
    )


def _verification(row: Any) -> dict[str, Any]:
    steps = row["verification"] or []
    if row["verified_at"] is not None:
        return {"state": "verified", "verified_at": row["verified_at"].isoformat(), "steps": steps}
    return {
        "state": "unverified",
        "detail": "Alerts wait until the callback is verified: install the secret in your "
        f"receiver, then POST /v1/subscriptions/{row['subscription_id']}/verify.",
        "steps": steps,
    }


def _not_verified(results: list[StepResult]) -> Problem:
    failed = next(r for r in results if not r.passed)
    return Problem(
        422,
        "callback-not-verified",
        "The callback did not pass verification",
        detail=f"Step {failed.step.value}: {failed.detail}.",
        errors=[
            {"code": r.step.value, "pointer": "/url", "detail": r.detail}
            for r in results
            if not r.passed
        ],
        extensions={"steps": [r.as_json() for r in results]},
    )


def _subscription(row: Any) -> dict[str, Any]:
    return {
        "subscription_id": str(row["subscription_id"]),
        "subscriber": {"kind": row["subscriber_kind"], "id": row["subscriber_id"]},
        "url": row["url"],
        "description": row["description"],
        "paused": row["paused"],
        "event_types": row["event_types"],
        "min_level": row["min_level"],
        "categories": row["categories"],
        "providers": row["providers"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "verification": _verification(row),
    }


def build_router(  # noqa: PLR0915  # one closure per route keeps the wiring in one place
    service: NotifyService,
    pool: Callable[[], asyncpg.Pool],
    keys: Callable[[], KeyStore],
    *,
    allow_private_urls: bool,
    secret_overlap: timedelta,
) -> APIRouter:
    """The subscription and operator routes."""
    router = APIRouter(prefix="/v1")
    who = authenticate(keys)
    Subscribing = Annotated[  # noqa: N806
        Principal, Depends(require_scope(who, Scopes.SUBSCRIBER, code="forbidden"))
    ]
    Operating = Annotated[  # noqa: N806
        Principal, Depends(require_scope(who, Scopes.OPERATOR, code="forbidden"))
    ]

    async def related_providers(subscriber: Subscriber, wanted: list[str]) -> set[str]:
        # One query whatever the number of providers a filter names (up to 1,000).
        async with pool().acquire() as conn:
            known = await service.relations_of(conn, wanted)
        recipient = Recipient(subscriber.kind, subscriber.id)
        return {pid for pid, relations in known.items() if relations.is_related(recipient)}

    async def enforce_scope(subscriber: Subscriber, filters: Filters) -> None:
        wanted = filters.providers or []
        related = await related_providers(subscriber, wanted) if wanted else set()
        violations = check_scope(
            subscriber,
            SubscriptionFilter(
                event_types=frozenset(filters.event_types) if filters.event_types else None,
                min_level=filters.min_level,
                categories=frozenset(filters.categories) if filters.categories else None,
                providers=frozenset(wanted) if filters.providers is not None else None,
            ),
            related,
        )
        if violations:
            raise Problem(
                403,
                "beyond-scope",
                "The subscription reaches beyond what this subscriber may receive",
                detail="A subscription can narrow the routing, never widen it.",
                errors=[
                    {"code": "beyond_scope", "pointer": f"/{v.field}", "detail": v.reason}
                    for v in violations
                ],
            )

    async def own(subscription_id: UUID, subscriber: Subscriber) -> Any:
        row = await pool().fetchrow(
            "SELECT * FROM subscriptions WHERE subscription_id = $1 AND subscriber_kind = $2 "
            "AND subscriber_id = $3 AND deleted_at IS NULL",
            subscription_id,
            subscriber.kind.value,
            subscriber.id,
        )
        if row is None:
            raise Problem(404, "not-found", "No such subscription of this subscriber")
        return row

    responses = problem_responses(401, 403, 404, 422)

    async def check(
        url: str, secrets: list[str], subscription_id: UUID, subscriber: Subscriber
    ) -> list[StepResult]:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            return await service.verify_callback(
                client,
                url=url,
                secrets=secrets,
                subscription_id=subscription_id,
                subscriber=Recipient(subscriber.kind, subscriber.id),
            )

    @router.post(
        "/subscriptions", status_code=201, summary="Create a webhook subscription",
        responses=responses,
    )  # fmt: skip
    async def create(
        command: NewSubscription, principal: Subscribing, response: Response
    ) -> dict[str, Any]:
        subscriber = _subscriber(principal)
        _check_url(str(command.url), allow_private_urls)
        await enforce_scope(subscriber, command)
        subscription_id = uuid.uuid4()
        secret = command.secret or generate_secret()
        results: list[StepResult] = []
        if command.secret is not None:
            results = await check(str(command.url), [secret], subscription_id, subscriber)
            if not verified(results):
                raise _not_verified(results)
        now = service.clock.now()
        sealed, key_id = service.seal_secrets([secret], subscription_id)
        row = await pool().fetchrow(
            """
            INSERT INTO subscriptions (subscription_id, subscriber_kind, subscriber_id, url,
                sealed_secrets, secrets_key_id, event_types, min_level, categories, providers,
                description, created_at, updated_at, verified_at, verification)
            VALUES ($1, $2, $3, $4, $5, $14, $6, $7, $8, $9, $10, $11, $11, $12, $13)
            RETURNING *
            """,
            subscription_id,
            subscriber.kind.value,
            subscriber.id,
            str(command.url),
            sealed,
            command.event_types,
            command.min_level.value if command.min_level else None,
            [c.value for c in command.categories] if command.categories is not None else None,
            command.providers,
            command.description,
            now,
            now if results else None,
            [r.as_json() for r in results] if results else None,
            key_id,
        )
        if row is None:  # INSERT ... RETURNING returns the row; this cannot happen
            raise Problem(503, "unavailable", "The subscription could not be stored")
        response.headers["Location"] = f"/v1/subscriptions/{row['subscription_id']}"
        shown = _subscription(row)
        # The secret is shown once, when notify chose it; a subscriber's own is not echoed.
        return shown if command.secret is not None else {**shown, "secret": secret}

    @router.post(
        "/subscriptions/{subscription_id}/verify",
        summary="Verify the callback: a signed test delivery must get a 2xx, a wrongly "
        "signed one a 4xx",
        responses=responses,
    )
    async def verify(subscription_id: UUID, principal: Subscribing) -> dict[str, Any]:
        subscriber = _subscriber(principal)
        row = await own(subscription_id, subscriber)
        current = service.secrets_of(row)[0]
        results = await check(row["url"], [current], subscription_id, subscriber)
        steps = [r.as_json() for r in results]
        now = service.clock.now()
        if not verified(results):
            await pool().execute(
                "UPDATE subscriptions SET verification = $2, updated_at = $3 "
                "WHERE subscription_id = $1",
                subscription_id,
                steps,
                now,
            )
            raise _not_verified(results)
        updated = await pool().fetchrow(
            """
            UPDATE subscriptions SET verified_at = $2, verification = $3, updated_at = $2
            WHERE subscription_id = $1 AND deleted_at IS NULL RETURNING *
            """,
            subscription_id,
            now,
            steps,
        )
        if updated is None:
            raise Problem(404, "not-found", "No such subscription of this subscriber")
        return _subscription(updated)

    @router.get("/subscriptions", summary="This subscriber's subscriptions", responses=responses)
    async def list_own(principal: Subscribing) -> dict[str, Any]:
        subscriber = _subscriber(principal)
        rows = await pool().fetch(
            "SELECT * FROM subscriptions WHERE subscriber_kind = $1 AND subscriber_id = $2 "
            "AND deleted_at IS NULL ORDER BY created_at",
            subscriber.kind.value,
            subscriber.id,
        )
        return {"subscriptions": [_subscription(r) for r in rows]}

    @router.get("/subscriptions/{subscription_id}", summary="One subscription",
                responses=responses)  # fmt: skip
    async def get_one(subscription_id: UUID, principal: Subscribing) -> dict[str, Any]:
        return _subscription(await own(subscription_id, _subscriber(principal)))

    @router.patch("/subscriptions/{subscription_id}", summary="Change filters, URL or pause",
                  responses=responses)  # fmt: skip
    async def update(
        subscription_id: UUID, change: SubscriptionChange, principal: Subscribing
    ) -> dict[str, Any]:
        subscriber = _subscriber(principal)
        row = await own(subscription_id, subscriber)
        given = change.model_fields_set
        merged = Filters(
            event_types=change.event_types if "event_types" in given else row["event_types"],
            min_level=change.min_level if "min_level" in given else row["min_level"],
            categories=change.categories if "categories" in given else row["categories"],
            providers=change.providers if "providers" in given else row["providers"],
        )
        await enforce_scope(subscriber, merged)
        url = str(change.url) if change.url is not None else row["url"]
        if change.url is not None:
            _check_url(url, allow_private_urls)
        secrets = service.secrets_of(row)
        overlap_until = row["previous_secret_expires_at"]
        now = service.clock.now()
        verified_at, steps = row["verified_at"], row["verification"]
        if change.secret is not None or url != row["url"]:
            # A new endpoint or secret is proven before it replaces the one that works.
            signing = [change.secret] if change.secret is not None else secrets[:1]
            results = await check(url, signing, subscription_id, subscriber)
            if not verified(results):
                raise _not_verified(results)
            verified_at, steps = now, [r.as_json() for r in results]
            if change.secret is not None and change.secret != secrets[0]:
                secrets, overlap_until = [change.secret, secrets[0]], now + secret_overlap
        # Sealed again on every write, under the current key: a rotated key leaves by use.
        sealed, key_id = service.seal_secrets(secrets, subscription_id)
        updated = await pool().fetchrow(
            """
            UPDATE subscriptions SET url = $2, event_types = $3, min_level = $4,
                categories = $5, providers = $6, paused = $7, description = $8, updated_at = $9,
                sealed_secrets = $10, secrets_key_id = $14, secrets = NULL,
                previous_secret_expires_at = $11, verified_at = $12, verification = $13
            WHERE subscription_id = $1 AND deleted_at IS NULL RETURNING *
            """,
            subscription_id,
            url,
            merged.event_types,
            merged.min_level.value if merged.min_level else None,
            [c.value for c in merged.categories] if merged.categories is not None else None,
            merged.providers,
            change.paused if change.paused is not None else row["paused"],
            change.description if change.description is not None else row["description"],
            now,
            sealed,
            overlap_until,
            verified_at,
            steps,
            key_id,
        )
        if updated is None:  # deleted between the read and the update
            raise Problem(404, "not-found", "No such subscription of this subscriber")
        return _subscription(updated)

    @router.post("/subscriptions/{subscription_id}/pause", summary="Pause deliveries",
                 responses=responses)  # fmt: skip
    async def pause(subscription_id: UUID, principal: Subscribing) -> dict[str, Any]:
        return await update(subscription_id, SubscriptionChange(paused=True), principal)

    @router.post("/subscriptions/{subscription_id}/resume", summary="Resume deliveries",
                 responses=responses)  # fmt: skip
    async def resume(subscription_id: UUID, principal: Subscribing) -> dict[str, Any]:
        return await update(subscription_id, SubscriptionChange(paused=False), principal)

    @router.post(
        "/subscriptions/{subscription_id}/rotate-secret",
        summary="A new signing secret; the old one keeps signing for an overlap",
        responses=responses,
    )
    async def rotate(subscription_id: UUID, principal: Subscribing) -> dict[str, Any]:
        row = await own(subscription_id, _subscriber(principal))
        secret = generate_secret()
        now = service.clock.now()
        sealed, key_id = service.seal_secrets([secret, service.secrets_of(row)[0]], subscription_id)
        await pool().execute(
            "UPDATE subscriptions SET sealed_secrets = $2, secrets_key_id = $5, secrets = NULL, "
            "previous_secret_expires_at = $3, updated_at = $4 WHERE subscription_id = $1",
            subscription_id,
            sealed,
            now + secret_overlap,
            now,
            key_id,
        )
        return {
            "subscription_id": str(subscription_id),
            "secret": secret,
            "previous_secret_valid_until": (now + secret_overlap).isoformat(),
        }

    @router.delete("/subscriptions/{subscription_id}", status_code=204,
                   summary="Delete a subscription", responses=responses)  # fmt: skip
    async def delete(subscription_id: UUID, principal: Subscribing) -> Response:
        await own(subscription_id, _subscriber(principal))
        await pool().execute(
            "UPDATE subscriptions SET deleted_at = $2 WHERE subscription_id = $1",
            subscription_id,
            service.clock.now(),
        )
        return Response(status_code=204)

    @router.get(
        "/subscriptions/{subscription_id}/deliveries",
        summary="This subscription's alerts by delivery state: failed ones to look into",
        responses=responses,
    )
    async def own_deliveries(
        subscription_id: UUID,
        principal: Subscribing,
        state: Annotated[str, Query(pattern="^(pending|retrying|delivered|failed)$")] = "failed",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        await own(subscription_id, _subscriber(principal))
        rows = await pool().fetch(
            f"""
            SELECT {_DELIVERY_COLUMNS} FROM alerts
            WHERE subscription_id = $1 AND state = $2
            ORDER BY created_at DESC, alert_id LIMIT $3
            """,  # noqa: S608  # a constant column list, no input
            subscription_id,
            state,
            limit,
        )
        return {"deliveries": [_delivery(r) for r in rows]}

    @router.get(
        "/deliveries",
        summary="Alerts by delivery state (operators): failed, undeliverable, retrying ...",
        responses=responses,
    )
    async def deliveries(
        _principal: Operating,
        state: Annotated[
            str, Query(pattern="^(pending|retrying|delivered|failed|undeliverable)$")
        ] = "failed",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        provider_id: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        rows = await pool().fetch(
            f"""
            SELECT {_DELIVERY_COLUMNS}
            FROM alerts WHERE state = $1 AND ($3::text IS NULL OR provider_id = $3)
            ORDER BY created_at DESC, alert_id LIMIT $2
            """,  # noqa: S608  # a constant column list, no input
            state,
            limit,
            provider_id,
        )
        return {"deliveries": [_delivery(r) for r in rows]}

    @router.post(
        "/deliveries/{alert_id}/redeliver",
        summary="Queue a failed or undeliverable alert again (operators)",
        responses=problem_responses(401, 403, 409),
    )
    async def redeliver(alert_id: UUID, _principal: Operating) -> dict[str, Any]:
        async with pool().acquire() as conn, conn.transaction():
            done = await service.redeliver(conn, alert_id)
        if not done:
            raise Problem(
                409,
                "conflict",
                "Only a failed or undeliverable alert whose subscriber has "
                "an active subscription can be redelivered",
            )
        return {"alert_id": str(alert_id), "state": "pending"}

    return router


_DELIVERY_COLUMNS = """alert_id, webhook_id, subscriber_kind, subscriber_id, provider_id,
    source_event_id, source_event_type, rule_id, state, attempts, last_status, last_error,
    failure_reason, created_at, next_attempt_at, delivered_at, failed_at"""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _delivery(row: Any) -> dict[str, Any]:
    return {
        "alert_id": str(row["alert_id"]),
        "webhook_id": row["webhook_id"],
        "subscriber": {"kind": row["subscriber_kind"], "id": row["subscriber_id"]},
        "provider_id": row["provider_id"],
        "source_event_id": str(row["source_event_id"]),
        "source_event_type": row["source_event_type"],
        "rule_id": row["rule_id"],
        "state": row["state"],
        "attempts": row["attempts"],
        "last_status": row["last_status"],
        "last_error": row["last_error"],
        "failure_reason": row["failure_reason"],
        "created_at": _iso(row["created_at"]),
        "next_attempt_at": _iso(row["next_attempt_at"]),
        "delivered_at": _iso(row["delivered_at"]),
        "failed_at": _iso(row["failed_at"]),
    }
