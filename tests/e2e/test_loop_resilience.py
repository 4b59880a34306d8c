"""The `hubforce sync` loop (a subprocess against both emulators on loopback) survives errors
and stops cleanly.

- A 503 storm on one side that outlasts the retries: the cycle is recorded as failed, the loop
  prints one clear line (no traceback), Slack hears "sync failing" once; once the storm is
  removed the same process converges to a fault-free run and says so (and Slack too).
- SIGTERM between cycles stops at once (exit 0); during a cycle it stops at the end of the
  round in flight, everything recorded (exit 0); a second SIGTERM stops the round now (exit
  143, the run recorded as interrupted); either way the next runs converge with no duplicate.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.engine.local import EMULATOR_ENV, local_config
from hubforce.store import Run
from tests.e2e.chaos_helpers import (
    assert_converged,
    over_loopback,
    reference,
    seed_world,
    snapshot,
    workload,
)
from tests.e2e.conftest import Harness

DEADLINE_S = 45.0


@pytest.fixture
def served(harness: Harness) -> Iterator[dict[str, str]]:
    """The harness's two emulator apps on free loopback ports."""
    with BackgroundServer(harness.hs_app) as hs, BackgroundServer(harness.sf_app) as sf:
        yield {"hubspot": hs.url, "salesforce": sf.url}


@pytest.fixture
def slack() -> Iterator[tuple[str, list[str]]]:
    """A local stand-in for a Slack incoming webhook: its URL and the messages it received."""
    received: list[str] = []

    async def incoming_webhook(request: Request) -> PlainTextResponse:
        received.append(json.dumps(json.loads(await request.body())))
        return PlainTextResponse("ok")

    receiver = Starlette(routes=[Route("/services/T0/B0/x", incoming_webhook, methods=["POST"])])
    with BackgroundServer(receiver) as server:
        yield f"{server.url}/services/T0/B0/x", received


class Loop:
    """`hubforce sync` (the loop) as a subprocess, its output in a file."""

    def __init__(self, tmp_path: Path, urls: dict[str, str], store_url: str, slack: str) -> None:
        data = local_config(urls["hubspot"], urls["salesforce"], store_url).model_dump(mode="json")
        data["connections"]["hubspot"]["token"] = "${HUBSPOT_TOKEN}"
        password = data["connections"]["salesforce"]["password"]
        password["password"] = "${SALESFORCE_PASSWORD}"
        password["security_token"] = "${SALESFORCE_SECURITY_TOKEN}"
        password["client_secret"] = "${SALESFORCE_CLIENT_SECRET}"
        data["schedule"]["salesforce_poll_seconds"] = 5  # the loop's interval (the shortest)
        data["alerts"]["slack_webhook_url"] = "${SLACK_WEBHOOK_URL}"
        config = tmp_path / "hubforce.yaml"
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        self.log = tmp_path / "loop.log"
        env = {
            **os.environ,
            **EMULATOR_ENV,
            "SLACK_WEBHOOK_URL": slack,
            "COLUMNS": "250",
            "PYTHONUNBUFFERED": "1",  # lines reach the file as they are printed
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hubforce", "sync", "-c", str(config)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, what: str, check: Callable[[], bool]) -> None:
        """Poll `check` until true; fail if the loop died or the deadline passed."""
        deadline = time.monotonic() + DEADLINE_S
        while not check():
            code = self.process.poll()
            assert code is None, f"the loop exited ({code}) before {what}:\n{self.output}"
            assert time.monotonic() < deadline, f"{what}: not within {DEADLINE_S:.0f} s"
            time.sleep(0.05)

    def sigterm(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def exit_code(self, within: float) -> int:
        """Wait for the process to end (at most `within` seconds)."""
        return self.process.wait(timeout=within)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)


@pytest.fixture
def start_loop(
    harness: Harness,
    served: dict[str, str],
    slack: tuple[str, list[str]],
    tmp_path: Path,
) -> Iterator[Callable[[], Loop]]:
    started: list[Loop] = []

    def start() -> Loop:
        loop = Loop(tmp_path, served, harness.store_url, slack[0])
        started.append(loop)
        return loop

    yield start
    for loop in started:
        loop.close()


def _latest(harness: Harness) -> Run | None:
    return harness.store.runs.latest(kind="sync")


def _faults(url: str, *rules: dict[str, Any]) -> None:
    """Replace (or with no rules, clear) an emulator's fault rules over HTTP."""
    if rules:
        reply = httpx.post(f"{url}/__emulator__/faults", json={"rules": list(rules)}, timeout=10)
    else:
        reply = httpx.delete(f"{url}/__emulator__/faults", timeout=10)
    assert reply.status_code == 200, reply.text


@pytest.mark.slow  # the retries (~5 s) and the loop's shortest interval (5 s): ~20 s
def test_the_loop_rides_out_a_503_storm_and_converges_in_the_same_process(
    harness: Harness,
    served: dict[str, str],
    slack: tuple[str, list[str]],
    start_loop: Callable[[], Loop],
    migrated_store: Path,
    tmp_path: Path,
) -> None:
    seed = 131
    _, received = slack
    expected = reference(seed, tmp_path, migrated_store)
    workload(harness, seed)  # edits on both sides wait for the loop
    _faults(served["hubspot"], {"route": "/crm/*", "fault": "503"})  # longer than the retries
    loop = start_loop()
    loop.wait_for(
        "the failed run recorded",
        lambda: (
            (run := _latest(harness)) is not None
            and run.status == "failed"
            and "HubSpot answered 503" in (run.message or "")
        ),
    )
    loop.wait_for("the sync-failing alert", lambda: any("Sync failing" in m for m in received))
    assert "HubSpot answered 503" in next(m for m in received if "Sync failing" in m)
    failed = _latest(harness)
    assert failed is not None

    _faults(served["hubspot"])  # the storm ends
    with over_loopback(harness, served):
        loop.wait_for("convergence", lambda: snapshot(harness) == expected)
    loop.wait_for("the recovery alert", lambda: any("the sync works again" in m for m in received))
    loop.wait_for("the recovery line", lambda: "sync works again" in loop.output)
    resumed = _latest(harness)
    assert resumed is not None and resumed.id > failed.id and resumed.status == "succeeded"

    loop.sigterm()
    assert loop.exit_code(within=15) == 0
    output = loop.output
    assert "Traceback" not in output, output
    assert output.count("sync failed: HubSpot answered 503") == 1, output
    assert "next attempt in 5s" in output
    assert "stopped (SIGTERM)" in output
    assert sum("Sync failing" in m for m in received) == 1, received
    assert sum("the sync works again" in m for m in received) == 1, received
    with over_loopback(harness, served):
        assert_converged(harness, seed, tmp_path, migrated_store)


def test_sigterm_between_cycles_stops_at_once(
    harness: Harness, start_loop: Callable[[], Loop]
) -> None:
    seed_world(harness, 132)
    before = _latest(harness)
    loop = start_loop()
    loop.wait_for(
        "a cycle done",
        lambda: (run := _latest(harness)) != before and run is not None and run.status != "running",
    )
    loop.wait_for("the report printed", lambda: "Sync run" in loop.output)
    signalled = time.monotonic()
    loop.sigterm()
    assert loop.exit_code(within=10) == 0
    assert time.monotonic() - signalled < 4.0  # not one more 5 s interval
    output = loop.output
    assert output.rstrip().endswith("stopped (SIGTERM)"), output
    assert "Traceback" not in output


def _slow_hubspot(served: dict[str, str]) -> None:
    """Every HubSpot API call takes 0.4 s more, so that a cycle is in flight for a while."""
    _faults(served["hubspot"], {"route": "/crm/*", "latency_ms": 400})


def test_sigterm_during_a_cycle_stops_it_at_a_rounds_end_and_the_next_runs_converge(
    harness: Harness,
    served: dict[str, str],
    start_loop: Callable[[], Loop],
    migrated_store: Path,
    tmp_path: Path,
) -> None:
    seed = 133
    reference(seed, tmp_path, migrated_store)
    workload(harness, seed)
    before = _latest(harness)
    _slow_hubspot(served)
    loop = start_loop()
    loop.wait_for(
        "a cycle in flight",
        lambda: (run := _latest(harness)) != before and run is not None and run.status == "running",
    )
    loop.sigterm()
    loop.wait_for("the notice", lambda: "end of the round in flight" in loop.output)
    assert loop.exit_code(within=DEADLINE_S) == 0
    run = _latest(harness)
    # Stopped at a round's end (recorded as interrupted, with why), or that was its last round.
    assert run is not None and run.status in ("interrupted", "succeeded"), run
    if run.status == "interrupted":
        assert run.message is not None and "round's end" in run.message
        assert "Stopped on request at a round's end" in loop.output
    output = loop.output
    assert "Sync run" in output and output.rstrip().endswith("stopped (SIGTERM)"), output
    assert "Traceback" not in output

    _faults(served["hubspot"])
    with over_loopback(harness, served):
        for _ in range(3):
            harness.sync()
        assert_converged(harness, seed, tmp_path, migrated_store)


def test_a_second_sigterm_stops_the_cycle_now_and_the_next_runs_converge(
    harness: Harness,
    served: dict[str, str],
    start_loop: Callable[[], Loop],
    migrated_store: Path,
    tmp_path: Path,
) -> None:
    seed = 134
    reference(seed, tmp_path, migrated_store)
    workload(harness, seed)
    before = _latest(harness)
    _slow_hubspot(served)
    loop = start_loop()
    loop.wait_for(
        "a cycle in flight",
        lambda: (run := _latest(harness)) != before and run is not None and run.status == "running",
    )
    loop.sigterm()
    loop.wait_for("the first SIGTERM noticed", lambda: "end of the round" in loop.output)
    loop.sigterm()
    assert loop.exit_code(within=10) == 143
    run = _latest(harness)
    assert run is not None and run.status == "interrupted", run
    assert run.message is not None and "SIGTERM" in run.message
    output = loop.output
    assert "stopped: SIGTERM interrupted the cycle in flight" in output, output
    assert "Traceback" not in output

    _faults(served["hubspot"])
    with over_loopback(harness, served):
        for _ in range(3):
            harness.sync()
        assert_converged(harness, seed, tmp_path, migrated_store)
