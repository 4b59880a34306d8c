"""Where accepted change events go: deduplication, the sync batcher and the workflow engine.

Intakes (webhooks, outbound messages, hooks, the Salesforce poll) call `Dispatcher.submit`
and return at once; a background task feeds the workflow engine in arrival order, so a
request is answered before any workflow action runs. A change's targeted sync is queued once
its workflows ran (see `_handle`). `drain()` finishes everything queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterable, Mapping

from hubforce.server.batching import ChangeBatcher
from hubforce.server.dedupe import EventDeduper
from hubforce.server.events import ChangeEvent
from hubforce.sync.model import Side
from hubforce.workflows.engine import WorkflowEngine

logger = logging.getLogger(__name__)


def _record(event: ChangeEvent) -> tuple[str, str, str]:
    return (event.side.value, event.object_type, event.object_id)


class Dispatcher:
    """Dedupes events, queues their ids for targeted syncs and runs workflows on them."""

    def __init__(
        self,
        *,
        batcher: ChangeBatcher | None,
        workflows: WorkflowEngine | None,
        pairs: Mapping[tuple[Side, str], str],
    ) -> None:
        self.batcher = batcher
        self.workflows = workflows
        self.pairs = dict(pairs)  # (side, object type) -> pair name
        self.deduper = EventDeduper()
        self._waiting: Counter[tuple[str, str, str]] = Counter()
        self._queue: asyncio.Queue[tuple[ChangeEvent, bool]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._working = 0
        self.accepted = 0
        self.workflow_errors = 0

    def submit(self, events: Iterable[ChangeEvent]) -> int:
        """Accept events (never blocks); return how many were new."""
        new = 0
        for event in events:
            fresh, current = self.deduper.admit(event)
            if not fresh:
                continue
            new += 1
            if self.workflows is not None:
                # Its sync is queued once every workflow event of the record ran (_handle).
                self._waiting[_record(event)] += 1
                self._queue.put_nowait((event, current))
            else:
                self._queue_sync(event)
        self.accepted += new
        return new

    @property
    def running(self) -> bool:
        """The workflow loop is alive."""
        return self._task is not None and not self._task.done()

    @property
    def idle(self) -> bool:
        """No workflow event waiting or running and the batcher idle."""
        batcher_idle = self.batcher is None or self.batcher.idle
        return self._queue.empty() and self._working == 0 and batcher_idle

    def start(self) -> None:
        """Start the workflow loop (and the batcher) on the running event loop."""
        if self.batcher is not None:
            self.batcher.start()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def drain(self) -> None:
        """Run every queued workflow event and targeted sync now."""
        if self.running:
            await self._queue.join()  # the loop keeps arrival order
        while not self._queue.empty():  # no loop (tests, or after a crash): run them here
            await self._handle(*self._queue.get_nowait())
        if self.batcher is not None:
            await self.batcher.drain()

    async def stop(self) -> None:
        """Finish in-flight work, then stop the loops."""
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.batcher is not None:
            await self.batcher.stop()

    async def _loop(self) -> None:
        while True:
            event, current = await self._queue.get()
            await self._handle(event, current)

    async def _handle(self, event: ChangeEvent, current: bool) -> None:
        self._working += 1
        try:
            if self.workflows is not None:
                pair = self.pairs.get((event.side, event.object_type))
                if pair is None or self.batcher is None:
                    await self.workflows.handle(event, current=current)
                else:
                    # Never beside a sync of the same pair: a workflow's Lead and the sync's
                    # matching by e-mail then always see each other's writes.
                    async with self.batcher.locks.lock(pair):
                        await self.workflows.handle(event, current=current)
        except Exception:  # a workflow bug must not stop the intake
            self.workflow_errors += 1
            logger.exception("workflows failed for %s %s", event.object_type, event.object_id)
        finally:
            # After the record's workflows: a Lead a workflow just created is then found by the
            # sync's e-mail matching instead of being created a second time by the sync. A
            # record's events arrive together (creation + property changes), so its sync waits
            # for the last of them.
            record = _record(event)
            self._waiting[record] -= 1
            if self._waiting[record] <= 0:
                del self._waiting[record]
                self._queue_sync(event)
            self._working -= 1
            self._queue.task_done()

    def _queue_sync(self, event: ChangeEvent) -> None:
        pair = self.pairs.get((event.side, event.object_type))
        if pair is not None and self.batcher is not None:
            self.batcher.add(pair, event.side, [event.object_id])
