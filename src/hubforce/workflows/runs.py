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
- `abandoned`: a waiting run past its maximum age; released, like a permanent failure;
- `interrupted`: a `running` run whose lease ended (the process running it was killed: SIGKILL,
  OOM, power loss) while an action that is not idempotent (`slack`, `webhook`,
  `salesforce.create` without `match_on`) was under way, so it may or may not have happened;
  final, the key stays held, its error says what to check, and `hubforce retry --workflows
  --interrupted` runs it again (from that action) after checking.

Leases: a claim holds its key until `lease_until` (`LEASE_MS` after the claim), renewed by each
`checkpoint` (the engine saves the run's trigger and the actions done so far before each
action). `expired` lists `running` rows whose lease ended: their process is dead, since a live
one renews it before every action. The engine recovers them (`WorkflowEngine.recover`, on every
retrier pass, the first one at start-up): a run with no action under way, or an idempotent one
(`salesforce.create` with `match_on`, `salesforce.update`, `hubspot.update`), waits for the
retrier, due now, and resumes at its first action not done (`attempts` + 1, the actions done
kept); the others are `interrupted`. `settle_expired` changes a row only while it is still
`running` with its lease ended, so a claim renewed meanwhile (a slow process, alive after all)
is never taken.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

RunStatus = Literal[
    "running", "succeeded", "failed", "skipped", "waiting", "abandoned", "interrupted"
]

#: How long a claim holds its key without a checkpoint. Leases rather than a heartbeat task:
#: the engine renews the lease before each action (one short UPDATE it needs anyway, to save
#: the actions done), so it covers one action, not a whole run, and a process that cannot
#: reach the store or is stuck stops renewing by itself. One action's longest run is its
#: connector's retries (rate-limit waits and 5xx backoff: minutes at most) or a hook's 10 s
#: timeout: 15 minutes is well above it, and a dead process's run resumes within the next
#: retry pass after that (`schedule.workflow_lease_seconds` in `hubforce run`).
LEASE_MS = 15 * 60 * 1000


def wall_ms() -> int:
    """Now, in epoch milliseconds (the ledgers' default clock)."""
    return int(time.time() * 1000)


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
    #: Actions started so far in this attempt (saved by each checkpoint): the last one may be
    #: under way; 0 means no action started (a run killed then had no effect); None: unknown
    #: (a claim made before checkpoints existed).
    actions_started: int | None = 0
    #: The workflow's `actions_digest` when the run's actions ran: resuming by position is
    #: only right under the same action list (None: a run from before it was recorded).
    actions_digest: str | None = None

    @property
    def effect(self) -> bool:
        """True once an action succeeded (something changed somewhere)."""
        return any(result.ok for result in self.actions)

    @property
    def released(self) -> bool:
        """True when the key is given back: the run failed before any effect and is not held
        for an automatic retry (a permanent refusal, or abandoned)."""
        # A run resumed after its process died may carry actions done: it keeps its key.
        return self.status in ("failed", "abandoned") and not self.effect

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
        """How many runs are `waiting`, `abandoned` and `interrupted`."""

    async def checkpoint(self, run: WorkflowRun) -> bool:
        """Save a running run's progress on its held key and renew its lease; False if the key
        is no longer held as running (its lease ended and another process recovered it)."""

    async def expired(self, now: int | None = None, *, limit: int = 100) -> list[WorkflowRun]:
        """`running` runs whose lease ended before `now` (their process died), oldest first;
        `now` defaults to the ledger's clock, the one its leases were given by."""

    async def settle_expired(self, run: WorkflowRun, now: int | None = None) -> bool:
        """Replace an expired `running` row with `run` (waiting, interrupted or released);
        False if it is no longer running or its lease was renewed meanwhile."""


@dataclass(slots=True)
class _Row:
    status: str
    released: bool = False
    next_attempt_at: int | None = None
    run: WorkflowRun | None = None
    seq: int = 0
    lease_until: int | None = None
    started_at: int = 0


class MemoryLedger:
    """In-memory ledger: one row per key (bounded, oldest dropped first)."""

    def __init__(
        self,
        capacity: int = 100_000,
        *,
        lease_ms: int = LEASE_MS,
        now_ms: Callable[[], int] = wall_ms,
    ) -> None:
        self.capacity = capacity
        self.lease_ms = lease_ms
        self.now_ms = now_ms
        self._rows: OrderedDict[str, _Row] = OrderedDict()
        self._lock = asyncio.Lock()
        self._seq = itertools.count(1)

    async def claim(self, key: str, *, retrying: bool = False) -> bool:
        """True the first time `key` is claimed, or when it was released (see `RunLedger`)."""
        async with self._lock:
            now = self.now_ms()
            row = self._rows.get(key)
            if row is None:
                self._rows[key] = _Row(
                    "running", seq=next(self._seq), lease_until=now + self.lease_ms, started_at=now
                )
                if len(self._rows) > self.capacity:
                    self._rows.popitem(last=False)
                return True
            takes = row.status == "waiting" if retrying else row.released
            if not takes:
                return False
            row.status, row.released, row.next_attempt_at = "running", False, None
            row.lease_until, row.started_at = now + self.lease_ms, now
            if not retrying:  # a released key's old record is not this claim's progress
                row.run = None
            return True

    async def checkpoint(self, run: WorkflowRun) -> bool:
        """Save the running run on its row and renew its lease (see `RunLedger`)."""
        async with self._lock:
            row = self._rows.get(run.key)
            if row is None or row.status != "running":
                return False
            row.run, row.lease_until = _copy(run), self.now_ms() + self.lease_ms
            row.run.status = "running"
            return True

    async def expired(self, now: int | None = None, *, limit: int = 100) -> list[WorkflowRun]:
        """Running rows whose lease ended before `now`, oldest claim first."""
        now = self.now_ms() if now is None else now
        async with self._lock:
            found = [
                (row.started_at, key, row)
                for key, row in self._rows.items()
                if row.status == "running" and (row.lease_until or 0) < now
            ]
            found.sort(key=lambda item: (item[0], item[1]))
            return [_claimed_run(key, row) for _, key, row in found[:limit]]

    async def settle_expired(self, run: WorkflowRun, now: int | None = None) -> bool:
        """Replace the expired running row of `run.key` with `run` (see `RunLedger`)."""
        now = self.now_ms() if now is None else now
        async with self._lock:
            row = self._rows.get(run.key)
            if row is None or row.status != "running" or (row.lease_until or 0) >= now:
                return False
            row.status, row.released, row.lease_until = run.status, run.released, None
            row.next_attempt_at = run.next_attempt_at if run.status == "waiting" else None
            row.run, row.seq = _copy(run), next(self._seq)
            self._rows.move_to_end(run.key)
            return True

    async def request_retry(self, *, interrupted: bool = False, now: int | None = None) -> int:
        """Make released runs (with `interrupted`: interrupted runs instead) wait for a retry
        due now, with a fresh maximum age, as `StoreLedger.request_retry`; returns how many."""
        when = self.now_ms() if now is None else now
        async with self._lock:
            count = 0
            for row in self._rows.values():
                takes = row.status == "interrupted" if interrupted else row.released
                if not takes or row.run is None:
                    continue
                row.status, row.released, row.next_attempt_at = "waiting", False, when
                row.run.status, row.run.next_attempt_at, row.run.retry_since = (
                    "waiting",
                    when,
                    when,
                )
                count += 1
            return count

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
            held = self._rows.get(key)
            row = _Row(
                run.status,
                run.released and key == run.key,
                run.next_attempt_at if run.status == "waiting" else None,
                _copy(run),
                next(self._seq),
                started_at=held.started_at if held is not None else run.started_at,
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
        """Waiting, abandoned and interrupted runs."""
        async with self._lock:
            statuses = [row.status for row in self._rows.values()]
            return {s: statuses.count(s) for s in RETRY_STATES}


#: The statuses `retry_counts` counts (the service's gauge, `hubforce status`).
RETRY_STATES = ("waiting", "abandoned", "interrupted")


def _claimed_run(key: str, row: _Row) -> WorkflowRun:
    """The run a running row holds: its last checkpoint, or a bare claim (nothing saved)."""
    if row.run is not None:
        run = _copy(row.run)
        run.status = "running"
        return run
    return WorkflowRun(key.split(":", 1)[0], key, {}, row.started_at, status="running")


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
