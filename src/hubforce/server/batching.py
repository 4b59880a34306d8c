"""Micro-batching changed record ids into targeted syncs, one lock per object pair.

Intakes call `ChangeBatcher.add(pair, side, ids)`; a background task waits `window_s` after the
first id arrives (so a burst of webhooks becomes one sync), then hands each (pair, side) batch
to the `SyncTarget` while holding that pair's lock. Reconciles take the same lock
(`PairLocks`), so a targeted sync and a reconcile never write one pair's records at once.
`drain()` processes everything queued and waits for it: graceful shutdown calls it.

A batch that fails for a reason that passes (refused credentials, a rate limit, API errors
that outlasted the retries, an unreachable store) is parked, not dropped: `retry_parked()`
queues its ids again, which `hubforce run` calls when the Reconnector sees the side work again
and on every poll interval, and the batcher itself after any batch succeeds. Other failures
(a bug, a permanent refusal) are logged and left to the next reconcile, whose cursors still
cover those records (targeted syncs never move cursors). Failures are logged through
`alerts.notices` (one line, no repeats; a traceback only for a bug).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hubforce.alerts.notices import Notices, store_unavailable
from hubforce.errors import AuthFailed, ConnectorError
from hubforce.sync.model import Side

logger = logging.getLogger(__name__)

#: Parked ids kept per (pair, side); past it the reconcile's cursors carry the rest.
MAX_PARKED = 50_000


def worth_retrying(error: BaseException) -> bool:
    """True when a failed targeted sync may succeed later without anyone changing the data:
    refused credentials (renewed while running), rate limits, transient API errors, an
    unreachable store."""
    if isinstance(error, AuthFailed):
        return True
    if isinstance(error, ConnectorError):
        return error.retryable
    return store_unavailable(error)


class SyncTarget(Protocol):
    """Runs a sync of just the given records of one pair, read on one side."""

    async def sync_records(self, pair: str, side: Side, ids: Sequence[str]) -> None:
        """Sync `ids` (ids on `side`) of `pair` now."""


#: Runs one targeted sync (a no-argument coroutine function) and returns its result, e.g.
#: through the Reconnector (`server.observed.targeted_attempt`).
Guard = Callable[[Callable[[], Awaitable[None]]], Awaitable[object]]


async def _unguarded(job: Callable[[], Awaitable[None]]) -> None:
    await job()


class PairLocks:
    """One asyncio lock per object pair, created on first use."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, pair: str) -> asyncio.Lock:
        """The lock for `pair`."""
        return self._locks.setdefault(pair, asyncio.Lock())


@dataclass
class BatchStats:
    """What the batcher did, for /readyz and metrics."""

    ids_queued: int = 0
    batches_run: int = 0
    batches_failed: int = 0
    ids_parked: int = 0
    ids_dropped: int = 0
    last_error: str | None = None
    batch_sizes: list[int] = field(default_factory=list)


class ChangeBatcher:
    """Collects ids per (pair, side) and syncs them in batches."""

    def __init__(
        self,
        target: SyncTarget,
        locks: PairLocks | None = None,
        *,
        window_s: float = 0.25,
        max_batch: int = 200,
        max_parked: int = MAX_PARKED,
        notices: Notices | None = None,
        guard: Guard | None = None,
    ) -> None:
        self.target = target
        self.guard: Guard = guard or _unguarded
        self.locks = locks or PairLocks()
        self.window_s = window_s
        self.max_batch = max_batch
        self.max_parked = max_parked
        self.notices = notices or Notices()
        self.stats = BatchStats()
        self._pending: dict[tuple[str, Side], dict[str, None]] = {}
        self._parked: dict[tuple[str, Side], dict[str, None]] = {}
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = 0

    def add(self, pair: str, side: Side, ids: Sequence[str]) -> None:
        """Queue ids for a targeted sync (deduplicated while waiting)."""
        if not ids:
            return
        bucket = self._pending.setdefault((pair, side), {})
        for record_id in ids:
            if record_id not in bucket:
                bucket[record_id] = None
                self.stats.ids_queued += 1
        self._wakeup.set()

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing running (parked ids wait for a retry, not for work)."""
        return not self._pending and self._busy == 0

    @property
    def parked(self) -> int:
        """Ids of failed batches waiting for a retry."""
        return sum(len(bucket) for bucket in self._parked.values())

    def retry_parked(self) -> int:
        """Queue the parked ids again (the side works again, or a new interval came); returns
        how many."""
        parked, self._parked = self._parked, {}
        count = 0
        for (pair, side), bucket in parked.items():
            self.add(pair, side, list(bucket))
            count += len(bucket)
        return count

    def _park(self, pair: str, side: Side, ids: Sequence[str]) -> int:
        bucket = self._parked.setdefault((pair, side), {})
        room = max(0, self.max_parked - len(bucket))
        kept = [i for i in ids if i not in bucket][:room]
        bucket.update(dict.fromkeys(kept))
        dropped = len([i for i in ids if i not in bucket])
        self.stats.ids_parked += len(kept)
        self.stats.ids_dropped += dropped
        if dropped:
            logger.warning(
                "targeted sync of %s: %d %s ids not kept for a retry (%d already wait); the "
                "next reconcile syncs them",
                pair,
                dropped,
                side,
                len(bucket),
            )
        return len(kept)

    def start(self) -> None:
        """Run the batching loop on the current event loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Process what is queued, then stop the loop."""
        await self.drain()
        if self._parked:
            logger.warning(
                "%d ids of failed targeted syncs were waiting for a retry; the next reconcile "
                "syncs them",
                self.parked,
            )
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drain(self) -> None:
        """Sync everything queued now and wait for it."""
        while self._pending:
            await self._run_pending()

    async def _loop(self) -> None:
        while True:
            await self._wakeup.wait()
            # The window is the batching policy (collect a burst), not synchronisation.
            await asyncio.sleep(self.window_s)
            self._wakeup.clear()
            await self._run_pending()

    async def _run_pending(self) -> None:
        pending, self._pending = self._pending, {}
        self._busy += 1
        try:
            for (pair, side), bucket in pending.items():
                ids = list(bucket)
                for start in range(0, len(ids), self.max_batch):
                    await self._run_one(pair, side, ids[start : start + self.max_batch])
        finally:
            self._busy -= 1

    async def _run_one(self, pair: str, side: Side, ids: list[str]) -> None:
        job = f"targeted sync of {pair}"
        async with self.locks.lock(pair):
            try:
                await self.guard(lambda: self.target.sync_records(pair, side, ids))
            except Exception as exc:  # one failed batch must not stop the service
                self.stats.batches_failed += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                retry = worth_retrying(exc)
                if retry:
                    self._park(pair, side, ids)
                then = "; its ids are retried when it works again" if retry else ""
                notice = self.notices.failed(job, exc, then=then)
                if notice is not None:
                    logger.warning("%s", notice.text, exc_info=exc if notice.traceback else None)
                return
        self.stats.batches_run += 1
        self.stats.batch_sizes.append(len(ids))
        notice = self.notices.succeeded(job)
        if notice is not None:
            logger.warning("%s", notice.text)
        if self._parked:
            # Both sides just worked for this pair: what waited goes now, not a poll later.
            self.retry_parked()
