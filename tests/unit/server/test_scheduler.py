"""Scheduler and batcher: jobs finish on stop, pair locks serialise syncs and reconciles."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from hubforce.server.batching import ChangeBatcher, PairLocks
from hubforce.server.dispatch import Dispatcher
from hubforce.server.scheduler import Scheduler, form_catchup, reconcile_job
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionRunner
from hubforce.workflows.engine import WorkflowEngine
from hubforce.workflows.model import WorkflowsConfig
from hubforce.workflows.runs import MemoryLedger
from tests.unit.workflows.fakes import FakeForms, FakeReader, FakeSalesforce, MemoryCursors


async def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.001)


def test_stop_lets_a_running_job_finish() -> None:
    events: list[str] = []
    release = asyncio.Event()

    async def job() -> None:
        events.append("start")
        await release.wait()
        events.append("end")

    async def go() -> None:
        scheduler = Scheduler()
        scheduler.every(0.001, "slow", job)
        scheduler.start()
        await _until(lambda: events == ["start"])
        stopping = asyncio.create_task(scheduler.stop())
        await asyncio.sleep(0)
        assert not stopping.done()  # waits for the job instead of cancelling it
        release.set()
        await stopping
        assert scheduler.runs == {"slow": 1}

    asyncio.run(go())
    assert events == ["start", "end"]


def test_failing_job_is_recorded_and_retried() -> None:
    calls: list[int] = []

    async def job() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")

    async def go() -> Scheduler:
        scheduler = Scheduler()
        scheduler.every(0.001, "flaky", job)
        scheduler.start()
        await _until(lambda: scheduler.runs.get("flaky", 0) >= 1)
        await scheduler.stop()
        return scheduler

    scheduler = asyncio.run(go())
    assert scheduler.errors == {}  # cleared by the later success
    assert len(calls) >= 2


class SlowTarget:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.release = asyncio.Event()

    async def sync_records(self, pair: str, side: Side, ids: Sequence[str]) -> None:
        self.log.append(f"sync-start {pair} {','.join(ids)}")
        await self.release.wait()
        self.log.append(f"sync-end {pair}")


def test_reconcile_waits_for_a_targeted_sync_of_the_same_pair() -> None:
    log: list[str] = []

    async def go() -> None:
        locks = PairLocks()
        target = SlowTarget(log)
        batcher = ChangeBatcher(target, locks, window_s=0.001)
        batcher.start()
        batcher.add("contacts", Side.HUBSPOT, ["1", "2", "1"])

        async def run_pair(pair: str) -> None:
            log.append(f"reconcile {pair}")

        reconcile = reconcile_job(["companies", "contacts"], locks, run_pair)
        await _until(lambda: bool(log))
        running: asyncio.Future[object] = asyncio.ensure_future(reconcile())
        await _until(lambda: "reconcile companies" in log)
        assert "reconcile contacts" not in log  # blocked by the targeted sync's lock
        target.release.set()
        await running
        await batcher.stop()

    asyncio.run(go())
    assert log == [
        "sync-start contacts 1,2",
        "reconcile companies",
        "sync-end contacts",
        "reconcile contacts",
    ]


def test_failed_batch_is_counted_and_the_loop_goes_on() -> None:
    class Failing:
        calls = 0

        async def sync_records(self, pair: str, side: Side, ids: Sequence[str]) -> None:
            Failing.calls += 1
            if Failing.calls == 1:
                raise RuntimeError("engine down")

    async def go() -> ChangeBatcher:
        batcher = ChangeBatcher(Failing(), window_s=0.001, max_batch=2)
        batcher.add("contacts", Side.SALESFORCE, ["a", "b", "c"])
        await batcher.drain()
        return batcher

    batcher = asyncio.run(go())
    assert (batcher.stats.batches_failed, batcher.stats.batches_run) == (1, 1)
    assert batcher.stats.batch_sizes == [1]
    assert batcher.stats.last_error == "RuntimeError: engine down"


def test_an_at_start_job_runs_at_once_then_every_interval() -> None:
    calls: list[str] = []

    async def go() -> None:
        scheduler = Scheduler()
        scheduler.every(3600, "hourly", lambda: _append(calls, "hourly"))
        scheduler.every(3600, "at-start", lambda: _append(calls, "at-start"), at_start=True)
        scheduler.start()
        await _until(lambda: scheduler.runs.get("at-start") == 1)
        await scheduler.stop()
        assert scheduler.runs == {"at-start": 1}  # the other waits for its first interval

    asyncio.run(go())
    assert calls == ["at-start"]


async def _append(calls: list[str], name: str) -> None:
    calls.append(name)


def test_form_catch_up_runs_under_the_contacts_lock_and_queues_the_contact_sync() -> None:
    form = {"type": "hubspot.form_submitted", "form": "guid-1"}
    lead = {"type": "salesforce.create", "sobject": "Lead", "values": {"Email": "{email}"}}
    workflows = WorkflowsConfig.model_validate(
        {"workflows": [{"name": "lead", "trigger": form, "actions": [lead]}]}
    ).workflows
    forms, cursors, sf, log = FakeForms(), MemoryCursors(), FakeSalesforce(), []

    class Recording:
        async def sync_records(self, pair: str, side: Side, ids: Sequence[str]) -> None:
            log.append((pair, side, list(ids)))

    async def go() -> None:
        locks = PairLocks()
        engine = WorkflowEngine(
            workflows,
            reader=FakeReader({"51": {"email": "a@example.com"}}),
            runner=ActionRunner(salesforce=sf),
            ledger=MemoryLedger(),
            forms=forms,
        )
        batcher = ChangeBatcher(Recording(), locks, window_s=0.001)
        pairs = {(Side.HUBSPOT, "contacts"): "contacts"}
        dispatcher = Dispatcher(batcher=batcher, workflows=engine, pairs=pairs)
        no_forms = Dispatcher(batcher=batcher, workflows=None, pairs=pairs)
        assert form_catchup(no_forms, cursors) is None
        catchup = form_catchup(dispatcher, cursors)
        assert catchup is not None
        await catchup.run()  # first start: sets the cursor
        (start,) = cursors.values.values()
        forms.submit("guid-1", "a@example.com", int(start) + 1, contact="51")
        async with locks.lock("contacts"):  # a sync of the pair is running
            running = asyncio.ensure_future(catchup.run())
            await _until(lambda: len(forms.reads) == 1)  # read; the run then needs the lock
            assert sf.created == [] and not running.done()
        report = await running
        assert report.runs == 1 and len(sf.created) == 1
        await batcher.drain()

    asyncio.run(go())
    assert log == [("contacts", Side.HUBSPOT, ["51"])]


def test_a_reconcile_stops_between_pairs_once_the_scheduler_is_stopping() -> None:
    log: list[str] = []
    scheduler = Scheduler()

    async def go() -> None:
        async def run_pair(pair: str) -> None:
            log.append(pair)
            if pair == "companies":
                await scheduler.stop()  # shutdown asked while the first pair runs

        await reconcile_job(
            ["companies", "contacts", "deals"],
            PairLocks(),
            run_pair,
            stopping=lambda: scheduler.stopping,
        )()

    assert not scheduler.stopping
    asyncio.run(go())
    assert log == ["companies"] and scheduler.stopping
