"""Scoring's risk register: providers by level and score, one provider's story of risk.

A municipality's key (``--attr municipality=GMnnnn``) sees only providers related to it (a
location in it or a contract with it); a region's key (``--attr region=<id>``) its region's.
"""

# No `from __future__ import annotations` here: FastAPI reads the dependency annotations
# of the routes and dependencies built in closures at runtime, where strings cannot be resolved.

from collections.abc import Callable
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Path, Query

from zicht_runtime.auth import KeyStore, Principal, authenticate, require_scope
from zicht_runtime.ops import OPERATOR_SCOPE
from zicht_runtime.problems import Problem, problem_responses
from zicht_schemas.regions import regions

__all__ = ["ROLES", "Scopes", "build_router"]


class Scopes:
    """What a scoring API key may do."""

    REGISTER = "risk:read"


ROLES: dict[str, tuple[str, ...]] = {
    "municipality": (Scopes.REGISTER,),
    "supervisor": (Scopes.REGISTER,),
    "operator": (OPERATOR_SCOPE,),
}


def _visible_codes(principal: Principal) -> list[str] | None:
    """The municipalities whose providers the key may see; None: every provider."""
    if code := principal.attributes.get("municipality"):
        return [code]
    if region_id := principal.attributes.get("region"):
        region = regions().region(region_id)
        return [m.code for m in region.municipalities] if region else []
    return None


def build_router(pool: Callable[[], asyncpg.Pool], keys: Callable[[], KeyStore]) -> APIRouter:
    """The risk register routes."""
    router = APIRouter(prefix="/v1")
    reader = require_scope(authenticate(keys), Scopes.REGISTER, code="forbidden")
    Reader = Annotated[Principal, Depends(reader)]  # noqa: N806

    @router.get(
        "/providers",
        summary="Providers by traffic light and score, highest risk first",
        responses=problem_responses(401, 403, 422),
    )
    async def list_providers(
        principal: Reader,
        level: Annotated[str | None, Query(pattern="^(green|orange|red)$")] = None,
        min_score: Annotated[float, Query(ge=0, le=100)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        rows = await pool().fetch(
            """
            SELECT r.provider_id, p.name, p.kvk, r.score, r.level, r.evaluated_at,
                   r.model_version
            FROM risk r LEFT JOIN providers p USING (provider_id)
            WHERE ($1::text IS NULL OR r.level = $1) AND r.score >= $2
              AND ($3::text[] IS NULL OR p.municipalities && $3)
            ORDER BY CASE r.level WHEN 'red' THEN 0 WHEN 'orange' THEN 1 ELSE 2 END,
                     r.score DESC, r.provider_id
            LIMIT $4
            """,
            level,
            min_score,
            _visible_codes(principal),
            limit,
        )
        return {
            "providers": [
                {
                    "provider_id": r["provider_id"],
                    "name": r["name"],
                    "kvk": r["kvk"],
                    "score": float(r["score"]),
                    "level": r["level"],
                    "evaluated_at": r["evaluated_at"].isoformat(),
                    "model_version": r["model_version"],
                }
                for r in rows
            ]
        }

    @router.get(
        "/providers/{provider_id}/risk",
        summary="A provider's score, its contributions and its history",
        responses=problem_responses(401, 403, 404),
    )
    async def provider_risk(
        provider_id: Annotated[str, Path(max_length=64)],
        principal: Reader,
        history: Annotated[int, Query(ge=0, le=1000)] = 50,
    ) -> dict[str, Any]:
        row = await pool().fetchrow(
            """
            SELECT r.*, p.name, p.kvk FROM risk r LEFT JOIN providers p USING (provider_id)
            WHERE r.provider_id = $1 AND ($2::text[] IS NULL OR p.municipalities && $2)
            """,
            provider_id,
            _visible_codes(principal),
        )
        if row is None:
            raise Problem(404, "not-found", "No risk known for this provider (or not yours)")
        changes = await pool().fetch(
            "SELECT * FROM risk_history WHERE provider_id = $1 "
            "ORDER BY evaluated_at DESC, evaluation_id LIMIT $2",
            provider_id,
            history,
        )
        return {
            "provider_id": provider_id,
            "name": row["name"],
            "kvk": row["kvk"],
            "score": float(row["score"]),
            "level": row["level"],
            "model_version": row["model_version"],
            "evaluated_at": row["evaluated_at"].isoformat(),
            "contributions": row["contributions"],
            "unknown_indicators": row["unknown_indicators"],
            "history": [
                {
                    "evaluation_id": str(c["evaluation_id"]),
                    "score": float(c["score"]),
                    "level": c["level"],
                    "previous_score": float(c["previous_score"])
                    if c["previous_score"] is not None
                    else None,
                    "previous_level": c["previous_level"],
                    "evaluated_at": c["evaluated_at"].isoformat(),
                    "reason": c["reason"],
                    "model_version": c["model_version"],
                }
                for c in changes
            ],
        }

    return router
