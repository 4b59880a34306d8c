"""`hubforce status` shows workflow runs waiting for a retry, abandoned, failed before any
effect and, listed, failed after one; `hubforce retry --workflows` makes the runs that gave
their key back wait for `hubforce run`'s next retry pass."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from hubforce.cli import app
from hubforce.store import open_store
from hubforce.workflows.runs import ActionResult, WorkflowRun
from hubforce.workflows.store_ledger import StoreLedger
from tests.unit.cli.test_workflow_status import ENV, T0, _config

runner = CliRunner()
TRIGGER = {"type": "hubspot.record_created", "side": "hubspot", "object_type": "contacts"}


def _run(key: str, minute: int, status: str, **fields: object) -> WorkflowRun:
    run = WorkflowRun(
        "new-contact-lead",
        key,
        {**TRIGGER, "object_id": key.rsplit(":", 1)[-1]},
        T0 + minute * 60_000,
        status=status,  # type: ignore[arg-type]
        finished_at=T0 + minute * 60_000 + 500,
    )
    for name, value in fields.items():
        setattr(run, name, value)
    return run


def _seed(store_url: str) -> None:
    partial = _run(
        "new-contact-lead:504",
        4,
        "failed",
        error="action 2: Transient: HTTP 502 after 5 tries",
        failure_category="transient",
        actions=[
            ActionResult("action1:salesforce.create", True, {"id": "00Q9"}),
            ActionResult("action2:hubspot.update", False, error="HTTP 502", category="transient"),
        ],
    )
    runs = [
        _run(
            "new-contact-lead:501",
            0,
            "waiting",
            next_attempt_at=T0 + 10 * 60_000,
            error="action 1: AuthFailed: reauthorize Salesforce",
            failure_category="authentication",
        ),
        _run(
            "new-contact-lead:502",
            1,
            "waiting",
            next_attempt_at=T0 + 5 * 60_000,
            failure_category="authentication",
        ),
        _run(
            "new-contact-lead:503",
            2,
            "abandoned",
            error="abandoned after 80 attempt(s)",
            failure_category="authentication",
        ),
        partial,
        _run(
            "new-contact-lead:505",
            5,
            "failed",
            error="action 1: INVALID_OPTION: Status",
            failure_category="picklist",
        ),
    ]

    async def go() -> None:
        with open_store(store_url) as store:
            ledger = StoreLedger(store)
            for run in runs:
                assert await ledger.claim(run.key)
                await ledger.record(run)

    asyncio.run(go())


def test_status_counts_retries_and_lists_runs_that_failed_after_an_effect(
    tmp_path: Path,
) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    _seed(store_url)
    result = runner.invoke(app, ["status", "-c", str(_config(tmp_path, store_url))], env=ENV)
    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        "Workflow retries: 2 waiting for a retry (next at 2025-11-24 16:05:00 UTC); 1 abandoned; "
        "1 failed before any effect; 1 failed after an effect (not retried). After a fix: "
        "`hubforce retry --workflows`"
    ) in out
    assert "Failed after an effect: not retried automatically" in out
    listed = [line for line in out.splitlines() if "504" in line]
    assert listed and "action1:salesforce.create ok" in listed[0] and "HTTP 502" in listed[0]
    assert "new-contact-lead 1 abandoned, 2 failed, 2 waiting" in out


def test_retry_workflows_makes_given_back_runs_wait_by_category(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    _seed(store_url)
    config = str(_config(tmp_path, store_url))
    picklist = runner.invoke(
        app, ["retry", "--workflows", "--category", "picklist", "-c", config], env=ENV
    )
    assert picklist.exit_code == 0, picklist.output
    assert "1 picklist workflow run(s) will be retried by `hubforce run`" in picklist.output
    rest = runner.invoke(app, ["retry", "--workflows", "-c", config], env=ENV)
    assert rest.exit_code == 0, rest.output
    assert "1 workflow run(s) will be retried" in rest.output  # the abandoned one
    with open_store(store_url) as store:
        runs = {r.key.rsplit(":", 1)[-1]: r for r in asyncio.run(StoreLedger(store).recent())}
    assert {k: r.status for k, r in runs.items()} == {
        "501": "waiting",
        "502": "waiting",
        "503": "waiting",
        "504": "failed",  # after an effect: never run again by a command
        "505": "waiting",
    }
    refused = runner.invoke(app, ["retry", "--workflows", "--now", "-c", config], env=ENV)
    assert refused.exit_code == 2
    assert "workflow runs are retried by `hubforce run`" in refused.output


# -- runs interrupted by a stopped process ----------------------------------------------------

INTERRUPTED_ERROR = (
    "interrupted during action 1 of 1 (slack, not safe to repeat): the process running it "
    "stopped; action 1 may or may not have run. Check for its Slack message in #sales."
)


def _seed_interrupted(store_url: str) -> None:
    """A run a killed process left running, settled as interrupted, next to a partial one."""
    interrupted = _run(
        "new-contact-lead:601", 6, "interrupted", error=INTERRUPTED_ERROR, actions_started=1
    )
    interrupted.failure_category = "interrupted"

    async def go() -> None:
        with open_store(store_url) as store:
            ledger = StoreLedger(store, lease_ms=1, now_ms=lambda: T0)
            assert await ledger.claim(interrupted.key)
            assert await ledger.settle_expired(interrupted, T0 + 2)
            await _seed_partial(ledger)

    asyncio.run(go())


async def _seed_partial(ledger: StoreLedger) -> None:
    partial = _run("new-contact-lead:602", 7, "failed", error="action 2: HTTP 502")
    partial.actions = [ActionResult("action1:salesforce.create", True, {"id": "00Q9"})]
    assert await ledger.claim(partial.key)
    await ledger.record(partial)


def test_status_counts_and_lists_interrupted_runs_with_what_to_check(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    _seed_interrupted(store_url)
    result = runner.invoke(app, ["status", "-c", str(_config(tmp_path, store_url))], env=ENV)
    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        "Workflow retries: 1 failed after an effect (not retried); 1 interrupted by a stopped "
        "process (check them). After checking: `hubforce retry --workflows --interrupted`"
    ) in out
    assert "Interrupted by a stopped process during an action not safe to repeat" in out
    listed = [line for line in out.splitlines() if "601" in line]
    assert listed and "interrupted during action 1 of 1" in listed[0]


def test_retry_workflows_interrupted_makes_only_interrupted_runs_wait(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    _seed_interrupted(store_url)
    config = str(_config(tmp_path, store_url))
    plain = runner.invoke(app, ["retry", "--workflows", "-c", config], env=ENV)
    assert plain.exit_code == 0, plain.output
    assert "0 workflow run(s) will be retried" in plain.output  # not without --interrupted
    result = runner.invoke(app, ["retry", "--workflows", "--interrupted", "-c", config], env=ENV)
    assert result.exit_code == 0, result.output
    assert "1 interrupted workflow run(s) will be run again by `hubforce run`" in result.output
    with open_store(store_url) as store:
        runs = {r.key.rsplit(":", 1)[-1]: r for r in asyncio.run(StoreLedger(store).recent())}
    assert {k: r.status for k, r in runs.items()} == {"601": "waiting", "602": "failed"}
    assert runs["601"].next_attempt_at is not None
    assert runs["601"].actions_started == 1  # what a retry resumes from is kept


def test_interrupted_needs_workflows_and_takes_no_category(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    config = str(_config(tmp_path, store_url))
    alone = runner.invoke(app, ["retry", "--interrupted", "-c", config], env=ENV)
    assert alone.exit_code == 2 and "add --workflows" in alone.output
    category = runner.invoke(
        app,
        ["retry", "--workflows", "--interrupted", "--category", "picklist", "-c", config],
        env=ENV,
    )
    assert category.exit_code == 2 and "give --interrupted alone" in category.output
