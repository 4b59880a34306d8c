"""`hubforce status` shows the workflow runs recorded in the store (`workflow_runs`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from hubforce.cli import app
from hubforce.store import open_store
from hubforce.workflows.runs import ActionResult, WorkflowRun
from hubforce.workflows.store_ledger import StoreLedger

runner = CliRunner()
T0 = 1_764_000_000_000  # 2025-11-24 16:00 UTC
ENV = {"HS_TOKEN": "t", "SF_PASSWORD": "p", "COLUMNS": "250"}
CONFIG = """\
version: 1
connections:
  hubspot: {token: "${HS_TOKEN}"}
  salesforce:
    password: {username: u@example.com, password: "${SF_PASSWORD}"}
  store: {url: "STORE_URL"}
"""


def _config(tmp_path: Path, store_url: str) -> Path:
    path = tmp_path / "hubforce.yaml"
    path.write_text(CONFIG.replace("STORE_URL", store_url))
    return path


def _run(key: str, minute: int, status: str, error: str | None = None) -> WorkflowRun:
    trigger = {"type": "form_submission", "side": "hubspot", "object_type": "contacts"}
    ok = status == "succeeded"
    return WorkflowRun(
        workflow="form-to-lead",
        key=key,
        trigger={**trigger, "object_id": key.rsplit(":", 1)[-1]},
        started_at=T0 + minute * 60_000,
        actions=[ActionResult("salesforce.create", ok, {"id": "00Q1"} if ok else {}, error)],
        status=status,  # type: ignore[arg-type]
        error=error,
        finished_at=T0 + minute * 60_000 + 500,
    )


async def _record(ledger: StoreLedger, runs: list[WorkflowRun]) -> None:
    for run in runs:
        assert await ledger.claim(run.key)
        await ledger.record(run)


def test_status_lists_workflow_run_counts_and_latest_runs(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(store_url) as store:
        asyncio.run(
            _record(
                StoreLedger(store),
                [
                    _run("form-to-lead:501", 0, "succeeded"),
                    _run("form-to-lead:502", 1, "succeeded"),
                    _run("form-to-lead:503", 2, "failed", "DUPLICATES_DETECTED: duplicate Lead"),
                ],
            )
        )
    result = runner.invoke(app, ["status", "-c", str(_config(tmp_path, store_url))], env=ENV)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Workflow runs: form-to-lead 1 failed, 2 succeeded" in out
    rows = [line for line in out.splitlines() if "form_submission hubspot contacts" in line]
    assert len(rows) == 3
    # Newest first, with the trigger's record, each action's outcome and the error.
    assert "2025-11-24 16:02:00" in rows[0] and "503" in rows[0] and "failed" in rows[0]
    assert "salesforce.create failed" in rows[0] and "DUPLICATES_DETECTED" in rows[0]
    assert "2025-11-24 16:00:00" in rows[2] and "501" in rows[2]
    assert "salesforce.create ok" in rows[2] and "succeeded" in rows[2]


def test_status_says_when_no_workflow_has_run(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    open_store(store_url).close()
    result = runner.invoke(app, ["status", "-c", str(_config(tmp_path, store_url))], env=ENV)
    assert result.exit_code == 0, result.output
    assert "No workflow has run yet" in result.output
    assert "Latest workflow runs" not in result.output
