"""The store-backed ledger: claims survive a new process, runs are recorded and listed;
waiting runs are taken once, by the retrier, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import text

from hubforce.errors import AuthFailed
from hubforce.store import Store, open_store
from hubforce.store.db import create_store_engine, upgrade
from hubforce.workflows.retry import WorkflowRetrier
from hubforce.workflows.runs import ActionResult, WorkflowRun
from hubforce.workflows.store_ledger import StoreLedger
from tests.unit.store.backends import PostgresBackend, SQLiteBackend
from tests.unit.workflows.fakes import FakeHubSpot, FakeReader, FakeSalesforce
from tests.unit.workflows.test_engine import JANE, engine, form_event


def test_claims_are_exclusive_and_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"

    async def first() -> tuple[bool, bool]:
        with open_store(url) as store:
            ledger = StoreLedger(store)
            return await ledger.claim("wf:a"), await ledger.claim("wf:a")

    async def second() -> tuple[bool, bool, bool]:
        with open_store(url) as store:
            ledger = StoreLedger(store)
            again = await ledger.claim("wf:a")
            await ledger.release("wf:a")
            return again, await ledger.claim("wf:a"), await ledger.claim("wf:b")

    assert asyncio.run(first()) == (True, False)
    assert asyncio.run(second()) == (False, True, True)


def test_runs_are_recorded_with_their_details(tmp_path: Path) -> None:
    async def go() -> list[WorkflowRun]:
        with open_store(tmp_path / "state.db") as store:
            ledger = StoreLedger(store)
            assert await ledger.claim("wf:1")
            run = WorkflowRun("wf", "wf:1", {"type": "t"}, 10, {"email": "a@b.c"})
            run.actions.append(ActionResult("action1:salesforce.create", True, {"id": "00Q1"}))
            run.finished_at = 20
            await ledger.record(run)
            failed = WorkflowRun("wf", "wf:2", {}, 30, status="failed", error="boom")
            await ledger.record(failed)  # released key: kept under its own row
            return await ledger.recent()

    newest, oldest = asyncio.run(go())
    assert (newest.status, newest.error, newest.key.startswith("wf:2#failed:")) == (
        "failed",
        "boom",
        True,
    )
    assert (oldest.key, oldest.status, oldest.finished_at) == ("wf:1", "succeeded", 20)
    assert oldest.inputs == {"email": "a@b.c"}
    assert oldest.actions == [ActionResult("action1:salesforce.create", True, {"id": "00Q1"})]


def test_engine_on_the_store_runs_a_redelivered_change_once(tmp_path: Path) -> None:
    sf, hs, reader = FakeSalesforce(), FakeHubSpot(), FakeReader({"51": JANE})

    async def go() -> None:
        with open_store(tmp_path / "state.db") as store:
            eng = engine(sf, hs, reader, StoreLedger(store))
            assert len(await eng.handle(form_event("51"))) == 1
            assert await eng.handle(form_event("51", event_id="2")) == []

    asyncio.run(go())
    assert len(sf.created) == 1


# -- retries on both backends ----------------------------------------------------------------

TRIGGER = {
    "type": "hubspot.property_changed",
    "side": "hubspot",
    "object_type": "contacts",
    "object_id": "51",
    "kind": "propertyChange",
    "event_id": "e1",
    "occurred_at": 1_000,
    "property": "lifecyclestage",
    "value": "customer",
}


def _waiting(key: str, next_at: int, attempts: int = 1) -> WorkflowRun:
    return WorkflowRun(
        "wf",
        key,
        dict(TRIGGER),
        10,
        status="waiting",
        error="action 1: AuthFailed: Authentication failed: reauthorize Salesforce",
        finished_at=20,
        attempts=attempts,
        next_attempt_at=next_at,
        retry_since=10,
        failure_category="authentication",
        failure_side="salesforce",
    )


def _failed(key: str, *, effect: bool = False, category: str = "picklist") -> WorkflowRun:
    run = WorkflowRun("wf", key, dict(TRIGGER), 30, status="failed", error="refused")
    run.failure_category = category
    if effect:
        run.actions.append(ActionResult("action1:salesforce.create", True, {"id": "00Q1"}))
        run.actions.append(
            ActionResult("action2:hubspot.update", False, error="502", category="transient")
        )
    return run


async def _put(ledger: StoreLedger, *runs: WorkflowRun) -> None:
    for run in runs:
        assert await ledger.claim(run.key)
        await ledger.record(run)


class RetryLedgerContract:
    def test_a_waiting_run_round_trips_what_a_retry_needs(self, store: Store) -> None:
        ledger = StoreLedger(store)

        async def go() -> list[WorkflowRun]:
            await _put(ledger, _waiting("wf:a", 500, attempts=3))
            return await ledger.due(500)

        (run,) = asyncio.run(go())
        assert run.trigger == TRIGGER  # side, type, id, kind, property, value, occurredAt
        assert (run.status, run.attempts, run.next_attempt_at, run.retry_since) == (
            "waiting",
            3,
            500,
            10,
        )
        assert (run.failure_category, run.failure_side) == ("authentication", "salesforce")

    def test_a_waiting_key_is_taken_by_the_retrier_only_and_once(self, store: Store) -> None:
        ledger = StoreLedger(store)

        async def go() -> list[bool]:
            await _put(ledger, _waiting("wf:a", 500))
            return [
                await ledger.claim("wf:a"),  # a redelivery: the retrier has it
                await ledger.claim("wf:a", retrying=True),
                await ledger.claim("wf:a", retrying=True),  # now running
                await ledger.claim("wf:a"),
            ]

        assert asyncio.run(go()) == [False, True, False, False]

    def test_a_released_key_is_taken_by_a_delivery_not_by_the_retrier(self, store: Store) -> None:
        ledger = StoreLedger(store)

        async def go() -> list[bool]:
            await _put(ledger, _failed("wf:permanent"), _failed("wf:partial", effect=True))
            return [
                await ledger.claim("wf:permanent", retrying=True),
                await ledger.claim("wf:partial"),  # after an effect: held for good
                await ledger.claim("wf:permanent"),  # given back: a redelivery runs it
                await ledger.claim("wf:permanent"),
            ]

        assert asyncio.run(go()) == [False, False, True, False]

    def test_racing_claims_of_one_waiting_run_succeed_once(self, store: Store) -> None:
        asyncio.run(_put(StoreLedger(store), _waiting("wf:race", 500)))
        start = threading.Barrier(6)

        def claim(retrying: bool) -> bool:
            start.wait()
            return asyncio.run(StoreLedger(store).claim("wf:race", retrying=retrying))

        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(claim, [True, True, True, False, False, False]))
        assert sorted(results) == [False] * 5 + [True]
        assert results.index(True) < 3  # a retrier got it, never a redelivery

    def test_due_runs_come_by_next_attempt_then_key_in_pages(self, store: Store) -> None:
        ledger = StoreLedger(store)

        async def go() -> tuple[list[str], list[str], list[str], dict[str, int]]:
            await _put(
                ledger,
                _waiting("wf:c", 300),
                _waiting("wf:b", 300),
                _waiting("wf:a", 900),
                _failed("wf:permanent"),
            )
            await ledger.record(_failed("wf:lost"))  # never held: a history row
            due = [r.key for r in await ledger.due(500)]
            page = await ledger.due(500, everything=True, limit=2)
            rest = await ledger.due(
                500, everything=True, after=(page[-1].next_attempt_at or 0, page[-1].key)
            )
            return due, [r.key for r in page], [r.key for r in rest], await ledger.retry_counts()

        due, page, rest, counts = asyncio.run(go())
        assert due == ["wf:b", "wf:c"]
        assert (page, rest) == (["wf:b", "wf:c"], ["wf:a"])
        assert counts == {"waiting": 3, "abandoned": 0, "interrupted": 0}

    def test_a_retry_request_makes_given_back_runs_wait_not_partial_ones(
        self, store: Store
    ) -> None:
        ledger = StoreLedger(store)

        async def go() -> tuple[int, int, list[WorkflowRun]]:
            abandoned = _waiting("wf:abandoned", 0)
            abandoned.status = "abandoned"
            await _put(
                ledger,
                _failed("wf:picklist"),
                _failed("wf:permission", category="permission"),
                _failed("wf:partial", effect=True),
                abandoned,
            )
            await ledger.record(_failed("wf:lost"))  # history row: nothing to run
            only = await ledger.request_retry(category="picklist", now=5_000)
            rest = await ledger.request_retry(now=6_000)
            return only, rest, await ledger.due(10_000)

        only, rest, due = asyncio.run(go())
        assert (only, rest) == (1, 2)
        assert [(r.key, r.next_attempt_at, r.retry_since) for r in due] == [
            ("wf:picklist", 5_000, 5_000),
            ("wf:abandoned", 6_000, 6_000),
            ("wf:permission", 6_000, 6_000),
        ]
        runs = {r.key: r for r in asyncio.run(ledger.recent())}
        assert runs["wf:partial"].status == "failed"


class TestRetryLedgerSQLite(RetryLedgerContract, SQLiteBackend):
    pass


class TestRetryLedgerPostgres(RetryLedgerContract, PostgresBackend):
    pass


def test_the_engine_on_the_store_retries_a_refused_run_once(tmp_path: Path) -> None:
    sf, hs, reader = FakeSalesforce(), FakeHubSpot(), FakeReader({"51": JANE})

    async def go() -> list[str]:
        with open_store(tmp_path / "state.db") as store:
            eng = engine(sf, hs, reader, StoreLedger(store))
            sf.create = _raise_refused  # type: ignore[method-assign]
            (run,) = await eng.handle(form_event("51"))
            assert run.status == "waiting"
            assert await eng.handle(form_event("51", event_id="2")) == []
            del sf.create  # Salesforce works again
            report = await WorkflowRetrier(eng, now_ms=lambda: 2**62).run()
            assert report.succeeded == 1
            return [r.status for r in await eng.ledger.recent()]

    assert asyncio.run(go()) == ["succeeded"]
    assert len(sf.created) == 1


async def _raise_refused(*_args: object, **_kwargs: object) -> list[object]:
    raise AuthFailed("salesforce", status=400, api_code="invalid_grant")


def test_migration_0003_keeps_the_runs_of_0002_final(tmp_path: Path) -> None:
    engine_ = create_store_engine(tmp_path / "old.db")
    try:
        upgrade(engine_, revision="0002")
        with engine_.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workflow_runs (key, workflow, status, started_at, finished_at, "
                    "detail) VALUES ('wf:old', 'wf', 'failed', 1, 2, '{}')"
                )
            )
        upgrade(engine_)
        with engine_.connect() as conn:
            row = conn.execute(
                text("SELECT released, attempts, next_attempt_at FROM workflow_runs")
            ).one()
    finally:
        engine_.dispose()
    assert (bool(row[0]), row[1], row[2]) == (False, 1, None)
