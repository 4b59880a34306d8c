"""Workflow runs (trigger, inputs, actions, results, errors) and the idempotency ledger.

`WorkflowRun` is what `status` shows. `RunLedger` is the seam to storage: it records runs and
answers "was this idempotency key already run?" so that a redelivered webhook never creates a
second Lead. `MemoryLedger` keeps both in memory (tests, one-process servers); `StoreLedger`
(`workflows/store_ledger.py`, the `workflow_runs` table) plugs in behind the same Protocol.

A run's key row moves through these statuses:

- `running`: claimed, actions under way;
- `succeeded`, `skipped`: final, the key stays taken;
- `failed`: after an action had an effect (partial), final, never run again automatically;
  before any effect (a permanent refusal: validation, picklist, permission...) the key is
  *released*: a redelivery or the form catch-up may claim it again, and `hubforce retry
  --workflows` makes it `waiting` after a fix;
- `waiting`: failed before any effect for a passing reason (credentials refused, a rate limit,
  a transient API error, the store unreachable); the key stays held for the retrier
  (`workflows/retry.py`), which claims it again when the side recovers or its backoff elapsed;
- `abandoned`: a waiting run past its maximum age; released, like a permanent failure.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

RunStatus = Literal["running", "succeeded", "failed", "skipped", "waiting", "abandoned"]


@dataclass(slots=True)
class ActionResult:
    """What one action did: `ok`, a short `detail` (e.g. the created id) and any `error`;
    `category` (a `hubforce.errors.Category` value) says why a refused action failed."""

    action: str
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    category: str | None = None


@dataclass(slots=True)
class WorkflowRun:
    """One run of one workflow for one trigger event.

    `attempts` counts the attempts so far (1 for the first); a failed attempt's
    `failure_category` and `failure_side` say why and where; a `waiting` run is tried again
    at `next_attempt_at`, and given up `max_age` after `retry_since` (its first failure).
    """

    workflow: str
    key: str
    trigger: dict[str, Any]
    started_at: int
    inputs: dict[str, Any] = field(default_factory=dict)
    actions: list[ActionResult] = field(default_factory=list)
    status: RunStatus = "succeeded"
    error: str | None = None
    finished_at: int | None = None
    attempts: int = 1
    next_attempt_at: int | None = None
    retry_since: int | None = None
    failure_category: str | None = None
    failure_side: str | None = None

    @property
    def effect(self) -> bool:
        """True once an action succeeded (something changed somewhere)."""
        return any(result.ok for result in self.actions)

    @property
    def released(self) -> bool:
        """True when the key is given back: the run failed before any effect and is not held
        for an automatic retry (a permanent refusal, or abandoned)."""
        if self.status == "abandoned":
            return True
        return self.status == "failed" and not self.effect

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return asdict(self)


class RunLedger(Protocol):
    """Claims idempotency keys and records runs."""

    async def claim(self, key: str, *, retrying: bool = False) -> bool:
        """True if the caller now holds `key` and runs it: it was never claimed, or it was
        released; with `retrying` (the retrier), a `waiting` run's key is taken instead."""

    async def release(self, key: str) -> None:
        """Forget a claimed key (nothing is recorded under it)."""

    async def record(self, run: WorkflowRun) -> None:
        """Store a finished run on its key."""

    async def recent(self, limit: int = 50) -> list[WorkflowRun]:
        """The latest runs, newest first."""

    async def due(
        self,
        now: int,
        *,
        everything: bool = False,
        after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> list[WorkflowRun]:
        """Waiting runs whose next attempt is due at `now` (all waiting ones with
        `everything`), ordered by (next attempt, key), after `after` in that order."""

    async def retry_counts(self) -> dict[str, int]:
        """How many runs are `waiting` and `abandoned`."""


@dataclass(slots=True)
class _Row:
    status: str
    released: bool = False
    next_attempt_at: int | None = None
    run: WorkflowRun | None = None
    seq: int = 0


class MemoryLedger:
    """In-memory ledger: one row per key (bounded, oldest dropped first)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[str, _Row] = OrderedDict()
        self._lock = asyncio.Lock()
        self._seq = itertools.count(1)

    async def claim(self, key: str, *, retrying: bool = False) -> bool:
        """True the first time `key` is claimed, or when it was released (see `RunLedger`)."""
        async with self._lock:
            row = self._rows.get(key)
            if row is None:
                self._rows[key] = _Row("running", seq=next(self._seq))
                if len(self._rows) > self.capacity:
                    self._rows.popitem(last=False)
                return True
            takes = row.status == "waiting" if retrying else row.released
            if not takes:
                return False
            row.status, row.released, row.next_attempt_at = "running", False, None
            return True

    async def release(self, key: str) -> None:
        """Forget `key` so that a later delivery may run it again."""
        async with self._lock:
            self._rows.pop(key, None)

    async def record(self, run: WorkflowRun) -> None:
        """Keep the run on its key's row (a key no longer held gets a history row)."""
        async with self._lock:
            key = run.key
            if key not in self._rows and run.status != "waiting":
                key = f"{run.key}#failed:{next(self._seq)}"
            row = _Row(
                run.status,
                run.released and key == run.key,
                run.next_attempt_at if run.status == "waiting" else None,
                run,
                next(self._seq),
            )
            self._rows[key] = row
            self._rows.move_to_end(key)

    async def recent(self, limit: int = 50) -> list[WorkflowRun]:
        """The latest recorded runs, newest first."""
        async with self._lock:
            rows = sorted(
                (row for row in self._rows.values() if row.run is not None),
                key=lambda row: row.seq,
                reverse=True,
            )
            return [_copy(row.run) for row in rows[:limit] if row.run is not None]

    async def due(
        self,
        now: int,
        *,
        everything: bool = False,
        after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> list[WorkflowRun]:
        """Waiting runs due (see `RunLedger.due`)."""
        async with self._lock:
            found: list[tuple[tuple[int, str], WorkflowRun]] = []
            for key, row in self._rows.items():
                if row.status != "waiting" or row.run is None or row.next_attempt_at is None:
                    continue
                order = (row.next_attempt_at, key)
                if not everything and row.next_attempt_at > now:
                    continue
                if after is not None and order <= after:
                    continue
                found.append((order, row.run))
            found.sort(key=lambda item: item[0])
            return [_copy(run) for _, run in found[:limit]]

    async def retry_counts(self) -> dict[str, int]:
        """Waiting and abandoned runs."""
        async with self._lock:
            statuses = [row.status for row in self._rows.values()]
            return {s: statuses.count(s) for s in ("waiting", "abandoned")}


def _copy(run: WorkflowRun) -> WorkflowRun:
    """A detached copy (callers may change it; the ledger's row must not change with it)."""
    return WorkflowRun(
        **{
            **{name: getattr(run, name) for name in WorkflowRun.__dataclass_fields__},
            "trigger": dict(run.trigger),
            "inputs": dict(run.inputs),
            "actions": list(run.actions),
        }
    )
