"""Triage's HTTP API for supervisors: investigations and the explanation of every decision."""

# No `from __future__ import annotations` here: FastAPI reads the dependency annotations
# of the routes and dependencies built in closures at runtime, where strings cannot be resolved.

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from zicht_runtime.auth import KeyStore, Principal, authenticate, require_scope
from zicht_runtime.ops import OPERATOR_SCOPE
from zicht_runtime.problems import Problem, problem_responses
from zicht_schemas import InvestigationDecision
from zicht_schemas.regions import regions
from zicht_triage.service import TriageService

__all__ = ["ROLES", "Scopes", "build_router"]


class Scopes:
    """What a triage API key may do."""

    SUPERVISOR = "supervisor"


ROLES: dict[str, tuple[str, ...]] = {
    "supervisor": (Scopes.SUPERVISOR,),
    "operator": (OPERATOR_SCOPE,),
}
"""Named scope sets for ``python -m zicht_triage keys create --role``; a supervisor's key may
carry ``--attr region=<id>`` to see only that region's providers; an operator's reads the
flow counts (``GET /v1/ops/flow``)."""


class CloseInvestigation(BaseModel):
    """A supervisor closes an investigation with a decision (besluit) and a note."""

    decision: InvestigationDecision = Field(
        description="no_findings, improvement_plan or contract_dissolved."
    )
    note: str = Field(min_length=1, max_length=4000, description="The motivation, for the file.")


def _region_codes(principal: Principal) -> list[str] | None:
    region_id = principal.attributes.get("region")
    if not region_id:
        return None
    region = regions().region(region_id)
    return [m.code for m in region.municipalities] if region else []


def build_router(
    service: TriageService, pool: Callable[[], asyncpg.Pool], keys: Callable[[], KeyStore]
) -> APIRouter:
    """The supervisors' routes."""
    router = APIRouter(prefix="/v1")
    supervisor = require_scope(authenticate(keys), Scopes.SUPERVISOR, code="forbidden")
    Supervisor = Annotated[Principal, Depends(supervisor)]  # noqa: N806

    @router.get(
        "/investigations",
        summary="Investigations (onderzoeken), newest first",
        responses=problem_responses(401, 403, 422),
    )
    async def list_investigations(
        principal: Supervisor,
        state: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
        provider_id: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        codes = _region_codes(principal)
        rows = await pool().fetch(
            """
            SELECT i.*, (SELECT count(*) FROM investigation_signals s
                         WHERE s.investigation_id = i.investigation_id) AS signals
            FROM investigations i LEFT JOIN providers p USING (provider_id)
            WHERE ($1::text IS NULL OR i.state = $1)
              AND ($2::text IS NULL OR i.provider_id = $2)
              AND ($3::text[] IS NULL OR p.municipalities && $3)
            ORDER BY i.opened_at DESC, i.investigation_id
            LIMIT $4
            """,
            state,
            provider_id,
            codes,
            limit,
        )
        return {"investigations": [_investigation(r) for r in rows]}

    @router.get(
        "/investigations/{investigation_id}",
        summary="One investigation with its signals and their decisions",
        responses=problem_responses(401, 403, 404),
    )
    async def get_investigation(investigation_id: UUID, principal: Supervisor) -> dict[str, Any]:
        row = await _visible_investigation(pool(), investigation_id, principal)
        signals = await pool().fetch(
            """
            SELECT s.signal_id, s.relation, s.added_at, a.assessment_id, a.outcome, a.priority
            FROM investigation_signals s
            LEFT JOIN assessments a ON a.signal_id = s.signal_id AND a.current
            WHERE s.investigation_id = $1 ORDER BY s.added_at, s.signal_id
            """,
            investigation_id,
        )
        body = _investigation(row)
        body["signals"] = [
            {
                "signal_id": str(s["signal_id"]),
                "relation": s["relation"],
                "added_at": s["added_at"].isoformat(),
                "assessment_id": str(s["assessment_id"]) if s["assessment_id"] else None,
                "outcome": s["outcome"],
                "priority": s["priority"],
            }
            for s in signals
        ]
        return body

    @router.post(
        "/investigations/{investigation_id}/close",
        summary="Close an investigation with a decision",
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def close_investigation(
        investigation_id: UUID, command: CloseInvestigation, principal: Supervisor
    ) -> dict[str, Any]:
        await _visible_investigation(pool(), investigation_id, principal)
        async with pool().acquire() as conn, conn.transaction():
            changed = await service.close_investigation(
                conn, investigation_id, command.decision, command.note, principal.party_id
            )
        if changed is None:
            raise Problem(409, "conflict", "The investigation is not open")
        return {
            "investigation_id": str(investigation_id),
            "state": "closed",
            "decision": changed.decision.value if changed.decision else None,
            "closed_at": changed.closed_at.isoformat() if changed.closed_at else None,
            "signals": [str(s) for s in changed.signal_ids],
        }

    @router.get(
        "/assessments/{assessment_id}",
        summary="A decision with its full explanation (motivering)",
        responses=problem_responses(401, 403, 404),
    )
    async def get_assessment(assessment_id: UUID, principal: Supervisor) -> dict[str, Any]:
        return await _assessment(pool(), "a.assessment_id = $1", assessment_id, principal)

    @router.get(
        "/signals/{signal_id}/assessment",
        summary="The current decision about a signal, with its explanation",
        responses=problem_responses(401, 403, 404),
    )
    async def get_signal_assessment(signal_id: UUID, principal: Supervisor) -> dict[str, Any]:
        return await _assessment(pool(), "a.signal_id = $1 AND a.current", signal_id, principal)

    return router


async def _visible_investigation(
    pool: asyncpg.Pool, investigation_id: UUID, principal: Principal
) -> Any:
    row = await pool.fetchrow(
        """
        SELECT i.*, (SELECT count(*) FROM investigation_signals s
                     WHERE s.investigation_id = i.investigation_id) AS signals
        FROM investigations i LEFT JOIN providers p USING (provider_id)
        WHERE i.investigation_id = $1 AND ($2::text[] IS NULL OR p.municipalities && $2)
        """,
        investigation_id,
        _region_codes(principal),
    )
    if row is None:
        raise Problem(404, "not-found", "No such investigation")
    return row


async def _assessment(
    pool: asyncpg.Pool, where: str, key: UUID, principal: Principal
) -> dict[str, Any]:
    row = await pool.fetchrow(
        "SELECT a.decision, a.context, a.current, a.replaced_by FROM assessments a "  # noqa: S608
        "LEFT JOIN providers p USING (provider_id) "
        f"WHERE {where} AND ($2::text[] IS NULL OR p.municipalities && $2)",
        key,
        _region_codes(principal),
    )
    if row is None:
        raise Problem(404, "not-found", "No such assessment")
    decision = dict(row["decision"])
    decision["context"] = row["context"]
    decision["current"] = row["current"]
    decision["replaced_by"] = str(row["replaced_by"]) if row["replaced_by"] else None
    return dict(decision)


def _investigation(row: Any) -> dict[str, Any]:
    return {
        "investigation_id": str(row["investigation_id"]),
        "provider_id": row["provider_id"],
        "state": row["state"],
        "decision": row["decision"],
        "note": row["note"],
        "opened_at": row["opened_at"].isoformat(),
        "opened_by_signal": str(row["opened_by_signal"]),
        "closed_at": row["closed_at"].isoformat() if row["closed_at"] else None,
        "closed_by": row["closed_by"],
        "framework_version": row["framework_version"],
        "signal_count": row["signals"],
    }
