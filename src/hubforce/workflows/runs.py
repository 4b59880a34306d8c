"""Workflow runs (trigger, inputs, actions, results, errors) and the idempotency ledger.

`WorkflowRun` is what `status` shows. `RunLedger` is the seam to storage: it records runs and
answers "was this idempotency key already run?" so that a redelivered webhook never creates a
second Lead. `MemoryLedger` keeps both in memory (tests, one-process servers); a store-backed
ledger (a `workflow_runs` table) plugs in behind the same Protocol.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

RunStatus = Literal["succeeded", "failed", "skipped"]


@dataclass(slots=True)
class ActionResult:
    """What one action did: `ok`, a short `detail` (e.g. the created id) and any `error`."""

    action: str
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(slots=True)
class WorkflowRun:
    """One run of one workflow for one trigger event."""

    workflow: str
    key: str
    trigger: dict[str, Any]
    started_at: int
    inputs: dict[str, Any] = field(default_factory=dict)
    actions: list[ActionResult] = field(default_factory=list)
    status: RunStatus = "succeeded"
    error: str | None = None
    finished_at: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return asdict(self)


class RunLedger(Protocol):
    """Claims idempotency keys and records runs."""

    async def claim(self, key: str) -> bool:
        """True if `key` was never claimed (the caller runs it), False if it was."""

    async def release(self, key: str) -> None:
        """Give a claimed key back (its run failed before any action had an effect)."""

    async def record(self, run: WorkflowRun) -> None:
        """Store a finished run."""

    async def recent(self, limit: int = 50) -> list[WorkflowRun]:
        """The latest runs, newest first."""


class MemoryLedger:
    """In-memory ledger: claimed keys (bounded) and the latest runs."""

    def __init__(self, capacity: int = 100_000, keep_runs: int = 1000) -> None:
        self.capacity = capacity
        self.keep_runs = keep_runs
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._runs: list[WorkflowRun] = []
        self._lock = asyncio.Lock()

    async def claim(self, key: str) -> bool:
        """True the first time `key` is claimed."""
        async with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = None
            if len(self._keys) > self.capacity:
                self._keys.popitem(last=False)
            return True

    async def release(self, key: str) -> None:
        """Forget `key` so that a later delivery may run it again."""
        async with self._lock:
            self._keys.pop(key, None)

    async def record(self, run: WorkflowRun) -> None:
        """Keep the run (the oldest fall off past `keep_runs`)."""
        async with self._lock:
            self._runs.append(run)
            del self._runs[: -self.keep_runs]

    async def recent(self, limit: int = 50) -> list[WorkflowRun]:
        """The latest runs, newest first."""
        async with self._lock:
            return list(reversed(self._runs[-limit:]))
