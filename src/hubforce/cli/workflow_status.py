"""The workflow part of `hubforce status`: run counts, retries and the latest runs.

Retries: runs waiting for an automatic retry (and when the next is due), abandoned ones, runs
that failed for good before any effect (`hubforce retry --workflows` after a fix), and the runs
that failed after an effect, listed: those are never retried automatically; and the runs a
stopped process interrupted during an action not safe to repeat, listed with what to check
(`hubforce retry --workflows --interrupted` after checking).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import false, func, select, true

from hubforce.store import Store
from hubforce.store.tables import workflow_runs
from hubforce.workflows.runs import WorkflowRun
from hubforce.workflows.store_ledger import HISTORY_MARK, StoreLedger, run_of

LATEST = 10


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def run_counts(store: Store) -> dict[tuple[str, str], int]:
    """Runs per (workflow, status), over everything the store kept."""
    query = select(workflow_runs.c.workflow, workflow_runs.c.status, func.count()).group_by(
        workflow_runs.c.workflow, workflow_runs.c.status
    )
    with store.engine.connect() as conn:
        return {(row[0], row[1]): int(row[2]) for row in conn.execute(query)}


@dataclass(frozen=True)
class RetrySummary:
    """Workflow runs by retry state."""

    waiting: int = 0
    next_attempt_at: int | None = None
    abandoned: int = 0
    given_back: int = 0  # failed for good before any effect
    partial: int = 0  # failed after an effect
    interrupted: int = 0  # a stopped process left them half done: to check


def _partial_query(columns: list[Any]) -> Any:
    c = workflow_runs.c
    # Not released, not a history row (a failure recorded for a key it did not hold): an
    # action had an effect before the failure.
    return (
        select(*columns)
        .where(c.status == "failed", c.released == false())
        .where(c.key.not_like(f"%{HISTORY_MARK}%"))
    )


def retry_summary(store: Store) -> RetrySummary:
    """Counts of waiting, abandoned, given-back and partial runs, and the next attempt."""
    c = workflow_runs.c
    with store.engine.connect() as conn:
        waiting, next_at = conn.execute(
            select(func.count(), func.min(c.next_attempt_at)).where(c.status == "waiting")
        ).one()
        abandoned = conn.execute(select(func.count()).where(c.status == "abandoned")).scalar()
        given_back = conn.execute(
            select(func.count()).where(c.status == "failed", c.released == true())
        ).scalar()
        partial = conn.execute(_partial_query([func.count()])).scalar()
        interrupted = conn.execute(select(func.count()).where(c.status == "interrupted")).scalar()
    return RetrySummary(
        int(waiting),
        next_at,
        int(abandoned or 0),
        int(given_back or 0),
        int(partial or 0),
        int(interrupted or 0),
    )


def partial_runs(store: Store, limit: int = LATEST) -> list[WorkflowRun]:
    """The latest runs that failed after an effect, newest first."""
    query = _partial_query([workflow_runs]).order_by(workflow_runs.c.started_at.desc()).limit(limit)
    with store.engine.connect() as conn:
        return [run_of(row) for row in conn.execute(query)]


def interrupted_runs(store: Store, limit: int = LATEST) -> list[WorkflowRun]:
    """The latest runs interrupted by a stopped process, newest first."""
    c = workflow_runs.c
    query = (
        select(workflow_runs)
        .where(c.status == "interrupted")
        .order_by(c.started_at.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [run_of(row) for row in conn.execute(query)]


def _runs_table(console: Console, title: str, last: str, runs: list[WorkflowRun]) -> None:
    """One row per run: when, which workflow, its trigger, actions and `last` (its error)."""
    if not runs:
        return
    table = Table(title=title)
    for column in ("started", "workflow", "trigger", "actions", last):
        table.add_column(column)
    for run in runs:
        table.add_row(
            _when(run.started_at),
            escape(run.workflow),
            escape(_trigger(run.trigger)),
            escape(_actions(run)),
            escape(run.error or ""),
        )
    console.print(table)


def _render_retries(console: Console, store: Store, limit: int) -> None:
    summary = retry_summary(store)
    parts: list[str] = []
    if summary.waiting:
        parts.append(
            f"{summary.waiting} waiting for a retry (next at {_when(summary.next_attempt_at)} UTC)"
        )
    if summary.abandoned:
        parts.append(f"{summary.abandoned} abandoned")
    if summary.given_back:
        parts.append(f"{summary.given_back} failed before any effect")
    if summary.partial:
        parts.append(f"{summary.partial} failed after an effect (not retried)")
    if summary.interrupted:
        parts.append(f"{summary.interrupted} interrupted by a stopped process (check them)")
    if not parts:
        return
    line = "Workflow retries: " + "; ".join(parts)
    if summary.abandoned or summary.given_back:
        line += ". After a fix: `hubforce retry --workflows`"
    if summary.interrupted:
        line += ". After checking: `hubforce retry --workflows --interrupted`"
    console.print(line, highlight=False)
    _runs_table(
        console,
        "Interrupted by a stopped process during an action not safe to repeat: check what each "
        "error names, then `hubforce retry --workflows --interrupted` for those whose action "
        "did not happen",
        "what to check",
        interrupted_runs(store, limit),
    )
    _runs_table(
        console,
        "Failed after an effect: not retried automatically (running them again could repeat "
        "what succeeded), check each",
        "error",
        partial_runs(store, limit),
    )


def _trigger(trigger: dict[str, Any]) -> str:
    parts = [trigger.get("type"), trigger.get("side"), trigger.get("object_type")]
    text = " ".join(str(p) for p in parts if p)
    if trigger.get("object_id"):
        text += f" {trigger['object_id']}"
    return text or "-"


def _actions(run: WorkflowRun) -> str:
    return ", ".join(f"{a.action} {'ok' if a.ok else 'failed'}" for a in run.actions) or "-"


def render_workflow_runs(console: Console, store: Store, limit: int = LATEST) -> None:
    """Print run counts per workflow and a table of the latest runs (newest first)."""
    counts = run_counts(store)
    if not counts:
        console.print("No workflow has run yet (workflows run inside `hubforce run`).")
        return
    per_workflow: dict[str, list[str]] = {}
    for (workflow, status), count in sorted(counts.items()):
        per_workflow.setdefault(workflow, []).append(f"{count} {status}")
    console.print(
        "Workflow runs: "
        + "; ".join(f"{escape(w)} {', '.join(s)}" for w, s in per_workflow.items()),
        highlight=False,
    )
    _render_retries(console, store, limit)
    runs = asyncio.run(StoreLedger(store).recent(limit))
    table = Table(title=f"Latest workflow runs (UTC, newest first, at most {limit})")
    for column in ("started", "workflow", "status", "trigger", "actions", "error"):
        table.add_column(column)
    for run in runs:
        colour = {
            "succeeded": "green",
            "failed": "red",
            "abandoned": "red",
            "interrupted": "red",
        }.get(run.status, "yellow")
        table.add_row(
            _when(run.started_at),
            escape(run.workflow),
            f"[{colour}]{run.status}[/]",
            escape(_trigger(run.trigger)),
            escape(_actions(run)),
            escape(run.error or ""),
        )
    console.print(table)
