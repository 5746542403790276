"""`/healthz` (the process runs) and `/readyz` (it can do its work) for every service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

__all__ = ["ReadinessCheck", "health_router", "metrics_router"]

ReadinessCheck = Callable[[], Awaitable[bool]]


def health_router(checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    """Liveness answers while the process runs; readiness runs every named check."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="The service can reach what it needs",
        responses={503: {"description": "A dependency is not ready; the body says which."}},
    )
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                ok = await check()
            except (OSError, RuntimeError, TimeoutError) as exc:
                results[name] = f"failing: {type(exc).__name__}"
                continue
            results[name] = "ok" if ok else "failing"
        ready = all(value == "ok" for value in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    return router


def metrics_router() -> APIRouter:
    """``/metrics``: the process's metrics in the Prometheus text format, for scraping."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest  # noqa: PLC0415

    router = APIRouter(tags=["health"])

    @router.get("/metrics", summary="Metrics for Prometheus", response_class=Response)
    async def scrape() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router
