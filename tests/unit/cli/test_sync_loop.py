"""The `hubforce sync` loop goes on through every failure but a configuration error: one line
per failure (not per attempt), a capped backoff, a line on recovery; `--once` still fails."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from rich.console import Console
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from hubforce.cli import app, sync_commands
from hubforce.cli.sync_commands import LoopStop, _cycles, loop_wait
from hubforce.engine.context import CycleOptions, CycleReport
from hubforce.engine.local import EMULATOR_ENV, local_config
from hubforce.errors import AuthFailed, ConfigError, RateLimited, Transient

CONFIG = local_config("http://hubspot.test", "http://salesforce.test", "sqlite:///unused.db")
INTERVAL = 30.0


def _storm() -> Transient:
    return Transient("hubspot", "HubSpot answered 503: busy", status=503)


def _store_down() -> OperationalError:
    return OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))


class Scripted:
    """Stands in for the engine and the clock: each cycle takes the next outcome."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, outcomes: list[Any]) -> None:
        self.outcomes: Iterator[Any] = iter(outcomes)
        self.waits: list[float] = []
        self.output = io.StringIO()
        latest = SimpleNamespace(latest=lambda kind: None)
        ctx = SimpleNamespace(store=SimpleNamespace(runs=latest))

        @asynccontextmanager
        async def context(*_args: Any, **_kw: Any) -> AsyncIterator[Any]:
            yield ctx

        async def cycle(_ctx: Any) -> CycleReport:
            outcome = next(self.outcomes)
            if isinstance(outcome, BaseException):
                raise outcome
            return CycleReport(run_id=outcome)

        async def sleep(_stop: LoopStop, seconds: float) -> None:
            self.waits.append(seconds)

        monkeypatch.setattr(sync_commands, "sync_context", context)
        monkeypatch.setattr(sync_commands, "run_cycle", cycle)
        monkeypatch.setattr(LoopStop, "sleep", sleep)

    def run(self, *, once: bool = False) -> None:
        """Run the loop (its output goes to `self.output`)."""
        console = Console(file=self.output, width=300, color_system=None)
        options = CycleOptions()
        asyncio.run(_cycles(console, CONFIG, options, once=once, verbose=False, interval=INTERVAL))


def test_the_backoff_doubles_per_failure_and_is_capped() -> None:
    assert [loop_wait(30, n) for n in range(1, 8)] == [30, 30 * 2, 120, 240, 480, 600, 600]
    assert loop_wait(900, 5) == 900  # an interval longer than the cap stays the interval


def test_the_loop_goes_on_through_api_storms_a_lost_store_and_bugs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    done = ConfigError("hubforce.yaml", "objects", "the file changed under the loop")
    storm, store = [_storm(), _storm(), _storm()], [_store_down(), _store_down()]
    script = Scripted(monkeypatch, [*storm, 1, *store, 2, KeyError("Id"), 3, done])
    with pytest.raises(ConfigError):  # the one failure that stops the loop
        script.run()
    # The storm backs off 30, 60, 120 s; a success resets it; the store outage starts over.
    assert script.waits == [30, 60, 120, 30, 30, 60, 30, 30, 30]


def test_one_line_per_failure_not_per_attempt_and_a_line_on_recovery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    done = ConfigError("hubforce.yaml", "objects", "stop here")
    outcomes = [_storm(), _storm(), _storm(), 1, _store_down(), 2, KeyError("Id"), 3, done]
    script = Scripted(monkeypatch, outcomes)
    with pytest.raises(ConfigError):
        script.run()
    text = script.output.getvalue()
    lines = [line for line in text.splitlines() if line.startswith("sync ")]
    assert lines[0] == (
        "sync failed: HubSpot answered 503: busy; fix: A temporary API problem; hubforce retries "
        "automatically; next attempt in 30s"
    )
    assert lines[1].startswith("sync works again (after 3 failed attempts since ")
    assert lines[2].startswith(
        "sync failed: the state store is unavailable (database is locked); fix: check that the "
        "database in connections.store.url is reachable; next attempt in 30s"
    )
    assert lines[3].startswith("sync works again (after 1 failed attempt since ")
    assert lines[4].startswith("sync failed: unexpected KeyError: 'Id' (a bug")
    assert lines[5].startswith("sync works again")
    assert len(lines) == 6
    assert text.count("Traceback") == 1 and "KeyError: 'Id'" in text  # the bug's, once
    assert script.waits[:3] == [30, 60, 120]


def test_refused_credentials_and_rate_limits_keep_the_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    done = ConfigError("hubforce.yaml", "objects", "stop here")
    refused = AuthFailed("salesforce", api_code="INVALID_LOGIN")
    script = Scripted(
        monkeypatch, [refused, refused, refused, RateLimited("hubspot", 3600, "daily"), done]
    )
    monkeypatch.setattr(sync_commands.Reconnector, "renew", _no_renewal)
    with pytest.raises(ConfigError):
        script.run()
    # The Reconnector paces renewals on the interval; a daily limit waits for its reset.
    assert script.waits == [30, 30, 30, 3600]


async def _no_renewal(*_args: Any, **_kw: Any) -> None:
    return None


@pytest.mark.parametrize(
    "error", [_storm(), _store_down(), AuthFailed("hubspot"), RateLimited("hubspot", 9, "daily")]
)
def test_once_still_ends_with_the_error(
    monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    script = Scripted(monkeypatch, [error])
    with pytest.raises(type(error)):
        script.run(once=True)
    assert script.waits == []


def test_once_prints_an_unreachable_store_as_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    Scripted(monkeypatch, [_store_down()])
    data = CONFIG.model_dump(mode="json")
    data["connections"]["hubspot"]["token"] = "${HUBSPOT_TOKEN}"
    password = data["connections"]["salesforce"]["password"]
    for key, variable in (
        ("password", "SALESFORCE_PASSWORD"),
        ("security_token", "SALESFORCE_SECURITY_TOKEN"),
        ("client_secret", "SALESFORCE_CLIENT_SECRET"),
    ):
        password[key] = "${" + variable + "}"
    config = tmp_path / "hubforce.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    result = CliRunner().invoke(
        app, ["sync", "--once", "-c", str(config)], env={**EMULATOR_ENV, "COLUMNS": "300"}
    )
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (
        "error: the state store is unavailable (database is locked); fix: check that the "
        "database in connections.store.url is reachable"
    )
