"""The scheduler inside `hubforce run`: Salesforce short polling, full reconciles, schedules,
and the form-submissions catch-up (`form_catchup`, at start-up and on the reconcile schedule).

Each job runs in its own loop that waits on a stop event with a timeout (the interval), so
`stop()` never interrupts a job: the running poll or cycle finishes and is recorded, then the
loop exits. Reconciles take the pair's lock shared with targeted syncs.

A failed job is tried again on its next interval, whatever it raised. What is logged goes
through `alerts.notices.Notices`: a known error (refused credentials, a rate limit, an API
error that outlasted the retries, a configuration or store problem) is one line naming the
side and the fix, without a traceback, logged once, then as a reminder at most every
`remind_every` seconds, and a line when the job works again; an unexpected exception (a bug)
gets its traceback the first time. Every line is a WARNING, recoveries too, so that a log
filtered to warnings shows both ends of an outage.

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
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from hubforce.alerts.notices import Notice, Notices
from hubforce.connectors.salesforce.client import SalesforceClient
from hubforce.server.batching import PairLocks
from hubforce.server.dispatch import Dispatcher
from hubforce.server.events import ChangeEvent, iso_ms
from hubforce.sync.model import Side
from hubforce.workflows.catchup import CursorStore, FormCatchUp

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


def log_notice(log: logging.Logger, notice: Notice | None, error: BaseException | None) -> None:
    """Log a notice as one WARNING line (with `error`'s traceback when the notice asks)."""
    if notice is None:
        return
    log.warning("%s", notice.text, exc_info=error if notice.traceback else None)


class Scheduler:
    """Runs named jobs every N seconds until stopped."""

    def __init__(self, *, notices: Notices | None = None) -> None:
        self._jobs: list[tuple[str, float, Job, bool]] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.runs: dict[str, int] = {}
        self.errors: dict[str, str] = {}
        self.notices = notices or Notices()

    def every(self, seconds: float, name: str, job: Job, *, at_start: bool = False) -> None:
        """Run `job` every `seconds`: first after one interval, or at once with `at_start`."""
        self._jobs.append((name, seconds, job, at_start))

    def start(self) -> None:
        """Start every job's loop on the running event loop."""
        self._stop.clear()
        for name, seconds, job, at_start in self._jobs:
            self._tasks.append(
                asyncio.get_running_loop().create_task(self._loop(name, seconds, job, at_start))
            )

    @property
    def stopping(self) -> bool:
        """A stop was asked: a running job should end at its next safe point."""
        return self._stop.is_set()

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

    async def _loop(self, name: str, seconds: float, job: Job, at_start: bool) -> None:
        wait = not at_start
        while not self._stop.is_set():
            if wait:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=seconds)
                if self._stop.is_set():
                    return
            wait = True
            try:
                await job()
            except Exception as exc:  # the next interval tries again
                self.errors[name] = f"{type(exc).__name__}: {exc}"[:300]
                log_notice(logger, self.notices.failed(name, exc), exc)
                continue
            self.runs[name] = self.runs.get(name, 0) + 1
            self.errors.pop(name, None)
            log_notice(logger, self.notices.succeeded(name), None)


def reconcile_job(
    pairs: Sequence[str],
    locks: PairLocks,
    run_pair: Callable[[str], Awaitable[None]],
    stopping: Callable[[], bool] = lambda: False,
) -> Job:
    """A full reconcile: every pair in turn, each under its lock, until `stopping`."""

    async def job() -> None:
        for pair in pairs:
            if stopping():
                return  # shutting down: the next reconcile starts from the cursors
            async with locks.lock(pair):
                await run_pair(pair)

    return job


def form_catchup(dispatcher: Dispatcher, cursors: CursorStore) -> FormCatchUp | None:
    """The catch-up of the dispatcher's form workflows (None when no workflow has a form).

    Each run takes the HubSpot contacts pair's lock, as the dispatcher's workflow runs do, and
    the contacts it ran for are queued for a targeted sync, as after a webhook.
    """
    engine = dispatcher.workflows
    if engine is None or not engine.form_workflows():
        return None
    pair = dispatcher.pairs.get((Side.HUBSPOT, "contacts"))
    batcher = dispatcher.batcher

    def lock() -> AbstractAsyncContextManager[Any]:
        if pair is None or batcher is None:
            return nullcontext()
        return batcher.locks.lock(pair)

    def on_contact(contact_id: str) -> None:
        if pair is not None and batcher is not None:
            batcher.add(pair, Side.HUBSPOT, [contact_id])

    return FormCatchUp(engine, cursors, lock=lock, on_contact=on_contact)
