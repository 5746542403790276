"""Intake's HTTP API: partners submit, follow their submissions; operators resolve.

Routes translate HTTP into one service call each and answer ``202`` only after the
transaction that stored the submission committed. Every refusal is an RFC 9457 problem.
"""

# No `from __future__ import annotations` here: FastAPI reads the dependency annotations
# of the routes and dependencies built in closures at runtime, where strings cannot be resolved.

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from zicht_intake.domain import ItemStatus, PartnerFormat, SubmissionStatus, limits
from zicht_intake.service import (
    IDEMPOTENCY_KEY_HEADER,
    Incoming,
    IntakeService,
    ItemResult,
    SubmissionOutcome,
    rejection_json,
)
from zicht_runtime.auth import KeyStore, Principal, authenticate, require_scope
from zicht_runtime.db import is_transient_db_error
from zicht_runtime.guard import BodyLimit, too_large
from zicht_runtime.problems import Problem, inline_refs, problem_responses
from zicht_runtime.telemetry import commit_scope
from zicht_schemas import Source

__all__ = ["BODY_LIMITS", "Scopes", "accepted_item", "body_limit_of", "build_router"]


class Scopes:
    """What an intake API key may do."""

    IGJ = "signals:igj"
    POLICE = "signals:police"
    ACCESS_TEAM = "signals:access_team"
    REGISTRY = "registry:write"
    INDICATORS = "indicators:write"
    OPERATOR = "operator"
    FREE_TEXT = "signals:free_text"
    """Read the free text partners wrote with signals (the region's supervisors alone)."""


ROLES: dict[str, tuple[str, ...]] = {
    "igj": (Scopes.IGJ,),
    "police": (Scopes.POLICE,),
    "access-team": (Scopes.ACCESS_TEAM,),
    "contract-management": (Scopes.REGISTRY, Scopes.INDICATORS),
    "operator": (Scopes.OPERATOR,),
    "supervisor": (Scopes.FREE_TEXT,),
}
"""The named sets of scopes ``python -m zicht_intake keys create --role`` hands out."""


class Accepted(BaseModel):
    """A stored submission: where to follow it."""

    submission_id: UUID = Field(description="Intake's id of the submission.")
    status: SubmissionStatus = Field(
        description="accepted, partially_accepted or rejected (docs/partners/README.md)."
    )
    received_at: str = Field(description="When intake stored it (ISO 8601).")
    status_url: str = Field(description="Where to follow what becomes of it.")
    replayed: bool = Field(default=False, description="True when this repeats an earlier one.")
    items: list[dict[str, Any]] = Field(
        default_factory=list,
        description="A CSV file's result per part (row, partner_reference, status, signal_id, "
        "provider_id, rejections); empty for a JSON submission (one part).",
    )


class FreeText(BaseModel):
    """The free text a partner wrote with a signal, as intake keeps it (BSNs masked)."""

    signal_id: UUID = Field(description="Zicht's id of the signal.")
    submission_id: UUID = Field(description="The submission the signal came in.")
    source: Source = Field(description="Who signalled.")
    free_text: str | None = Field(
        description="omschrijving, summary or toelichting, nine-digit BSNs replaced by [BSN]; "
        "null when the partner wrote none."
    )


class ResolveProvider(BaseModel):
    """An operator names the provider of a signal intake could not identify."""

    provider_id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="Registry id of the provider."
    )
    row: int | None = Field(
        default=None, ge=0, description="The CSV row (access-team files); all when absent."
    )


@dataclass
class IntakeApi:
    """What the routes need at request time (set when the service starts)."""

    service: IntakeService
    pool: Callable[[], asyncpg.Pool]


_JSON = ("application/json",)
_CSV = ("text/csv",)

BODY_LIMITS: dict[str, int] = {
    "submit_igj": limits.MAX_JSON_SIGNAL_BYTES,
    "submit_police": limits.MAX_JSON_SIGNAL_BYTES,
    "submit_access_team": limits.MAX_ACCESS_TEAM_CSV_BYTES,
    "put_provider": limits.MAX_REGISTRY_BYTES,
    "import_registry": limits.MAX_IMPORT_CSV_BYTES,
    "report_indicators": limits.MAX_INDICATORS_BYTES,
    "import_indicators": limits.MAX_IMPORT_CSV_BYTES,
}
"""Each submitting route's body limit in bytes (docs/partners/README.md, "Size limits"), by
route name: the route reads its body under it, and the request guard refuses a larger body
naming it, before it is read."""


def body_limit_of(router: APIRouter) -> BodyLimit:
    """The body limit of the router's route a request goes to (None: not a submitting one)."""
    routes = [
        (route.path_regex, route.methods or set(), BODY_LIMITS[route.name])
        for route in router.routes
        if isinstance(route, APIRoute) and route.name in BODY_LIMITS
    ]

    def limit(method: str, path: str) -> int | None:
        for pattern, methods, bytes_ in routes:
            if method in methods and pattern.match(path):
                return bytes_
        return None

    return limit


async def _body(request: Request, types: tuple[str, ...]) -> bytes:
    """The request body, refusing a wrong content type (415) or one over the limit (413)."""
    limit = BODY_LIMITS[request.scope["route"].name]
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in types:
        raise Problem(
            415,
            "unsupported-media-type",
            "The content type is not accepted here",
            detail=f"Send {' or '.join(types)}.",
            errors=[{"code": "malformed_payload", "detail": "wrong content type"}],
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _location(outcome: SubmissionOutcome) -> str:
    return f"/v1/submissions/{outcome.submission_id}"


def _answer(outcome: SubmissionOutcome) -> Response:
    """202 for what was accepted (or partly), a problem for a refusal or a conflict."""
    location = _location(outcome)
    if outcome.conflict and any(r.header == IDEMPOTENCY_KEY_HEADER for r in outcome.rejections):
        raise Problem(
            409,
            "idempotency-key-reused",
            "The Idempotency-Key was used before with a different body",
            detail="A retry sends the same body with the same key; a new submission a new key.",
            errors=[rejection_json(r) for r in outcome.rejections],
            extensions={"submission_id": str(outcome.submission_id)},
        )
    if outcome.conflict:
        raise Problem(
            409,
            "duplicate-reference",
            "The reference was used before with different content",
            detail="A correction is a new signal with a new reference.",
            errors=[rejection_json(r) for r in outcome.rejections],
            extensions={"submission_id": str(outcome.submission_id)},
        )
    if outcome.replayed and outcome.refused and outcome.stored_errors:
        malformed = all(e.get("code") == "malformed_payload" for e in outcome.stored_errors)
        raise Problem(
            400 if malformed else 422,
            "malformed-payload" if malformed else "invalid-submission",
            "The submission was refused before",
            detail="This repeats a submission that was refused; nothing was accepted.",
            errors=list(outcome.stored_errors),
            extensions={"submission_id": str(outcome.submission_id)},
        )
    if outcome.refused and not outcome.items and outcome.rejections:
        raise _invalid(outcome)
    if outcome.refused and len(outcome.items) <= 1 and outcome.rejections:
        raise _invalid(outcome)
    # CSV parts are numbered by their row in the file (2 and up); a JSON submission's one part
    # is 0 and is the submission itself.
    rows = any(item.item_no > 0 for item in outcome.items)
    body = Accepted(
        submission_id=outcome.submission_id,
        status=SubmissionStatus(outcome.status),
        received_at=outcome.received_at.isoformat(),
        status_url=location,
        replayed=outcome.replayed,
        items=[accepted_item(item) for item in outcome.items] if rows else [],
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=200 if outcome.replayed else 202,
        headers={"Location": location},
    )


def _invalid(outcome: SubmissionOutcome) -> Problem:
    count = len(outcome.rejections)
    malformed = all(r.code.value == "malformed_payload" for r in outcome.rejections)
    return Problem(
        400 if malformed else 422,
        "malformed-payload" if malformed else "invalid-submission",
        "The submission could not be read"
        if malformed
        else "The submission does not match the agreed format",
        detail=f"{count} problem(s) found; nothing of this submission was accepted.",
        errors=[rejection_json(r) for r in outcome.rejections],
        extensions={"submission_id": str(outcome.submission_id)},
    )


def accepted_item(item: ItemResult) -> dict[str, Any]:
    """One part of a CSV submission as the ``202`` answer lists it (fields as in the status)."""
    data: dict[str, Any] = {"row": item.item_no, "status": ItemStatus(item.status).value}
    if item.partner_reference:
        data["partner_reference"] = item.partner_reference
    if item.signal_id:
        data["signal_id"] = str(item.signal_id)
    if item.provider_id:
        data["provider_id"] = item.provider_id
    if item.rejections:
        data["rejections"] = [rejection_json(r) for r in item.rejections]
    return data


async def _in_transaction(
    api: IntakeApi, work: Callable[[Any], Awaitable[SubmissionOutcome]]
) -> SubmissionOutcome:
    """Run a use case in one transaction; a store that cannot commit is a 503."""
    for attempt in range(2):
        try:
            # The scope first: what the use case counts is recorded once it has committed.
            async with commit_scope(), api.pool().acquire() as conn, conn.transaction():
                return await work(conn)
        except asyncpg.UniqueViolationError:
            # The same submission arrived twice at once; the second attempt finds the first.
            if attempt:
                raise
        except (OSError, asyncpg.PostgresError) as exc:
            if is_transient_db_error(exc) or isinstance(exc, OSError):
                raise Problem(
                    503,
                    "unavailable",
                    "The submission could not be stored; nothing was accepted",
                    detail="Retry with backoff.",
                    headers={"Retry-After": "5"},
                ) from exc
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def build_router(api: IntakeApi, keys: Callable[[], KeyStore]) -> APIRouter:
    """The intake API routes."""
    router = APIRouter(prefix="/v1")
    who = authenticate(keys)
    responses = problem_responses(400, 401, 403, 409, 413, 415, 422, 503)
    idem = Annotated[
        str | None,
        Header(alias=IDEMPOTENCY_KEY_HEADER, max_length=128, pattern=r"^[\x21-\x7e]{1,128}$"),
    ]

    def incoming(
        principal: Principal, source: Source, body: bytes, request: Request, key: str | None
    ) -> Incoming:
        return Incoming(
            partner_id=principal.party_id,
            source=source,
            channel="http",
            body=body,
            content_type=request.headers.get("content-type", ""),
            key_id=principal.key_id,
            idempotency_key=key,
            team=principal.attributes.get("team"),
        )

    async def submit_json(
        request: Request, principal: Principal, source: Source, fmt: PartnerFormat, key: str | None
    ) -> Response:
        body = await _body(request, _JSON)
        item = incoming(principal, source, body, request, key)
        outcome = await _in_transaction(
            api, lambda conn: api.service.submit_signal(conn, item, fmt)
        )
        return _answer(outcome)

    @router.post(
        "/signals/igj",
        status_code=202,
        summary="IGJ submits one finding (JSON, docs/partners/igj.md)",
        responses=responses,
        openapi_extra=_json_body("igj"),
    )
    async def submit_igj(
        request: Request,
        principal: Annotated[Principal, Depends(require_scope(who, Scopes.IGJ))],
        idempotency_key: idem = None,
    ) -> Response:
        return await submit_json(request, principal, Source.IGJ, PartnerFormat.IGJ, idempotency_key)

    @router.post(
        "/signals/police",
        status_code=202,
        summary="The police submit one incident (JSON, docs/partners/police.md)",
        responses=responses,
        openapi_extra=_json_body("police"),
    )
    async def submit_police(
        request: Request,
        principal: Annotated[Principal, Depends(require_scope(who, Scopes.POLICE))],
        idempotency_key: idem = None,
    ) -> Response:
        return await submit_json(
            request, principal, Source.POLICE, PartnerFormat.POLICE, idempotency_key
        )

    @router.post(
        "/signals/access-team",
        status_code=202,
        summary="An access team uploads a CSV of signals (docs/partners/access-team.md)",
        responses=responses,
        openapi_extra=_csv_body(),
    )
    async def submit_access_team(
        request: Request,
        principal: Annotated[Principal, Depends(require_scope(who, Scopes.ACCESS_TEAM))],
        idempotency_key: idem = None,
    ) -> Response:
        body = await _body(request, _CSV)
        item = incoming(principal, Source.ACCESS_TEAM, body, request, idempotency_key)
        outcome = await _in_transaction(
            api, lambda conn: api.service.submit_access_team_csv(conn, item)
        )
        return _answer(outcome)

    @router.put(
        "/providers/{provider_id}",
        status_code=202,
        summary="Contract management replaces a provider's registry entry",
        responses=responses,
        openapi_extra=_json_body("registry"),
    )
    async def put_provider(
        request: Request,
        provider_id: Annotated[str, _provider_id_path()],
        principal: Annotated[Principal, Depends(require_scope(who, Scopes.REGISTRY))],
        idempotency_key: idem = None,
    ) -> Response:
        body = await _body(request, _JSON)
        item = incoming(principal, Source.CONTRACT_MANAGEMENT, body, request, idempotency_key)
        outcome = await _in_transaction(
            api, lambda conn: api.service.put_provider(conn, item, provider_id)
        )
        return _answer(outcome)

    @router.post(
        "/providers/import",
        status_code=202,
        summary="Contract management imports registry entries (CSV)",
        responses=responses,
        openapi_extra=_csv_body(),
    )
    async def import_registry(
        request: Request,
        principal: Annotated[Principal, Depends(require_scope(who, Scopes.REGISTRY))],
        idempotency_key: idem = None,
    ) -> Response:
        body = await _body(request, _CSV)
        item = incoming(principal, Source.CONTRACT_MANAGEMENT, body, request, idempotency_key)
        outcome = await _in_transaction(
            api, lambda conn: api.service.import_registry_csv(conn, item)
        )
        return _answer(outcome)

    @router.post(
        "/providers/{provider_id}/indicators",
        status_code=202,
        summary="Contract management reports barrier-model indicators of a provider",
        responses=responses,
        openapi_extra=_json_body("indicators"),
    )
    async def report_indicators(
        request: Request,
        provider_id: Annotated[str, _provider_id_path()],
        principal: Annotated[Principal, Depends(require_scope(who, Scopes.INDICATORS))],
        idempotency_key: idem = None,
    ) -> Response:
        body = await _body(request, _JSON)
        item = incoming(principal, Source.CONTRACT_MANAGEMENT, body, request, idempotency_key)
        outcome = await _in_transaction(
            api, lambda conn: api.service.report_indicators(conn, item, provider_id)
        )
        return _answer(outcome)

    @router.post(
        "/indicators/import",
        status_code=202,
        summary="Contract management imports indicator reports (CSV)",
        responses=responses,
        openapi_extra=_csv_body(),
    )
    async def import_indicators(
        request: Request,
        principal: Annotated[Principal, Depends(require_scope(who, Scopes.INDICATORS))],
        idempotency_key: idem = None,
    ) -> Response:
        body = await _body(request, _CSV)
        item = incoming(principal, Source.CONTRACT_MANAGEMENT, body, request, idempotency_key)
        outcome = await _in_transaction(
            api, lambda conn: api.service.import_indicators_csv(conn, item)
        )
        return _answer(outcome)

    @router.get(
        "/submissions/{submission_id}",
        summary="What became of a submission, past intake (own submissions only)",
        responses=problem_responses(401, 404, 422),
    )
    async def get_submission(
        submission_id: UUID, principal: Annotated[Principal, Depends(who)]
    ) -> dict[str, Any]:
        from zicht_intake.adapters.status import submission_status  # noqa: PLC0415

        async with api.pool().acquire() as conn:
            found = await submission_status(
                conn, submission_id, None if principal.may(Scopes.OPERATOR) else principal.party_id
            )
        if found is None:
            raise Problem(404, "not-found", "No such submission of this partner")
        return found

    @router.get(
        "/submissions",
        summary="The partner's own submissions, newest first",
        responses=problem_responses(401, 422),
    )
    async def list_submissions(
        principal: Annotated[Principal, Depends(who)],
        partner_reference: Annotated[str | None, Query(max_length=200)] = None,
        status: Annotated[
            str | None,
            Query(
                pattern=f"^({'|'.join([*SubmissionStatus, ItemStatus.NEEDS_PROVIDER])})$",
                description="A submission status, or needs_provider: some signal waits for "
                "its provider.",
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        provider_id: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        from zicht_intake.adapters.status import list_submissions as listing  # noqa: PLC0415

        async with api.pool().acquire() as conn:
            items = await listing(
                conn,
                None if principal.may(Scopes.OPERATOR) else principal.party_id,
                partner_reference=partner_reference,
                status=status,
                limit=limit,
                provider_id=provider_id,
            )
        return {"submissions": items}

    _add_free_text_route(router, api, who)

    @router.post(
        "/submissions/{submission_id}/provider",
        summary="An operator names the provider of a signal waiting as needs provider",
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def resolve_provider(
        submission_id: UUID,
        command: ResolveProvider,
        principal: Annotated[
            Principal, Depends(require_scope(who, Scopes.OPERATOR, code="forbidden"))
        ],
    ) -> dict[str, Any]:
        async with api.pool().acquire() as conn, conn.transaction():
            done = await api.service.resolve_provider(
                conn,
                submission_id,
                command.provider_id,
                item_no=command.row,
                operator=f"operator:{principal.party_id}",
            )
        if done is None:
            raise Problem(
                422,
                "invalid-submission",
                "No such provider in the registry",
                errors=[
                    {
                        "code": "invalid_value",
                        "pointer": "/provider_id",
                        "detail": "not a registered provider",
                    }
                ],
            )
        if not done:
            raise Problem(409, "conflict", "No signal of this submission waits for a provider")
        return {"submission_id": str(submission_id), "resolved": [str(s) for s in done]}

    return router


def _add_free_text_route(
    router: APIRouter, api: IntakeApi, who: Callable[[Request], Awaitable[Principal]]
) -> None:
    """The supervisors' route: the free text of one signal, each read in the processing log."""

    @router.get(
        "/signals/{signal_id}/free-text",
        summary="A supervisor reads the free text of one signal (every read is logged)",
        responses=problem_responses(401, 403, 404, 422),
    )
    async def read_free_text(
        signal_id: UUID,
        principal: Annotated[
            Principal, Depends(require_scope(who, Scopes.FREE_TEXT, code="forbidden"))
        ],
    ) -> FreeText:
        async with api.pool().acquire() as conn, conn.transaction():
            found = await api.service.read_free_text(
                conn, signal_id, reader=f"supervisor:{principal.party_id}"
            )
        if found is None:
            raise Problem(404, "not-found", "No such signal")
        return FreeText(
            signal_id=found.signal_id,
            submission_id=found.submission_id,
            source=Source(found.source),
            free_text=found.free_text,
        )


def _provider_id_path() -> Any:
    from fastapi import Path  # noqa: PLC0415

    return Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="Registry id of the provider.")


def _json_body(fmt: str) -> dict[str, Any]:
    from zicht_intake.domain import format_schema  # noqa: PLC0415

    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": inline_refs(format_schema(PartnerFormat(fmt)))}
            },
        }
    }


def _csv_body() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
