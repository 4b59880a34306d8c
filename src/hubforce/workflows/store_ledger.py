"""The workflow ledger in the state store (`workflow_runs`, migration 0002).

Claiming a key is an INSERT of a `running` row: the primary key makes it atomic across
processes and restarts, so a webhook redelivered hours later still finds its key taken.
Recording a run updates the row with status, finish time and details; releasing deletes it.
Calls are short single-row statements, run inline like the engine's other store calls.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubforce.store import Store
from hubforce.store.tables import workflow_runs
from hubforce.workflows.runs import ActionResult, WorkflowRun


def _detail(run: WorkflowRun) -> dict[str, Any]:
    return {
        "trigger": run.trigger,
        "inputs": run.inputs,
        "actions": [
            {"action": a.action, "ok": a.ok, "detail": a.detail, "error": a.error}
            for a in run.actions
        ],
        "error": run.error,
    }


def _run_of(row: Any) -> WorkflowRun:
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
    )


class StoreLedger:
    """RunLedger over the state store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def claim(self, key: str) -> bool:
        """Insert the key as a running row; False if it exists."""
        row = {
            "key": key,
            "workflow": key.split(":", 1)[0][:64],
            "status": "running",
            "started_at": int(time.time() * 1000),
            "finished_at": None,
            "detail": {},
        }
        try:
            with self.store.engine.begin() as conn:
                conn.execute(insert(workflow_runs).values(**row))
        except IntegrityError:
            return False
        return True

    async def release(self, key: str) -> None:
        """Delete the key's row so that a later delivery may run it."""
        with self.store.engine.begin() as conn:
            conn.execute(delete(workflow_runs).where(workflow_runs.c.key == key))

    async def record(self, run: WorkflowRun) -> None:
        """Store the finished run on its key's row (inserted if it was released)."""
        values = {
            "workflow": run.workflow[:64],
            "status": run.status,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "detail": _detail(run),
        }
        with self.store.engine.begin() as conn:
            done = conn.execute(
                update(workflow_runs).where(workflow_runs.c.key == run.key).values(**values)
            )
            if done.rowcount == 0:
                # A released key (failed before any effect): keep the record under its own key
                # so the failure shows up, without blocking a later claim of the real key.
                failed_key = f"{run.key}#failed:{uuid.uuid4().hex[:12]}"[-255:]
                conn.execute(insert(workflow_runs).values(key=failed_key, **values))

    async def recent(self, limit: int = 50) -> list[WorkflowRun]:
        """The latest runs, newest first (claims still running included)."""
        query = select(workflow_runs).order_by(workflow_runs.c.started_at.desc()).limit(limit)
        with self.store.engine.connect() as conn:
            return [_run_of(row) for row in conn.execute(query)]
