"""`/healthz` (the process answers) and `/readyz` (its loops run and it can take work)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse


def build_health_router(checks: Callable[[], dict[str, bool]]) -> APIRouter:
    """Health routes; `checks` names each readiness condition and whether it holds."""
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results = checks()
        ready = all(results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    return router
