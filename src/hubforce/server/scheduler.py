"""The scheduler inside `hubforce run`: Salesforce short polling, full reconciles, schedules.

Each job runs in its own loop that waits on a stop event with a timeout (the interval), so
`stop()` never interrupts a job: the running poll or cycle finishes and is recorded, then the
loop exits. Reconciles take the pair's lock shared with targeted syncs.

`SalesforcePoller` reads records whose `SystemModstamp` moved since its last look (one query
per object per poll, counted by the client's governor like every other call) and hands them
to the dispatcher as change events: targeted syncs and `salesforce.record_changed` triggers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from hubforce.connectors.salesforce.client import SalesforceClient
from hubforce.server.batching import PairLocks
from hubforce.server.dispatch import Dispatcher
from hubforce.server.events import ChangeEvent, iso_ms
from hubforce.sync.model import Side

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class SalesforcePoller:
    """Short polling on SystemModstamp for the given sObjects."""

    def __init__(
        self,
        client: SalesforceClient,
        dispatcher: Dispatcher,
        sobjects: Sequence[str],
        *,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.client = client
        self.dispatcher = dispatcher
        self.sobjects = list(dict.fromkeys(sobjects))
        self.now_ms = now_ms
        self._since: dict[str, int] = {s: now_ms() for s in self.sobjects}
        self.polls = 0

    async def poll(self) -> int:
        """One look at every sObject; return how many changed records were handed on."""
        handed = 0
        for sobject in self.sobjects:
            since = self._since[sobject]
            newest = since
            events: list[ChangeEvent] = []
            async for page in self.client.changed_since(sobject, since, ["CreatedDate"]):
                for record in page.records:
                    created = iso_ms(record.values.get("CreatedDate"))
                    kind = "created" if created is not None and created >= since else "updated"
                    events.append(
                        ChangeEvent(
                            side=Side.SALESFORCE,
                            object_type=sobject,
                            object_id=record.id,
                            kind=kind,
                            occurred_at=record.modified_at,
                            event_id=f"poll:{record.id}:{record.modified_at}",
                        )
                    )
                    newest = max(newest, record.modified_at)
            handed += self.dispatcher.submit(events)
            self._since[sobject] = newest
        self.polls += 1
        return handed


class Scheduler:
    """Runs named jobs every N seconds until stopped."""

    def __init__(self) -> None:
        self._jobs: list[tuple[str, float, Job]] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.runs: dict[str, int] = {}
        self.errors: dict[str, str] = {}

    def every(self, seconds: float, name: str, job: Job) -> None:
        """Run `job` every `seconds` (first run after one interval)."""
        self._jobs.append((name, seconds, job))

    def start(self) -> None:
        """Start every job's loop on the running event loop."""
        self._stop.clear()
        for name, seconds, job in self._jobs:
            self._tasks.append(
                asyncio.get_running_loop().create_task(self._loop(name, seconds, job))
            )

    @property
    def running(self) -> bool:
        """Every loop alive (a crashed loop makes /readyz fail)."""
        return all(not task.done() for task in self._tasks)

    async def stop(self) -> None:
        """Let running jobs finish, then end the loops."""
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _loop(self, name: str, seconds: float, job: Job) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=seconds)
            if self._stop.is_set():
                return
            try:
                await job()
                self.runs[name] = self.runs.get(name, 0) + 1
                self.errors.pop(name, None)
            except Exception as exc:  # the next interval tries again
                self.errors[name] = f"{type(exc).__name__}: {exc}"[:300]
                logger.exception("scheduled job %s failed", name)


def reconcile_job(
    pairs: Sequence[str], locks: PairLocks, run_pair: Callable[[str], Awaitable[None]]
) -> Job:
    """A full reconcile: every pair in turn, each under its lock."""

    async def job() -> None:
        for pair in pairs:
            async with locks.lock(pair):
                await run_pair(pair)

    return job
