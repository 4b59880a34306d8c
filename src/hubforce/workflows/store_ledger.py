"""The workflow ledger in the state store (`workflow_runs`, migrations 0002 and 0003).

Claiming a key is an INSERT of a `running` row: the primary key makes it atomic across
processes and restarts, so a webhook redelivered hours later still finds its key taken. A row
whose run gave its key back (`released`: failed before any effect, for good or abandoned) is
taken over by a conditional UPDATE instead, and a `waiting` row likewise by the retrier only
(`claim(retrying=True)`): of two claimers racing for one row, one UPDATE matches and the other
finds the row `running`. Recording a run updates its row with status, finish time, retry
columns and details. Calls are short single-row statements, run inline like the engine's other
store calls.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, true, tuple_, update
from sqlalchemy.exc import IntegrityError

from hubforce.store import Store
from hubforce.store.tables import workflow_runs
from hubforce.workflows.runs import ActionResult, WorkflowRun

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
    )


def _now() -> int:
    return int(time.time() * 1000)


class StoreLedger:
    """RunLedger over the state store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def claim(self, key: str, *, retrying: bool = False) -> bool:
        """Insert the key as a running row, or take over its released (with `retrying`: its
        waiting) row; False if someone else holds it."""
        now = _now()
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
        take = (
            update(workflow_runs)
            .where(c.key == key, held)
            .values(status="running", released=False, next_attempt_at=None, started_at=now)
        )
        with self.store.engine.begin() as conn:
            return conn.execute(take).rowcount == 1

    async def release(self, key: str) -> None:
        """Delete the key's row so that a later delivery may run it."""
        with self.store.engine.begin() as conn:
            conn.execute(delete(workflow_runs).where(workflow_runs.c.key == key))

    async def record(self, run: WorkflowRun) -> None:
        """Store the finished run on its key's row (a released key gets a history row)."""
        values = {
            "workflow": run.workflow[:64],
            "status": run.status,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "detail": _detail(run),
            "released": run.released,
            "attempts": run.attempts,
            "next_attempt_at": run.next_attempt_at if run.status == "waiting" else None,
        }
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
        """Runs `waiting` for a retry and `abandoned`, from the status index."""
        c = workflow_runs.c
        query = (
            select(c.status, func.count())
            .where(c.status.in_(("waiting", "abandoned")))
            .group_by(c.status)
        )
        counts = {"waiting": 0, "abandoned": 0}
        with self.store.engine.connect() as conn:
            counts.update({row[0]: int(row[1]) for row in conn.execute(query)})
        return counts

    async def request_retry(
        self, *, category: str | None = None, workflow: str | None = None, now: int | None = None
    ) -> int:
        """Make the runs that gave their key back (failed for good before any effect, or
        abandoned) wait for a retry due now, with a fresh maximum age; returns how many.

        For `hubforce retry --workflows` after a fix. Runs that failed after an effect are
        left alone: running them again could duplicate the effect.
        """
        when = _now() if now is None else now
        c = workflow_runs.c
        query = select(workflow_runs).where(c.released == true())
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
                    .where(c.key == row.key, c.released == true())
                    .values(status="waiting", released=False, next_attempt_at=when, detail=detail)
                )
                count += moved.rowcount
        return count
