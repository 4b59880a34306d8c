"""Chaos suite: each scenario ends with both sides equal to a fault-free run of the same seed.

A clean reference world runs the seeded workload (`chaos_helpers.workload`) and three cycles; a
chaos world runs the same workload, then cycles under injected faults, then (faults cleared)
three cycles. The normalised contents of both sides must match the reference exactly: same
records, same synced values, no duplicate, no lost update.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.engine.cycle import PAIR_ORDER
from hubforce.engine.local import EMULATOR_ENV, local_config
from hubforce.errors import AuthFailed, ConnectorError, RateLimited, Transient
from hubforce.sync.model import Side
from tests.e2e.chaos_helpers import (
    assert_converged,
    cursors,
    fired,
    set_faults,
    settle,
    workload,
)
from tests.e2e.conftest import HS_URL, SF_URL, Harness

SF_COLLECTIONS = "/services/data/*/composite/sobjects*"
HS_BATCH = "/crm/v3/objects/*/batch/*"


def faulted_sync(h: Harness, side: Side, *rules: dict[str, Any]) -> ConnectorError | None:
    """One cycle under `rules` on one emulator.

    A fault that outlasts the retries (or a create that must not be resent) ends the cycle with
    a ConnectorError; the run is then recorded as failed, never left running.
    """
    set_faults(h, side, *rules)
    try:
        h.sync()
    except ConnectorError as exc:
        run = h.store.runs.latest(kind="sync")
        assert run is not None and run.status == "failed" and run.message
        return exc
    return None


@pytest.mark.parametrize(
    ("side", "route", "fault", "seed"),
    [
        (Side.HUBSPOT, HS_BATCH, "503", 11),
        (Side.HUBSPOT, HS_BATCH, "500", 12),
        (Side.SALESFORCE, SF_COLLECTIONS, "503", 13),
        (Side.SALESFORCE, SF_COLLECTIONS, "500", 14),
    ],
)
def test_server_error_storm_on_batch_writes_converges(
    harness: Harness,
    migrated_store: Path,
    tmp_path: Path,
    side: Side,
    route: str,
    fault: str,
    seed: int,
) -> None:
    workload(harness, seed)
    faulted_sync(harness, side, {"route": route, "fault": fault, "rate": 0.5, "seed": seed})
    assert fired(harness, side) >= 1
    settle(harness)
    assert_converged(harness, seed, tmp_path, migrated_store)


def test_unable_to_lock_row_on_collections_converges(
    harness: Harness, migrated_store: Path, tmp_path: Path
) -> None:
    seed = 21
    workload(harness, seed)
    faulted_sync(
        harness,
        Side.SALESFORCE,
        {"route": SF_COLLECTIONS, "fault": "unable_to_lock_row", "rate": 0.6, "seed": seed},
    )
    assert fired(harness, Side.SALESFORCE) >= 1
    settle(harness)
    assert_converged(harness, seed, tmp_path, migrated_store)


def test_session_expired_mid_cycle_is_refreshed_and_the_cycle_completes(
    harness: Harness, migrated_store: Path, tmp_path: Path
) -> None:
    seed = 31
    workload(harness, seed)
    sessions = harness.sf_app.state.sessions
    expired: list[int] = []

    def expire_after_first_write(pair: str, side: Side, kind: str, count: int) -> None:
        if not expired:  # every access token dies between two writes of the cycle
            expired.append(sessions.expire_all())

    # A 401 on a collections call too: INVALID_SESSION_ID -> one login, then the call again.
    set_faults(harness, Side.SALESFORCE, {"route": SF_COLLECTIONS, "sequence": ["expired_session"]})
    report = harness.sync(after_write=expire_after_first_write)

    assert expired and expired[0] >= 1
    assert fired(harness, Side.SALESFORCE) == 1
    run = harness.store.runs.latest(kind="sync")
    assert run is not None and run.status == "succeeded"
    assert sum(sum(p.failures.values()) for p in report.pairs) == 0
    settle(harness)
    assert_converged(harness, seed, tmp_path, migrated_store)


@pytest.mark.parametrize(
    "route", ["/crm/v3/objects/*", "/crm/v3/objects/*/search"], ids=["all", "search"]
)
def test_hubspot_429_storm_converges(
    harness: Harness, migrated_store: Path, tmp_path: Path, route: str
) -> None:
    seed = 41
    workload(harness, seed)
    faulted_sync(harness, Side.HUBSPOT, {"route": route, "fault": "429", "rate": 0.4, "seed": seed})
    assert fired(harness, Side.HUBSPOT) >= 1
    settle(harness)
    assert_converged(harness, seed, tmp_path, migrated_store)


@pytest.mark.parametrize("how", ["spent_allocation", "injected_403"])
def test_spent_salesforce_daily_limit_stops_the_cycle_and_the_next_one_converges(
    harness: Harness, migrated_store: Path, tmp_path: Path, how: str
) -> None:
    seed = 51
    workload(harness, seed)
    before = cursors(harness)
    if how == "spent_allocation":
        harness.call(Side.SALESFORCE, "PUT", "/__emulator__/limits", {"used": 110_000})
        rules: tuple[dict[str, Any], ...] = ()
    else:
        rules = ({"route": SF_COLLECTIONS, "fault": "request_limit_exceeded"},)
    error = faulted_sync(harness, Side.SALESFORCE, *rules)

    assert isinstance(error, RateLimited), error
    run = harness.store.runs.latest(kind="sync")
    assert run is not None and run.message is not None
    stopped = run.message.partition(":")[0]
    assert stopped in ("owners", "companies", "contacts")
    after = cursors(harness)
    # The pair the limit stopped, and every pair after it, did not move its cursors.
    later = PAIR_ORDER[PAIR_ORDER.index(stopped) :]
    assert {k: v for k, v in after.items() if k[0] in later} == {
        k: v for k, v in before.items() if k[0] in later
    }
    harness.call(Side.SALESFORCE, "PUT", "/__emulator__/limits", {"used": 0})
    settle(harness)
    assert_converged(harness, seed, tmp_path, migrated_store)


def test_timeout_on_a_create_is_not_resent_and_recovery_settles_it(
    harness: Harness, migrated_store: Path, tmp_path: Path
) -> None:
    seed = 61
    workload(harness, seed)
    rule = {"route": SF_COLLECTIONS, "method": "POST", "sequence": ["timeout"]}
    error = faulted_sync(harness, Side.SALESFORCE, {**rule, "timeout_seconds": 0.05})

    assert isinstance(error, Transient), error
    assert fired(harness, Side.SALESFORCE) == 1
    assert harness.store.intents.unresolved() != []  # the create's fate is unknown
    settle(harness)
    assert_converged(harness, seed, tmp_path, migrated_store)


@pytest.mark.parametrize("target", [Side.SALESFORCE, Side.HUBSPOT])
def test_response_lost_after_an_applied_create_never_duplicates(
    harness: Harness, migrated_store: Path, tmp_path: Path, target: Side
) -> None:
    seed = 71
    workload(harness, seed)

    def lose_response(pair: str, side: Side, kind: str, count: int) -> None:
        if side is target and kind == "create":
            raise Transient(str(side), "ReadTimeout: the response to the create was lost")

    with pytest.raises(Transient):
        harness.sync(after_write=lose_response)
    assert harness.store.intents.unresolved() != []
    settle(harness)
    assert_converged(harness, seed, tmp_path, migrated_store)


@pytest.mark.parametrize("side", [Side.SALESFORCE, Side.HUBSPOT])
def test_refused_credentials_stop_cleanly_and_resume_once_fixed(
    harness: Harness, migrated_store: Path, tmp_path: Path, side: Side
) -> None:
    seed = 81
    workload(harness, seed)
    good = harness.config
    secret = "SALESFORCE_PASSWORD" if side is Side.SALESFORCE else "HUBSPOT_TOKEN"
    harness.config = local_config(
        HS_URL, SF_URL, harness.store_url, env={**EMULATOR_ENV, secret: "revoked-by-admin"}
    )
    before = cursors(harness)

    with pytest.raises(AuthFailed) as caught:
        harness.sync()

    label = "Salesforce" if side is Side.SALESFORCE else "HubSpot"
    assert f"reauthorize {label}" in str(caught.value)
    assert "revoked-by-admin" not in str(caught.value)
    assert cursors(harness) == before
    harness.config = good
    settle(harness)
    assert_converged(harness, seed, tmp_path, migrated_store)


def test_partial_batch_failure_heals_after_the_fix_and_a_retry(
    harness: Harness, migrated_store: Path, tmp_path: Path
) -> None:
    seed = 101
    workload(harness, seed)

    def without_open_status(data: dict[str, Any]) -> None:
        field = next(
            f for f in data["objects"]["contacts"]["fields"] if f["hubspot"] == "hs_lead_status"
        )
        del field["picklist_to_hubspot"]["Open - Not Contacted"]
        del field["picklist"]["NEW"], field["picklist"]["OPEN"]

    harness.configure(without_open_status)  # a mapping gap: new Leads cannot reach HubSpot
    report = harness.sync()

    contacts = next(p for p in report.pairs if p.pair == "contacts")
    parked = contacts.failures.get("picklist", 0)
    assert parked >= 1
    assert sum(contacts.created.values()) >= 1  # the rest of the batch went through
    harness.configure(lambda data: None)  # the user fixes the mapping
    harness.store.failures.request_retry("picklist", pair="contacts")  # `hubforce retry`
    settle(harness)
    assert harness.store.failures.find(pair="contacts") == []
    assert_converged(harness, seed, tmp_path, migrated_store)


# -- SIGKILL at seeded points ------------------------------------------------------------------
#
# `hubforce sync --once` runs as a subprocess against the harness's emulator apps served on
# loopback, sharing its SQLite store. Every write call is slowed down and counted on arrival (a
# fault rule of "ok"s), so the test kills the process while a chosen write is in flight or just
# after it answered (before its bookkeeping), then reruns to completion.

KILL_SEED = 91
WRITES = {
    "hubspot": ["/crm/v3/objects/*/batch/create", "/crm/v3/objects/*/batch/update"],
    "salesforce": ["/services/data/*/composite/sobjects"],
}
DEADLINE_S = 30.0


@pytest.fixture
def served(harness: Harness) -> Iterator[dict[str, str]]:
    """The harness's two emulator apps on free loopback ports."""
    with BackgroundServer(harness.hs_app) as hs, BackgroundServer(harness.sf_app) as sf:
        yield {"hubspot": hs.url, "salesforce": sf.url}


def _config_file(tmp_path: Path, urls: dict[str, str], store_url: str) -> Path:
    data = local_config(urls["hubspot"], urls["salesforce"], store_url).model_dump(mode="json")
    # Secrets as ${ENV} references, as a user's file holds them.
    data["connections"]["hubspot"]["token"] = "${HUBSPOT_TOKEN}"
    password = data["connections"]["salesforce"]["password"]
    password["password"] = "${SALESFORCE_PASSWORD}"
    password["security_token"] = "${SALESFORCE_SECURITY_TOKEN}"
    password["client_secret"] = "${SALESFORCE_CLIENT_SECRET}"
    data["alerts"].pop("slack_webhook_url", None)
    path = tmp_path / "hubforce.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _slow_counted_writes(urls: dict[str, str], latency_ms: int) -> None:
    for side, routes in WRITES.items():
        rules = [{"route": r, "sequence": ["ok"] * 1000, "latency_ms": latency_ms} for r in routes]
        reply = httpx.post(f"{urls[side]}/__emulator__/faults", json={"rules": rules}, timeout=10)
        assert reply.status_code == 200, reply.text


def _writes_started(urls: dict[str, str]) -> int:
    total = 0
    for side in WRITES:
        body = httpx.get(f"{urls[side]}/__emulator__/faults", timeout=10).json()
        total += sum(int(rule["position"]) for rule in body["rules"])
    return total


def _hubforce(config: Path, log: Path) -> subprocess.Popen[bytes]:
    # Output to a file: a pipe nobody reads could fill up and stall the cycle.
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "hubforce", "sync", "--once", "-c", str(config)],
            env={**os.environ, **EMULATOR_ENV},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.parametrize(
    ("kill_at_write", "rng_seed"),
    [(0, 1), (1, 2), (2, 3), (3, 4)],
    ids=["reads", "write1", "write2", "write3"],
)
def test_sigkill_at_seeded_points_then_rerun_converges(
    harness: Harness,
    served: dict[str, str],
    migrated_store: Path,
    tmp_path: Path,
    kill_at_write: int,
    rng_seed: int,
) -> None:
    rng = random.Random(rng_seed)
    workload(harness, KILL_SEED)
    config = _config_file(tmp_path, served, harness.store_url)
    _slow_counted_writes(served, latency_ms=400)

    started = harness.store.runs.latest(kind="sync")
    process = _hubforce(config, tmp_path / "killed.log")
    try:
        deadline = time.monotonic() + DEADLINE_S
        if kill_at_write == 0:
            while harness.store.runs.latest(kind="sync") == started:  # the cycle has begun
                assert process.poll() is None, process.returncode
                assert time.monotonic() < deadline, "the cycle never started"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.2))  # a seeded kill delay among the reads
        else:
            while _writes_started(served) < kill_at_write:
                assert process.poll() is None, "the cycle ended before the chosen write"
                assert time.monotonic() < deadline, "the chosen write never started"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.8))  # in flight (400 ms latency) or just answered
        assert process.poll() is None, "the cycle ended before the kill"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=DEADLINE_S)
    assert process.returncode == -signal.SIGKILL
    run = harness.store.runs.latest(kind="sync")
    assert run is not None and run.status == "running"  # killed mid-cycle, not after it

    for side in WRITES:
        httpx.delete(f"{served[side]}/__emulator__/faults", timeout=10)
    log = tmp_path / "rerun.log"
    rerun = _hubforce(config, log)
    assert rerun.wait(timeout=DEADLINE_S) == 0, log.read_text()

    settle(harness)
    assert_converged(harness, KILL_SEED, tmp_path, migrated_store)
