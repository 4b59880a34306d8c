"""The control API under `/__emulator__/`: the verbs both emulators share.

Each emulator's backend implements `EmulatorBackend`; vendor-specific control routes
(convert-lead, merge, webhooks...) are added by the emulator on the same prefix.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter, Body, HTTPException
from pydantic import BaseModel, Field, ValidationError

from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.common.faults import FaultPlan, FaultRule
from hubforce.emulators.common.stats import CONTROL_PREFIX, RequestStats


class EmulatorBackend(Protocol):
    """What the shared control API needs from an emulator's in-memory backend."""

    clock: EmulatorClock
    stats: RequestStats
    faults: FaultPlan

    def reset(self) -> None:
        """Drop all data and return to the configured initial state."""

    def seed(self, params: dict[str, Any]) -> dict[str, Any]:
        """Create deterministic realistic data; return what was created."""

    def export_state(self) -> dict[str, Any]:
        """All data as JSON-ready values."""

    def import_state(self, state: dict[str, Any]) -> None:
        """Replace all data with an exported state."""

    def get_limits(self) -> dict[str, Any]:
        """Current limit settings and usage."""

    def set_limits(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change limit settings; return the new ones."""


class ClockChange(BaseModel):
    """Body of POST /__emulator__/clock."""

    advance_seconds: float = Field(default=0.0, ge=0.0)
    freeze: bool | None = None


class FaultsBody(BaseModel):
    """Body of POST /__emulator__/faults."""

    rules: list[FaultRule]
    append: bool = False


def _bad_request(exc: Exception) -> HTTPException:
    return HTTPException(status_code=400, detail=str(exc))


def build_control_router(backend: EmulatorBackend) -> APIRouter:
    """Routes for reset, seed, stats, faults, limits, clock and state."""
    router = APIRouter(prefix=CONTROL_PREFIX, tags=["emulator control"])

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        backend.reset()
        backend.stats.reset()
        backend.faults.clear()
        return {"reset": True}

    @router.post("/seed")
    async def seed(params: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        try:
            return backend.seed(params)
        except (ValueError, TypeError, KeyError, ValidationError) as exc:
            raise _bad_request(exc) from exc

    @router.get("/stats")
    async def stats() -> dict[str, Any]:
        return backend.stats.snapshot()

    @router.post("/stats/reset")
    async def stats_reset() -> dict[str, Any]:
        backend.stats.reset()
        return backend.stats.snapshot()

    @router.get("/faults")
    async def faults() -> dict[str, Any]:
        return {"rules": backend.faults.describe(), "fired": backend.faults.fired}

    @router.post("/faults")
    async def set_faults(body: FaultsBody) -> dict[str, Any]:
        backend.faults.set_rules(body.rules, append=body.append)
        return {"rules": backend.faults.describe()}

    @router.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        backend.faults.clear()
        return {"rules": []}

    @router.get("/limits")
    async def limits() -> dict[str, Any]:
        return backend.get_limits()

    @router.put("/limits")
    async def set_limits(changes: dict[str, Any] = Body(...)) -> dict[str, Any]:
        try:
            return backend.set_limits(changes)
        except (ValueError, TypeError, KeyError, ValidationError) as exc:
            raise _bad_request(exc) from exc

    @router.get("/clock")
    async def clock() -> dict[str, Any]:
        return {"now": backend.clock.now().isoformat(), "frozen": backend.clock.frozen}

    @router.post("/clock")
    async def move_clock(change: ClockChange) -> dict[str, Any]:
        if change.freeze is not None:
            backend.clock.freeze(change.freeze)
        if change.advance_seconds:
            backend.clock.advance(change.advance_seconds)
        return {"now": backend.clock.now().isoformat(), "frozen": backend.clock.frozen}

    @router.get("/state")
    async def export_state() -> dict[str, Any]:
        return backend.export_state()

    @router.put("/state")
    async def import_state(state: dict[str, Any] = Body(...)) -> dict[str, Any]:
        try:
            backend.import_state(state)
        except (ValueError, TypeError, KeyError, ValidationError) as exc:
            raise _bad_request(exc) from exc
        return {"imported": True}

    return router
