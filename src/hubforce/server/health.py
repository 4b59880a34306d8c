"""`/healthz` (the process answers) and `/readyz` (its loops run and it can take work).

`/readyz` answers 503 only when a loop of the process died (it cannot take work). A side whose
credentials are refused, paused by its API budget, or failing is reported in the body as
`"status": "degraded"` with each connection's state and what to do, still with 200: the
service keeps accepting webhooks and parks their changes until the side works again, which a
load balancer taking it out of rotation would prevent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse


def build_health_router(
    checks: Callable[[], dict[str, bool]],
    *,
    connections: Callable[[], Mapping[str, str]] | None = None,
    details: Callable[[], Mapping[str, object]] | None = None,
) -> APIRouter:
    """Health routes; `checks` names each readiness condition and whether it holds,
    `connections` each connection's state ("ok" or why not), `details` adds to the body."""
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results = checks()
        ready = all(results.values())
        body: dict[str, object] = {"checks": results}
        state = dict(connections()) if connections is not None else {}
        if state:
            body["connections"] = state
        if details is not None:
            body.update(details())
        healthy = all(value == "ok" for value in state.values())
        body["status"] = "not ready" if not ready else ("ready" if healthy else "degraded")
        return JSONResponse(body, status_code=200 if ready else 503)

    return router
