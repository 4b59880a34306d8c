"""Micro-batching changed record ids into targeted syncs, one lock per object pair.

Intakes call `ChangeBatcher.add(pair, side, ids)`; a background task waits `window_s` after the
first id arrives (so a burst of webhooks becomes one sync), then hands each (pair, side) batch
to the `SyncTarget` while holding that pair's lock. Reconciles take the same lock
(`PairLocks`), so a targeted sync and a reconcile never write one pair's records at once.
`drain()` processes everything queued and waits for it: graceful shutdown calls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hubforce.sync.model import Side

logger = logging.getLogger(__name__)


class SyncTarget(Protocol):
    """Runs a sync of just the given records of one pair, read on one side."""

    async def sync_records(self, pair: str, side: Side, ids: Sequence[str]) -> None:
        """Sync `ids` (ids on `side`) of `pair` now."""


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
    ) -> None:
        self.target = target
        self.locks = locks or PairLocks()
        self.window_s = window_s
        self.max_batch = max_batch
        self.stats = BatchStats()
        self._pending: dict[tuple[str, Side], dict[str, None]] = {}
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
        """Nothing queued and nothing running."""
        return not self._pending and self._busy == 0

    def start(self) -> None:
        """Run the batching loop on the current event loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Process what is queued, then stop the loop."""
        await self.drain()
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
        async with self.locks.lock(pair):
            try:
                await self.target.sync_records(pair, side, ids)
            except Exception as exc:  # one failed batch must not stop the service
                self.stats.batches_failed += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                logger.exception("targeted sync of %d %s ids on %s failed", len(ids), side, pair)
                return
        self.stats.batches_run += 1
        self.stats.batch_sizes.append(len(ids))
