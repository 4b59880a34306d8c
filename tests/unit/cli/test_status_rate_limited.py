"""`hubforce status` tells when a sync stopped by the budget will run again."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hubforce.cli import app
from hubforce.errors import RateLimited
from hubforce.store import open_store
from hubforce.store.runs import RunStatus

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


def _status(tmp_path: Path, message: str, status: RunStatus = RunStatus.FAILED) -> str:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(store_url) as store:
        run_id = store.runs.start("sync", now=T0)
        store.runs.finish(run_id, status, message=message, now=T0 + 60_000)
    config = tmp_path / "hubforce.yaml"
    config.write_text(CONFIG.replace("STORE_URL", store_url))
    result = runner.invoke(app, ["status", "--config", str(config)], env=ENV)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_run_paused_by_the_budget_shows_the_next_sync_time(tmp_path: Path) -> None:
    # As run_cycle records it: "<pair>: <RateLimited message>"; finished 16:01, retry in 2 h.
    message = f"contacts: {RateLimited('salesforce', 7200, 'budget')}"
    output = _status(tmp_path, message)
    assert "Rate limited: next sync at 18:01 UTC" in output


def test_a_run_that_failed_otherwise_shows_no_next_sync_time(tmp_path: Path) -> None:
    output = _status(tmp_path, "contacts: Salesforce rejected the login")
    assert "Rate limited" not in output
    assert "Salesforce rejected the login" in output
