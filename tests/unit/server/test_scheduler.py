"""Scheduler and batcher: jobs finish on stop, pair locks serialise syncs and reconciles."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from hubforce.server.batching import ChangeBatcher, PairLocks
from hubforce.server.scheduler import Scheduler, reconcile_job
from hubforce.sync.model import Side


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
