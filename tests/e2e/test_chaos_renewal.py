"""Chaos: a refresh token revoked under a running `hubforce sync` loop, then reconnected.

The loop runs as a subprocess against both emulators served on loopback, with OAuth on both
sides and the refresh tokens `hubforce connect` stored encrypted in the shared SQLite store. An
admin revokes one side's grants (the emulator's `revoke-tokens` control): the loop records the
stop ("reauthorize ...", also in `hubforce status`) and a Slack alert reaches a local receiver.
A fresh `hubforce connect` stores a new token; the SAME process picks it up on its next
interval, syncs what was edited meanwhile, announces the recovery, and both sides end equal to
a fault-free run of the same seed.
"""

from __future__ import annotations

import html
import json
import os
import re
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
from typer.testing import CliRunner

from hubforce.cli import app, connect_commands
from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.config import Credentials
from hubforce.engine.local import EMULATOR_ENV, local_config
from hubforce.store import SecretBox
from hubforce.sync.model import Side
from tests.e2e.chaos_helpers import (
    assert_converged,
    edit_world,
    over_loopback,
    reference,
    seed_world,
    snapshot,
    workload,
)
from tests.e2e.conftest import Harness

pytestmark = pytest.mark.slow  # the loop's shortest interval is 5 s: ~15 s per scenario

KEY = SecretBox.generate_key()
HS = HubSpotEmulatorSettings()
SF = Credentials()
DEADLINE_S = 45.0


def wait_for(what: str, check: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    """Poll `check` until true; fail if the loop died or the deadline passed."""
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert process.poll() is None, f"the sync loop exited ({process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"{what}: not within {DEADLINE_S:.0f} s"
        time.sleep(0.05)


@pytest.fixture
def served(harness: Harness) -> Iterator[dict[str, str]]:
    """The harness's two emulator apps on free loopback ports."""
    with BackgroundServer(harness.hs_app) as hs, BackgroundServer(harness.sf_app) as sf:
        yield {"hubspot": hs.url, "salesforce": sf.url}


@pytest.fixture
def slack() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local stand-in for a Slack incoming webhook: its URL and the payloads it received."""
    received: list[dict[str, Any]] = []

    async def incoming_webhook(request: Request) -> PlainTextResponse:
        received.append(json.loads(await request.body()))
        return PlainTextResponse("ok")

    receiver = Starlette(routes=[Route("/services/T0/B0/x", incoming_webhook, methods=["POST"])])
    with BackgroundServer(receiver) as server:
        yield f"{server.url}/services/T0/B0/x", received


def _config_file(tmp_path: Path, urls: dict[str, str], store_url: str) -> Path:
    """OAuth on both sides, refresh tokens left to the store (as `hubforce connect` advises)."""
    data = local_config(urls["hubspot"], urls["salesforce"], store_url).model_dump(mode="json")
    data["connections"]["hubspot"] = {
        "base_url": urls["hubspot"],
        "oauth": {"client_id": HS.client_id, "client_secret": "${HUBSPOT_CLIENT_SECRET}"},
    }
    data["connections"]["salesforce"] = {
        "login_url": urls["salesforce"],
        "instance_url": urls["salesforce"],
        "api_version": "62.0",
        "oauth": {"client_id": SF.consumer_key, "client_secret": "${SALESFORCE_CLIENT_SECRET}"},
    }
    data["schedule"]["salesforce_poll_seconds"] = 5  # the loop's interval (the shortest allowed)
    data["alerts"]["slack_webhook_url"] = "${SLACK_WEBHOOK_URL}"
    path = tmp_path / "hubforce.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _approve(url: str) -> object:
    """A user's browser: approve on the authorize page, follow the redirect back."""
    with httpx.Client(timeout=10) as http:
        page = http.get(url)
        approve = re.search(r'id="approve" href="([^"]+)"', page.text)
        if page.status_code == 200 and approve is not None:  # HubSpot's consent page
            page = http.get(html.unescape(approve.group(1)))
        assert page.status_code == 302, page.text
        return http.get(page.headers["location"]).status_code


def _connect(side: Side, config: Path, env: dict[str, str]) -> None:
    """`hubforce connect <side>`, with a scripted browser."""
    result = CliRunner().invoke(app, ["connect", side.value, "-c", str(config)], env=env)
    assert result.exit_code == 0, result.output
    assert "Connected to" in result.output


def _revoke(urls: dict[str, str], side: Side) -> None:
    reply = httpx.post(f"{urls[side.value]}/__emulator__/revoke-tokens", json={}, timeout=10)
    assert reply.status_code == 200 and reply.json()["revoked"] >= 1, reply.text


def _texts(received: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(message) for message in received]


@pytest.mark.parametrize(
    ("side", "revoked", "seed"),
    [(Side.HUBSPOT, "while running", 111), (Side.SALESFORCE, "before the first cycle", 112)],
)
def test_the_same_sync_loop_resumes_after_a_revoked_grant_is_reconnected(
    harness: Harness,
    served: dict[str, str],
    slack: tuple[str, list[dict[str, Any]]],
    migrated_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    side: Side,
    revoked: str,
    seed: int,
) -> None:
    webhook, received = slack
    label = "HubSpot" if side is Side.HUBSPOT else "Salesforce"
    expected = reference(seed, tmp_path, migrated_store)
    if revoked == "while running":
        seed_world(harness, seed)  # the edits come while the loop is refused
    else:
        workload(harness, seed)
    config = _config_file(tmp_path, served, harness.store_url)
    env = {
        **EMULATOR_ENV,
        "HUBFORCE_SECRET_KEY": KEY,
        "HUBSPOT_CLIENT_SECRET": HS.client_secret,
        "SLACK_WEBHOOK_URL": webhook,
        "COLUMNS": "250",
    }
    monkeypatch.setattr(connect_commands, "open_browser", _approve)
    for each in Side:
        _connect(each, config, env)
    if revoked == "before the first cycle":
        _revoke(served, side)
    started = harness.store.runs.latest(kind="sync")
    log = tmp_path / "loop.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hubforce", "sync", "-c", str(config)],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def latest() -> Any:
        return harness.store.runs.latest(kind="sync")

    try:
        if revoked == "while running":
            wait_for(
                "a first healthy cycle",
                lambda: latest() != started and latest().status == "succeeded",
                process,
            )
            _revoke(served, side)
            with over_loopback(harness, served):
                edit_world(harness, seed)

        wait_for(
            "the stop recorded",
            lambda: latest().status == "failed" and f"reauthorize {label}" in latest().message,
            process,
        )
        stopped = latest()
        status = CliRunner().invoke(app, ["status", "-c", str(config)], env=env)
        assert status.exit_code == 0, status.output
        assert f"Authentication failed: reauthorize {label}" in status.output
        wait_for("the Slack alert", lambda: any(":lock:" in t for t in _texts(received)), process)
        alert = next(t for t in _texts(received) if ":lock:" in t)
        assert f"Authentication failed: reauthorize {label}" in alert
        assert f"hubforce connect {side.value}" in alert

        _connect(side, config, env)  # a fresh `hubforce connect`: a new token in the store
        wait_for(
            "the recovery alert",
            lambda: any("authentication works again" in t for t in _texts(received)),
            process,
        )
        with over_loopback(harness, served):
            wait_for("convergence", lambda: snapshot(harness) == expected, process)
        resumed = latest()
        assert resumed.id > stopped.id and resumed.status == "succeeded"
        assert process.poll() is None  # the same process did it all
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
    output = log.read_text()
    assert "Renewed credentials are in use." in output, output
    assert "Traceback" not in output, output
    texts = _texts(received)
    assert sum(":lock:" in t for t in texts) == 1, texts  # announced once, not every cycle
    assert sum("authentication works again" in t for t in texts) == 1, texts
    assert KEY not in output and webhook not in output
    assert_converged(harness, seed, tmp_path, migrated_store)
