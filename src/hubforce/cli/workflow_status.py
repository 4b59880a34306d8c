"""The workflow part of `hubforce status`: run counts and the latest runs from the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

from hubforce.store import Store
from hubforce.store.tables import workflow_runs
from hubforce.workflows.runs import WorkflowRun
from hubforce.workflows.store_ledger import StoreLedger

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
    runs = asyncio.run(StoreLedger(store).recent(limit))
    table = Table(title=f"Latest workflow runs (UTC, newest first, at most {limit})")
    for column in ("started", "workflow", "status", "trigger", "actions", "error"):
        table.add_column(column)
    for run in runs:
        colour = {"succeeded": "green", "failed": "red"}.get(run.status, "yellow")
        table.add_row(
            _when(run.started_at),
            escape(run.workflow),
            f"[{colour}]{run.status}[/]",
            escape(_trigger(run.trigger)),
            escape(_actions(run)),
            escape(run.error or ""),
        )
    console.print(table)
