"""The confirming tail: HubSpot's echoes of a cycle's own writes, read while it still writes.

Every record a cycle writes to HubSpot moves its last-modified date past the cycle's signpost,
so the next cycle's search has to read it back (200 a call, HubSpot's search window) only to
find its snapshot image. After a big cycle that confirming read is as long as the writes
themselves. The tail reads those records in the same cycle instead, as soon as the cycle's own
read of HubSpot is done and the search window is free again, while the rounds are still being
matched and written in the ten-second window: the two windows are independent.

The tail reads in legs: each leg is an ordinary search of `[lower, upper]`. While the rounds
run, `upper` stays `overlap_ms` behind the engine's clock (a record not yet in the search
index is never passed; the overlap covers index lag, as it does at every cursor) and a leg
starts once `LEG_RECORDS` written records are due, so nearly every search comes back full.
After the last round, legs run up to now, each searching the previous one's last
`overlap_ms` again, until one finds fewer than `LEG_RECORDS` new records or began
`overlap_ms` after the last write landed; the HubSpot cursor may then move to that leg's start
less `overlap_ms`. A cycle whose writes are all younger than twice `overlap_ms` skips the tail:
the next cycle re-reads from `overlap_ms` before the cursor, so it would read them again.

Copies are only planned once every round has been recorded, while the next leg is read. A
copy older than the cycle's last write to that id, or no newer than the copy a round planned
from (`SeenStamps`), is passed over; the copy a write left is planned like any change, so its
snapshot comparison finds whether someone's edit was merged into it (an echo compares equal
and writes nothing). Records modified after the last leg are left for the next cycle;
Salesforce's cursor stays at the signpost (its echoes are cheap to read: 2,000 a query).
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator, Iterable

from hubforce.connectors.records import RemoteRecord
from hubforce.engine.context import SyncContext
from hubforce.engine.reading import read_fields
from hubforce.sync.fields import PairMapping
from hubforce.sync.model import Side

#: A leg starts once this many written records are due (ten full search pages).
LEG_RECORDS = 2000


class SeenStamps:
    """Per HubSpot id, the newest copy a cycle planned from and its last write (epoch ms)."""

    def __init__(self) -> None:
        self._planned: dict[str, int] = {}
        self._wrote: dict[str, int] = {}
        self._written: list[int] = []  # landing stamps of the cycle's writes, sorted
        self.changed = asyncio.Event()

    def planned(self, records: Iterable[RemoteRecord]) -> None:
        """Records a round planned from."""
        for record in records:
            if record.modified_at > self._planned.get(record.id, 0):
                self._planned[record.id] = record.modified_at

    def written(self, record_id: str, modified_at: int | None) -> None:
        """A write HubSpot accepted, with the stamp its answer gave."""
        if modified_at:
            if modified_at > self._wrote.get(record_id, 0):
                self._wrote[record_id] = modified_at
            bisect.insort(self._written, modified_at)
            self.changed.set()

    def due(self, lower: int, upper: int) -> int:
        """How many of the cycle's writes landed within [lower, upper]."""
        return bisect.bisect_right(self._written, upper) - bisect.bisect_left(self._written, lower)

    @property
    def wrote(self) -> bool:
        """The cycle has written to HubSpot."""
        return bool(self._written)

    @property
    def last_landed(self) -> int:
        """The latest landing stamp of the cycle's writes (0 before any)."""
        return self._written[-1] if self._written else 0

    def is_news(self, record: RemoteRecord) -> bool:
        """The copy may hold a change the cycle has not planned.

        A copy older than the cycle's last write to the record is stale (a newer one follows).
        The copy the write left is not only an echo: someone's edit between the cycle's read
        and its write is merged into it, so it is compared with the snapshot like any change.
        Without a later write, a copy no newer than the one planned from holds nothing new.
        """
        planned = self._planned.get(record.id, 0)
        wrote = self._wrote.get(record.id)
        if wrote is not None and wrote > planned:
            return record.modified_at >= wrote
        return record.modified_at > planned


class ConfirmingTail:
    """Reads HubSpot's changes after the cycle's signpost while the cycle writes."""

    def __init__(
        self, ctx: SyncContext, mapping: PairMapping, signpost_ms: int, seen: SeenStamps
    ) -> None:
        self.ctx = ctx
        self.mapping = mapping
        self.seen = seen
        # From the signpost less the overlap: records the cycle's own read could not see yet
        # (index lag) lie there, and the cursor is about to move past them.
        self.lower = signpost_ms - ctx.options.overlap_ms
        self.copies: list[RemoteRecord] = []
        self.reached: int | None = None  # every record modified up to here has been read
        self.legs = 0
        self.cap = 5 * ctx.options.round_size  # memory bound while the rounds still run

    async def follow(self, rounds_done: asyncio.Event) -> None:
        """While the rounds run: read a leg whenever enough written records are due."""
        overlap = self.ctx.options.overlap_ms
        while not rounds_done.is_set() and len(self.copies) < self.cap:
            upper = self.ctx.options.clock() - overlap
            if self.seen.due(self.lower, upper) >= LEG_RECORDS:
                async for page in self._leg(upper):
                    self.copies.extend(page)
                continue
            self.seen.changed.clear()
            waits = [asyncio.ensure_future(e.wait()) for e in (self.seen.changed, rounds_done)]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()

    async def rest(self) -> AsyncIterator[list[RemoteRecord]]:
        """After the last round: what was read, then legs up to now until one finds the tail
        caught up, a round at a time, in stream order."""
        size = self.ctx.options.round_size
        chunk = sorted(self.copies, key=lambda r: (r.modified_at, r.id))
        self.copies = []
        while len(chunk) > size:
            yield chunk[:size]
            chunk = chunk[size:]
        overlap = self.ctx.options.overlap_ms
        searched_to = self.lower - 1  # a leg's records up to here were read by an earlier one
        # The next cycle reads again from `overlap_ms` before where the tail leaves the cursor
        # (at best its last leg's start less `overlap_ms`): writes younger than twice that
        # would be read twice. A short cycle's tail is not worth a search.
        young = self.ctx.options.clock() - 2 * overlap
        worth = self.legs > 0 or self.seen.due(self.lower, young) >= LEG_RECORDS
        caught_up = not (self.seen.wrote and worth)
        while not caught_up:
            now = self.ctx.options.clock()
            found = 0
            async for page in self._leg(now):
                found += sum(1 for record in page if record.modified_at > searched_to)
                chunk.extend(page)
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
            # A short leg means the writes are behind us, as does one that began `overlap_ms`
            # after the last write landed. Everything modified `overlap_ms` before the leg
            # began was in the index then, so was read: the cursor may move there.
            caught_up = found < LEG_RECORDS or now - overlap >= self.seen.last_landed
            if caught_up:
                self.reached = now - overlap
            else:
                # What was modified within `overlap_ms` before this leg began may not have been
                # searchable yet (index lag): the next leg searches that stretch again.
                searched_to = now
                self.lower = now - overlap + 1
        if chunk:
            yield chunk

    async def _leg(self, upper: int) -> AsyncIterator[list[RemoteRecord]]:
        if upper < self.lower:
            return
        kind = self.mapping.hubspot_type
        fields = read_fields(self.mapping, Side.HUBSPOT, kind)
        self.legs += 1
        async for page in self.ctx.hubspot.changed_since(kind, self.lower, fields, until_ms=upper):
            yield page.records
        self.lower = upper + 1

    def news(self, copies: list[RemoteRecord]) -> list[RemoteRecord]:
        """The copies to plan: per id the newest, if newer than what the cycle knows."""
        newest: dict[str, RemoteRecord] = {}
        for record in copies:
            if self.seen.is_news(record):
                newest[record.id] = record  # stream order: a later copy is newer
        return list(newest.values())
