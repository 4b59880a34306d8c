"""`hubforce run` keeps going through errors: scheduler lines without repeats, targeted syncs
parked and retried, `/readyz` showing a stopped side."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import httpx
import pytest
from fastapi import FastAPI

from hubforce.alerts.notices import Notices
from hubforce.errors import AuthFailed, Category, ConnectorError, RateLimited, Transient
from hubforce.server.batching import ChangeBatcher, worth_retrying
from hubforce.server.health import build_health_router
from hubforce.server.observed import action_side
from hubforce.server.scheduler import Scheduler
from hubforce.sync.model import Side
from hubforce.workflows.model import WorkflowsConfig

SCHEDULER_LOG = "hubforce.server.scheduler"
BATCHING_LOG = "hubforce.server.batching"


async def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.001)


def _run_jobs(outcomes: list[BaseException | None], caplog: pytest.LogCaptureFixture) -> int:
    """Run one job every millisecond through `outcomes` (raise it, or succeed); return the
    attempts made."""
    calls: list[int] = []

    async def job() -> None:
        calls.append(1)
        outcome = outcomes[min(len(calls), len(outcomes)) - 1]
        if outcome is not None:
            raise outcome

    async def go() -> None:
        scheduler = Scheduler(notices=Notices(remind_every=3600))
        scheduler.every(0.001, "reconcile", job, at_start=True)
        scheduler.start()
        await _until(lambda: len(calls) >= len(outcomes) + 2)
        assert scheduler.running  # never crashed
        await scheduler.stop()

    with caplog.at_level(logging.WARNING, logger=SCHEDULER_LOG):
        asyncio.run(go())
    return len(calls)


def test_a_refused_job_logs_one_clear_line_no_traceback_and_its_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = AuthFailed("salesforce", api_code="INVALID_LOGIN", api_message="bad password")
    _run_jobs([refused] * 8 + [None], caplog)
    records = [r for r in caplog.records if r.name == SCHEDULER_LOG]
    assert len(records) == 2
    assert records[0].getMessage() == (
        "reconcile failed: Authentication failed: reauthorize Salesforce (Salesforce said: "
        "INVALID_LOGIN bad password); fix: run `hubforce connect salesforce`, then sync again"
    )
    assert records[1].getMessage().startswith("reconcile works again (after 8 failed attempts")
    assert all(r.exc_info is None and r.levelno == logging.WARNING for r in records)
    assert "Traceback" not in caplog.text


def test_an_unexpected_error_keeps_its_traceback_once_and_the_job_keeps_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts = _run_jobs([RuntimeError("engine bug")] * 5 + [None], caplog)
    assert attempts >= 8
    records = [r for r in caplog.records if r.name == SCHEDULER_LOG]
    assert len(records) == 2
    assert records[0].getMessage().startswith("reconcile failed: unexpected RuntimeError")
    assert records[0].exc_info is not None  # a bug: its traceback goes to the log
    assert records[1].getMessage().startswith("reconcile works again (after 5 failed")


class Flaky:
    """A sync target that raises the queued errors first, then records what it synced."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.synced: list[tuple[str, Side, list[str]]] = []

    async def sync_records(self, pair: str, side: Side, ids: Sequence[str]) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.synced.append((pair, side, list(ids)))


def test_what_is_worth_retrying() -> None:
    assert worth_retrying(AuthFailed("hubspot"))
    assert worth_retrying(RateLimited("salesforce", 60, "daily"))
    assert worth_retrying(Transient("hubspot", "HubSpot answered 503"))
    assert not worth_retrying(ConnectorError("hubspot", Category.PERMISSION, "403"))
    assert not worth_retrying(RuntimeError("bug"))


def test_a_batch_refused_by_a_side_is_parked_then_synced_when_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = Flaky(AuthFailed("salesforce"), AuthFailed("salesforce"))

    async def go() -> ChangeBatcher:
        batcher = ChangeBatcher(target, window_s=0.001)
        batcher.add("contacts", Side.HUBSPOT, ["1", "2"])
        await batcher.drain()
        assert batcher.parked == 2 and batcher.idle and target.synced == []
        batcher.add("contacts", Side.HUBSPOT, ["3"])  # refused too: parked beside them
        await batcher.drain()
        assert batcher.parked == 3
        assert batcher.retry_parked() == 3 and batcher.parked == 0
        await batcher.drain()
        return batcher

    with caplog.at_level(logging.WARNING, logger=BATCHING_LOG):
        batcher = asyncio.run(go())
    assert target.synced == [("contacts", Side.HUBSPOT, ["1", "2", "3"])]
    assert (batcher.stats.batches_failed, batcher.stats.ids_parked) == (2, 3)
    lines = [r.getMessage() for r in caplog.records if r.name == BATCHING_LOG]
    assert len(lines) == 2  # the failure once (not per batch), then the recovery
    assert lines[0].startswith(
        "targeted sync of contacts failed: Authentication failed: reauthorize Salesforce"
    )
    assert lines[0].endswith("; its ids are retried when it works again")
    assert lines[1].startswith("targeted sync of contacts works again")


def test_a_success_brings_the_parked_ids_along_and_bugs_are_not_parked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = Flaky(Transient("hubspot", "HubSpot answered 503"), RuntimeError("bug"))

    async def go() -> ChangeBatcher:
        batcher = ChangeBatcher(target, window_s=0.001)
        batcher.add("companies", Side.HUBSPOT, ["c1"])
        await batcher.drain()
        batcher.add("deals", Side.SALESFORCE, ["006A"])  # a bug: logged, not parked
        await batcher.drain()
        assert batcher.parked == 1
        batcher.add("contacts", Side.HUBSPOT, ["p1"])  # works: c1 goes again too
        await batcher.drain()
        return batcher

    with caplog.at_level(logging.WARNING, logger=BATCHING_LOG):
        batcher = asyncio.run(go())
    assert target.synced == [
        ("contacts", Side.HUBSPOT, ["p1"]),
        ("companies", Side.HUBSPOT, ["c1"]),
    ]
    assert batcher.parked == 0
    bug = next(r for r in caplog.records if "deals failed" in r.getMessage())
    assert bug.exc_info is not None


def test_parked_ids_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    target = Flaky(*(AuthFailed("hubspot") for _ in range(3)))

    async def go() -> ChangeBatcher:
        batcher = ChangeBatcher(target, window_s=0.001, max_parked=3)
        batcher.add("contacts", Side.HUBSPOT, ["1", "2"])
        await batcher.drain()
        batcher.add("contacts", Side.HUBSPOT, ["2", "3", "4"])
        await batcher.drain()
        return batcher

    with caplog.at_level(logging.WARNING, logger=BATCHING_LOG):
        batcher = asyncio.run(go())
    assert batcher.parked == 3 and batcher.stats.ids_dropped == 1
    assert "1 hubspot ids not kept for a retry" in caplog.text


def test_readyz_shows_a_stopped_side_as_degraded_without_failing_readiness() -> None:
    state = {"hubspot": "ok", "salesforce": "ok"}
    alive = [True]
    app = FastAPI()
    app.include_router(
        build_health_router(
            lambda: {"scheduler": alive[0]},
            connections=lambda: state,
            details=lambda: {"targeted_ids_waiting": 2},
        )
    )

    async def go() -> list[httpx.Response]:
        answers = []
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://run"
        ) as client:
            answers.append(await client.get("/readyz"))
            state["salesforce"] = "stopped: Authentication failed: reauthorize Salesforce"
            answers.append(await client.get("/readyz"))
            alive[0] = False
            answers.append(await client.get("/readyz"))
        return answers

    ok, degraded, dead = asyncio.run(go())
    assert ok.status_code == 200 and ok.json()["status"] == "ready"
    assert degraded.status_code == 200
    assert degraded.json() == {
        "status": "degraded",
        "checks": {"scheduler": True},
        "connections": {
            "hubspot": "ok",
            "salesforce": "stopped: Authentication failed: reauthorize Salesforce",
        },
        "targeted_ids_waiting": 2,
    }
    assert dead.status_code == 503 and dead.json()["status"] == "not ready"


def test_each_action_is_an_attempt_on_the_side_it_calls() -> None:
    workflows = WorkflowsConfig.model_validate(
        {
            "workflows": [
                {
                    "name": "w",
                    "trigger": {"type": "hubspot.record_created", "object_type": "contacts"},
                    "actions": [
                        {"type": "salesforce.create", "sobject": "Lead", "values": {}},
                        {"type": "hubspot.update", "object_type": "contacts", "values": {}},
                        {"type": "slack", "channel": "#sales", "text": "hello"},
                    ],
                }
            ]
        }
    ).workflows
    sides = [action_side(action) for action in workflows[0].actions]
    assert sides == [Side.SALESFORCE, Side.HUBSPOT, None]
