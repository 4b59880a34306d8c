"""The workflow ledger in the state store (`workflow_runs`, migrations 0002 and 0003).

Claiming a key is an INSERT of a `running` row: the primary key makes it atomic across
processes and restarts, so a webhook redelivered hours later still finds its key taken. A row
whose run gave its key back (`released`: failed before any effect, for good or abandoned) is
taken over by a conditional UPDATE instead, and a `waiting` row likewise by the retrier only
(`claim(retrying=True)`): of two claimers racing for one row, one UPDATE matches and the other
finds the row `running`. Recording a run updates its row with status, finish time, retry
columns and details. Calls are short single-row statements, run inline like the engine's other
store calls.

Leases (migration 0004): a claim sets `lease_until`, each `checkpoint` renews it, a finished
run clears it. A `running` row whose lease ended belongs to a dead process (a live one renews it
before every action); `settle_expired` replaces it with a conditional UPDATE (still `running`,
lease still ended), so of two recovering processes one wins, and a claim renewed meanwhile is
never taken. A row claimed before 0004 has no lease: it counts as expired `LEASE_MS` after
`started_at`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, select, true, tuple_, update
from sqlalchemy.exc import IntegrityError

from hubforce.store import Store
from hubforce.store.tables import workflow_runs
from hubforce.workflows.runs import (
    LEASE_MS,
    RETRY_STATES,
    ActionResult,
    WorkflowRun,
    wall_ms,
)

#: Part of the key of a failure recorded for a key its run did not hold (history, not a claim).
HISTORY_MARK = "#failed:"


def _detail(run: WorkflowRun) -> dict[str, Any]:
    return {
        "trigger": run.trigger,
        "inputs": run.inputs,
        "actions": [
            {
                "action": a.action,
                "ok": a.ok,
                "detail": a.detail,
                "error": a.error,
                "category": a.category,
            }
            for a in run.actions
        ],
        "error": run.error,
        "retry_since": run.retry_since,
        "failure_category": run.failure_category,
        "failure_side": run.failure_side,
        "actions_started": run.actions_started,
        "actions_digest": run.actions_digest,
    }


def _settled_values(run: WorkflowRun) -> dict[str, Any]:
    """The columns of a run's row once it is no longer under way (no lease)."""
    return {
        "workflow": run.workflow[:64],
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "detail": _detail(run),
        "released": run.released,
        "attempts": run.attempts,
        "next_attempt_at": run.next_attempt_at if run.status == "waiting" else None,
        "lease_until": None,
    }


def run_of(row: Any) -> WorkflowRun:
    """A `WorkflowRun` from a `workflow_runs` row."""
    detail = row.detail or {}
    return WorkflowRun(
        workflow=row.workflow,
        key=row.key,
        trigger=detail.get("trigger", {}),
        started_at=row.started_at,
        inputs=detail.get("inputs", {}),
        actions=[ActionResult(**a) for a in detail.get("actions", [])],
        status=row.status,
        error=detail.get("error"),
        finished_at=row.finished_at,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        retry_since=detail.get("retry_since"),
        failure_category=detail.get("failure_category"),
        failure_side=detail.get("failure_side"),
        actions_started=_started(row, detail),
        actions_digest=detail.get("actions_digest"),
    )


def _started(row: Any, detail: dict[str, Any]) -> int | None:
    """Actions started by the row's run; None for a claim older than checkpoints (a running
    row with no lease and nothing saved): what it did is unknown."""
    if "actions_started" in detail:
        started: int | None = detail["actions_started"]
        return started
    if row.status == "running" and getattr(row, "lease_until", None) is None:
        return None
    return 0


class StoreLedger:
    """RunLedger over the state store."""

    def __init__(
        self, store: Store, *, lease_ms: int = LEASE_MS, now_ms: Callable[[], int] = wall_ms
    ) -> None:
        self.store = store
        self.lease_ms = lease_ms
        self.now_ms = now_ms

    def _lease_ended(self, now: int) -> ColumnElement[bool]:
        """A running row's lease ended before `now` (no lease: `lease_ms` after its start)."""
        c = workflow_runs.c
        return and_(
            c.status == "running",
            func.coalesce(c.lease_until, c.started_at + self.lease_ms) < now,
        )

    async def claim(self, key: str, *, retrying: bool = False) -> bool:
        """Insert the key as a running row, or take over its released (with `retrying`: its
        waiting) row; False if someone else holds it."""
        now = self.now_ms()
        lease = now + self.lease_ms
        row = {
            "key": key,
            "workflow": key.split(":", 1)[0][:64],
            "status": "running",
            "started_at": now,
            "finished_at": None,
            "detail": {},
            "released": False,
            "attempts": 1,
            "next_attempt_at": None,
            "lease_until": lease,
        }
        if not retrying:
            try:
                with self.store.engine.begin() as conn:
                    conn.execute(insert(workflow_runs).values(**row))
            except IntegrityError:
                pass
            else:
                return True
        c = workflow_runs.c
        held = c.status == "waiting" if retrying else c.released == true()
        values: dict[str, Any] = {
            "status": "running",
            "released": False,
            "next_attempt_at": None,
            "started_at": now,
            "lease_until": lease,
        }
        if not retrying:  # a released key's old record is not this claim's progress
            values["detail"] = {}
        take = update(workflow_runs).where(c.key == key, held).values(**values)
        with self.store.engine.begin() as conn:
            return conn.execute(take).rowcount == 1

    async def checkpoint(self, run: WorkflowRun) -> bool:
        """Save the running run's progress on its row and renew its lease; False if the row
        is no longer running (recovered by another process after its lease ended)."""
        c = workflow_runs.c
        values = {
            "detail": _detail(run),
            "attempts": run.attempts,
            "started_at": run.started_at,
            "lease_until": self.now_ms() + self.lease_ms,
        }
        query = update(workflow_runs).where(c.key == run.key, c.status == "running")
        with self.store.engine.begin() as conn:
            return conn.execute(query.values(**values)).rowcount == 1

    async def expired(self, now: int | None = None, *, limit: int = 100) -> list[WorkflowRun]:
        """Running rows whose lease ended before `now` (default: this ledger's clock), oldest
        claim first."""
        now = self.now_ms() if now is None else now
        c = workflow_runs.c
        query = (
            select(workflow_runs)
            .where(self._lease_ended(now))
            .order_by(c.started_at, c.key)
            .limit(limit)
        )
        with self.store.engine.connect() as conn:
            return [run_of(row) for row in conn.execute(query)]

    async def settle_expired(self, run: WorkflowRun, now: int | None = None) -> bool:
        """Replace the expired running row of `run.key` with `run`, only if it is still
        running with its lease ended (see the module docstring)."""
        now = self.now_ms() if now is None else now
        c = workflow_runs.c
        values = _settled_values(run)
        query = update(workflow_runs).where(c.key == run.key, self._lease_ended(now))
        with self.store.engine.begin() as conn:
            return conn.execute(query.values(**values)).rowcount == 1

    async def release(self, key: str) -> None:
        """Delete the key's row so that a later delivery may run it."""
        with self.store.engine.begin() as conn:
            conn.execute(delete(workflow_runs).where(workflow_runs.c.key == key))

    async def record(self, run: WorkflowRun) -> None:
        """Store the finished run on its key's row (a released key gets a history row)."""
        values = _settled_values(run)
        with self.store.engine.begin() as conn:
            done = conn.execute(
                update(workflow_runs).where(workflow_runs.c.key == run.key).values(**values)
            )
            if done.rowcount:
                return
            if run.status == "waiting":  # it holds its key: the retrier must find it there
                conn.execute(insert(workflow_runs).values(key=run.key, **values))
                return
            # A key the run did not hold (given back, or never claimed): keep the record under
            # its own key so the failure shows up, without blocking a later claim of the real
            # key; a history row is never claimed, retried or released.
            failed_key = f"{run.key}{HISTORY_MARK}{uuid.uuid4().hex[:12]}"[-255:]
            history = {**values, "released": False, "next_attempt_at": None}
            conn.execute(insert(workflow_runs).values(key=failed_key, **history))

    async def recent(self, limit: int = 50) -> list[WorkflowRun]:
        """The latest runs, newest first (claims still running included)."""
        query = select(workflow_runs).order_by(workflow_runs.c.started_at.desc()).limit(limit)
        with self.store.engine.connect() as conn:
            return [run_of(row) for row in conn.execute(query)]

    async def due(
        self,
        now: int,
        *,
        everything: bool = False,
        after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> list[WorkflowRun]:
        """Waiting runs due at `now` (all with `everything`), by (next attempt, key)."""
        c = workflow_runs.c
        conditions = [c.status == "waiting", c.next_attempt_at.is_not(None)]
        if not everything:
            conditions.append(c.next_attempt_at <= now)
        if after is not None:
            conditions.append(tuple_(c.next_attempt_at, c.key) > tuple_(*after))
        query = (
            select(workflow_runs)
            .where(and_(*conditions))
            .order_by(c.next_attempt_at, c.key)
            .limit(limit)
        )
        with self.store.engine.connect() as conn:
            return [run_of(row) for row in conn.execute(query)]

    async def retry_counts(self) -> dict[str, int]:
        """Runs `waiting` for a retry, `abandoned` and `interrupted`, from the status index."""
        c = workflow_runs.c
        query = select(c.status, func.count()).where(c.status.in_(RETRY_STATES)).group_by(c.status)
        counts = dict.fromkeys(RETRY_STATES, 0)
        with self.store.engine.connect() as conn:
            counts.update({row[0]: int(row[1]) for row in conn.execute(query)})
        return counts

    async def request_retry(
        self,
        *,
        category: str | None = None,
        workflow: str | None = None,
        interrupted: bool = False,
        now: int | None = None,
    ) -> int:
        """Make the runs that gave their key back (failed for good before any effect, or
        abandoned) wait for a retry due now, with a fresh maximum age; returns how many.
        With `interrupted`, the `interrupted` runs instead (someone checked what their
        process left unfinished): they resume at their first action not recorded as done.

        For `hubforce retry --workflows` after a fix. Runs that failed after an effect are
        left alone: running them again could duplicate the effect.
        """
        when = self.now_ms() if now is None else now
        c = workflow_runs.c
        held = c.status == "interrupted" if interrupted else c.released == true()
        query = select(workflow_runs).where(held)
        if workflow is not None:
            query = query.where(c.workflow == workflow)
        with self.store.engine.connect() as conn:
            rows = list(conn.execute(query))
        count = 0
        for row in rows:
            run = run_of(row)
            if category is not None and run.failure_category != category:
                continue
            run.retry_since = when  # the maximum age counts from the request
            detail = _detail(run)
            with self.store.engine.begin() as conn:
                # Only if still released: a redelivery may have claimed it meanwhile.
                moved = conn.execute(
                    update(workflow_runs)
                    .where(c.key == row.key, held)
                    .values(status="waiting", released=False, next_attempt_at=when, detail=detail)
                )
                count += moved.rowcount
        return count
