"""The store-backed ledger: claims survive a new process, runs are recorded and listed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hubforce.store import open_store
from hubforce.workflows.runs import ActionResult, WorkflowRun
from hubforce.workflows.store_ledger import StoreLedger
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
