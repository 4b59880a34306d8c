"""One sync cycle: per object pair, read -> match -> plan -> write -> settle -> record, a round
at a time.

A round holds at most `round_size` changed records per side, so memory does not grow with
the CRMs. When one side has more to read than the round holds, the linked twins of the other
side's changed records are read by id, so a conflict is never decided without both current
values. The next round is read while a round is processed (one round ahead), so that reading
(HubSpot's search window) and matching and writing (its ten-second window, and Salesforce) go
on at the same time. The settle step syncs what the servers filled in on create (a Lead's
default Status, an assigned owner) within the round, so the next cycle has nothing to write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from hubforce.aio import cancel_and_wait, gather_or_cancel
from hubforce.connectors.records import RemoteRecord
from hubforce.engine.bookkeeping import commit, count_plan, gather, read_failures
from hubforce.engine.context import CycleOptions, CycleReport, PairReport, SyncContext
from hubforce.engine.fetching import (
    SnapshotCheck,
    conflicts_without_stamps,
    read_associations,
    read_retries,
    read_twins,
    with_history,
)
from hubforce.engine.gcpause import paused_gc
from hubforce.engine.identity import follow_identity
from hubforce.engine.lookup import LinkLookup
from hubforce.engine.matching import match_unlinked
from hubforce.engine.owners import sync_owners
from hubforce.engine.reading import (
    Cursor,
    SideReader,
    prefetch_references,
    read_deleted,
    to_changes,
)
from hubforce.engine.recovery import recover_intents
from hubforce.engine.settling import book_follow_ups, settle_creates
from hubforce.engine.tail import ConfirmingTail, SeenStamps
from hubforce.engine.writing import Writer
from hubforce.errors import HubforceError, RecordFailure
from hubforce.store import RunStatus
from hubforce.sync.fields import PairMapping
from hubforce.sync.model import Change, Link, Side
from hubforce.sync.operations import Create, Delete, LinkOnly, Plan, Unlink, Update
from hubforce.sync.plan import plan_changes

log = logging.getLogger("hubforce.engine.cycle")
T = TypeVar("T")

#: Pairs run in dependency order: owners and companies first, their links feed the others.
PAIR_ORDER = ("owners", "companies", "contacts", "deals")


async def run_cycle(ctx: SyncContext) -> CycleReport:
    """Run one cycle over every enabled pair; record it as a run unless dry."""
    dry = ctx.options.dry_run
    store = ctx.store
    run_id = None if dry else store.runs.start("sync", now=ctx.options.clock())
    report = CycleReport(run_id, dry_run=dry)
    lookup = LinkLookup(store)
    wanted = ctx.options.pairs
    for name in sorted(ctx.mappings, key=_order):
        if wanted is not None and name not in wanted:
            continue
        mapping = ctx.mappings[name]
        if report.pairs and _stop_requested(ctx.options):
            report.stopped = True  # between two pairs: the next cycle starts with this one
            break
        try:
            if name == "owners":
                report.pairs.append(await sync_owners(ctx, mapping))
                lookup.load_all("owners")
            else:
                report.pairs.append(await sync_pair(ctx, mapping, run_id, lookup))
                if report.pairs[-1].stopped:
                    report.stopped = True
                    break
        except Exception as exc:
            # Recorded on the run for `hubforce status`; what was committed stays committed
            # and the next cycle resumes from the stored cursors and intents.
            if run_id is not None:
                message = (
                    f"{name}: {exc}"
                    if isinstance(exc, HubforceError)
                    else (f"{name}: interrupted by {type(exc).__name__}")
                )
                store.runs.finish(run_id, RunStatus.FAILED, counts=report.counts(), message=message)
            raise
    if run_id is not None and report.stopped:
        why = "stopped on request at a round's end; the next cycle resumes from the cursors"
        store.runs.finish(run_id, RunStatus.INTERRUPTED, counts=report.counts(), message=why)
    elif run_id is not None:
        store.runs.finish(run_id, RunStatus.SUCCEEDED, counts=report.counts())
    return report


def _stop_requested(options: CycleOptions) -> bool:
    return options.stop_requested is not None and options.stop_requested()


def _order(name: str) -> tuple[int, str]:
    return (PAIR_ORDER.index(name) if name in PAIR_ORDER else len(PAIR_ORDER), name)


@dataclass(slots=True)
class _Round:
    """One round's records as read, and which sides were read to the end with them."""

    hubspot: list[RemoteRecord]
    salesforce: list[RemoteRecord]
    exhausted: dict[Side, bool]

    @property
    def last(self) -> bool:
        """Both sides were read to the signpost: no round follows."""
        return all(self.exhausted.values())


async def _read_round(
    readers: Mapping[Side, SideReader], size: int, *, eager: bool = False
) -> _Round:
    """The next round of both sides, read at the same time (independent APIs and windows).
    `eager` (the first round): a HubSpot read larger than a round hands over its first page."""
    hs, sf = await gather_or_cancel(
        readers[Side.HUBSPOT].take(size, eager=eager), readers[Side.SALESFORCE].take(size)
    )
    # Taken now, not when the round runs: by then the next round may have been read ahead.
    exhausted = {side: reader.exhausted for side, reader in readers.items()}
    return _Round(hs, sf, exhausted)


async def sync_pair(
    ctx: SyncContext, mapping: PairMapping, run_id: int | None, lookup: LinkLookup
) -> PairReport:
    """Sync one object pair until both sides' changes up to the signpost are recorded.

    While a round is matched, planned, written and recorded, the next rounds are read (up to
    `read_ahead` rounds, so memory stays bounded): HubSpot's search window and its ten-second
    window, and Salesforce, are then busy at the same time. Once the signpost is reached the
    confirming tail (`engine/tail.py`) reads back HubSpot's records the cycle writes, in the
    search window the reads no longer need. Cursors still move only with a round's
    bookkeeping, over that round's records.
    """
    report = PairReport(mapping.name)
    options = ctx.options
    if not options.dry_run:
        await recover_intents(ctx, mapping, report)
    until = options.clock()
    cursors = {
        side: Cursor.loads(ctx.store.cursors.get(mapping.name, str(side)))
        for side in (Side.HUBSPOT, Side.SALESFORCE)
    }
    readers = {side: SideReader(ctx, mapping, side, cursors[side], until) for side in cursors}
    seen = SeenStamps()
    tail = None if options.dry_run else ConfirmingTail(ctx, mapping, until, seen)
    rounds_done = asyncio.Event()
    started = time.perf_counter()
    # The first round is one HubSpot page when HubSpot has more than a round to read: it starts
    # writing sooner. Changes that fit in one round stay together (splitting them would cost
    # twin reads, the other side being then not read to the end).
    queue: asyncio.Queue[_Round] = asyncio.Queue()
    # A round is only read with a slot free, and its slot is freed when the round is taken:
    # a bounded queue alone would let the reader hold one more round, waiting to put it.
    slots = asyncio.Semaphore(max(1, options.read_ahead))
    background = [
        asyncio.create_task(
            _read_rounds(readers, options.round_size, queue, slots, tail, rounds_done)
        )
    ]
    read_by_id: dict[Side, set[str]] = {Side.HUBSPOT: set(), Side.SALESFORCE: set()}
    try:
        deleted = {side: await read_deleted(ctx, mapping, side, cursors[side]) for side in cursors}
        if not options.dry_run:
            retried = await read_retries(ctx, mapping, until)
            for side in deleted:
                deleted[side] += retried[side]
                report.bump(report.read, f"{side}:retried", len(retried[side]))
        is_first = True
        last = False
        while not last:
            current = await _next_from(queue, background[0])
            slots.release()
            report.clock("read", started)
            last = current.last
            extras = deleted if is_first else {Side.HUBSPOT: [], Side.SALESFORCE: []}
            if current.hubspot or current.salesforce or is_first:
                await run_round(
                    ctx,
                    mapping,
                    readers,
                    current.hubspot,
                    current.salesforce,
                    extras,
                    run_id,
                    lookup,
                    report,
                    exhausted=current.exhausted,
                    read_by_id=read_by_id,
                    stamps=seen,
                )
            is_first = False
            if options.progress is not None:
                options.progress(mapping.name, len(current.hubspot) + len(current.salesforce))
            started = time.perf_counter()  # waiting for the read ahead counts as reading
            if not last and _stop_requested(options):
                report.stopped = True  # the rounds so far are recorded with their cursors
                break
        if not report.stopped:
            rounds_done.set()
            await background[0]  # the reader, and the tail's reads while the rounds ran
            if tail is not None:
                await _confirm(ctx, mapping, readers, tail, run_id, lookup, report, seen)
                report.clock("confirm", started)
    finally:
        # An error in a round, or a stop: end the reads ahead before leaving.
        await cancel_and_wait(*background)
        for reader in readers.values():
            await reader.aclose()
    for side, reader in readers.items():
        report.read.update({f"{side}:{k}": n for k, n in reader.read_count.items()})
    if report.stopped:
        return report  # the signpost was not reached: the cursors stay where rounds put them
    for reader in readers.values():
        reader.finish()
        for kind in reader.object_types():
            reader.cursor.deleted[kind] = until
    if not options.dry_run:
        with ctx.store.transaction() as uow:
            for side, reader in readers.items():
                uow.cursors.set(mapping.name, str(side), reader.cursor.dumps())
    return report


async def _read_rounds(
    readers: Mapping[Side, SideReader],
    size: int,
    queue: asyncio.Queue[_Round],
    slots: asyncio.Semaphore,
    tail: ConfirmingTail | None,
    rounds_done: asyncio.Event,
) -> None:
    """Read every round up to the signpost into `queue` (a round only with one of `slots`
    free); then, with the search window free, follow the cycle's HubSpot writes until the
    rounds are done."""
    eager = True
    while True:
        await slots.acquire()
        current = await _read_round(readers, size, eager=eager)
        eager = False
        queue.put_nowait(current)
        if current.last:
            break
    if tail is not None:
        await tail.follow(rounds_done)


async def _next_from(queue: asyncio.Queue[T], reading: asyncio.Task[None]) -> T:
    """The next item `reading` put in `queue`; the reader's error if it failed instead."""
    if queue.empty() and reading.done():
        reading.result()  # raises the read's error
    getting = asyncio.ensure_future(queue.get())
    await asyncio.wait([getting, reading], return_when=asyncio.FIRST_COMPLETED)
    if not getting.done():
        await cancel_and_wait(getting)
        reading.result()
        raise RuntimeError("the reader ended without its last item")  # pragma: no cover
    return getting.result()


async def _confirm(
    ctx: SyncContext,
    mapping: PairMapping,
    readers: Mapping[Side, SideReader],
    tail: ConfirmingTail,
    run_id: int | None,
    lookup: LinkLookup,
    report: PairReport,
    seen: SeenStamps,
) -> None:
    """Plan what the confirming tail read that the cycle did not write itself. The tail's
    next chunk is read while one is planned, so the search window does not wait on it."""
    hubspot = readers[Side.HUBSPOT]
    read_by_id: dict[Side, set[str]] = {Side.HUBSPOT: set(), Side.SALESFORCE: set()}
    # Room for what the tail read while the rounds ran (at most its cap) and one chunk more,
    # so the next leg is read while those are planned.
    room = tail.cap // max(1, ctx.options.round_size) + 2
    chunks: asyncio.Queue[list[RemoteRecord] | None] = asyncio.Queue(maxsize=room)

    async def read() -> None:
        async for copies in tail.rest():
            await chunks.put(copies)
        await chunks.put(None)

    reading = asyncio.create_task(read())
    try:
        while (copies := await _next_from(chunks, reading)) is not None:
            report.bump(report.read, "hubspot:confirmed", len(copies))
            news = tail.news(copies)
            hubspot.advance(copies)  # copies passed over move the cursor too
            if not news:
                continue
            await run_round(
                ctx,
                mapping,
                readers,
                news,
                [],
                {Side.HUBSPOT: [], Side.SALESFORCE: []},
                run_id,
                lookup,
                report,
                exhausted={Side.HUBSPOT: True, Side.SALESFORCE: False},
                read_by_id=read_by_id,
                stamps=seen,
            )
        await reading
    finally:
        await cancel_and_wait(reading)
    if tail.reached is not None:
        for kind in hubspot.object_types():
            mark = (tail.reached, "")
            if mark > hubspot.cursor.changed.get(kind, (0, "")):
                hubspot.cursor.changed[kind] = mark


async def run_round(
    ctx: SyncContext,
    mapping: PairMapping,
    readers: Mapping[Side, SideReader] | None,
    streamed_hs: list[RemoteRecord],
    streamed_sf: list[RemoteRecord],
    extras: dict[Side, list[RemoteRecord]],
    run_id: int | None,
    lookup: LinkLookup,
    report: PairReport,
    *,
    exhausted: Mapping[Side, bool] | None = None,
    read_by_id: Mapping[Side, set[str]] | None = None,
    stamps: SeenStamps | None = None,
) -> None:
    """Match, plan, write and record one round of changes (`extras`: HubSpot archives and
    retried failures, which are planned but do not move the cursors). `exhausted` tells which
    sides were read to the end with this round (default: as the readers stand). Without
    `readers` (a targeted sync of given ids) no side counts as read to the end and no cursor
    moves.

    `read_by_id` holds, per side, the ids an earlier round of the cycle planned from a read by
    id (twins, matched records, retries); this round adds its own. A stream copy of such a
    record is older than what was planned (a stream only holds records as they were up to the
    signpost, and a page may have been read ahead, or cut from a query's snapshot, before an
    earlier round wrote the record): it is passed over, its cursor still moving. Records whose
    identity moves (conversions, merges, deletes) are never passed over.
    """
    store = ctx.store
    started = time.perf_counter()
    seen = read_by_id or {Side.HUBSPOT: set(), Side.SALESFORCE: set()}
    fresh_hs = [r for r in streamed_hs if r.id not in seen[Side.HUBSPOT]]
    fresh_sf = [r for r in streamed_sf if r.id not in seen[Side.SALESFORCE]]
    # One record per id: a retried record may also be a fresh change (the stream wins).
    hs = list({r.id: r for r in [*extras[Side.HUBSPOT], *fresh_hs]}.values())
    sf = list({r.id: r for r in [*extras[Side.SALESFORCE], *fresh_sf]}.values())
    replaced = follow_identity(ctx, mapping, hs, sf, report)
    sf_live = [r for r in sf if r.id not in replaced]
    hs_links = store.links.get_many(mapping.name, Side.HUBSPOT, [r.id for r in hs])
    sf_links = store.links.get_many(mapping.name, Side.SALESFORCE, [r.id for r in sf_live])
    unlinked = {
        Side.HUBSPOT: [r for r in hs if r.id not in hs_links],
        Side.SALESFORCE: [r for r in sf_live if r.id not in sf_links],
    }
    matched = await match_unlinked(ctx, mapping, unlinked, report)
    sf_live = [r for r in sf_live if r.id not in matched.skipped]
    for reason in matched.skipped.values():
        report.bump(report.skipped, reason.split(",")[0][:60])
    hs_all = hs + matched.fetched[Side.HUBSPOT]
    sf_all = sf_live + matched.fetched[Side.SALESFORCE]
    stored: dict[str, Link] = {link.hubspot_id: link for link in hs_links.values()}
    stored.update({link.hubspot_id: link for link in sf_links.values()})
    links = dict(stored)
    for link in matched.links:
        links[link.hubspot_id] = link
    if exhausted is None:
        exhausted = {side: readers is not None and readers[side].exhausted for side in Side}
    # Convert the round first: a linked record that still holds its snapshot image has
    # nothing to propagate, so its twin need not be read (its twin's own changes come with
    # the twin's side). After a busy cycle that saves reading back every record it wrote.
    await read_associations(ctx, mapping, hs_all, links)
    hs_changes, hs_problems = _convert(mapping, Side.HUBSPOT, hs_all, lookup)
    sf_changes, sf_problems = _convert(mapping, Side.SALESFORCE, sf_all, lookup)
    check = SnapshotCheck(mapping, [*hs_changes, *sf_changes])
    twins = await read_twins(ctx, mapping, exhausted, stored.values(), hs_all, sf_all, check=check)
    if twins[Side.HUBSPOT]:
        await read_associations(ctx, mapping, twins[Side.HUBSPOT], links)
    for side in (Side.HUBSPOT, Side.SALESFORCE):
        by_id = [*extras[side], *matched.fetched[side], *twins[side]]
        seen[side].update(r.id for r in by_id if not _changes_identity(r))
    for side, rows in twins.items():
        changes, problems = _convert(mapping, side, rows, lookup)
        if side is Side.HUBSPOT:
            hs_all += rows
            hs_changes += changes
            hs_problems += problems
        else:
            sf_all += rows
            sf_changes += changes
            sf_problems += problems
    started = report.clock("match", started)
    with paused_gc():
        plan = plan_changes(mapping, [*hs_changes, *sf_changes], links.values())
    stale = conflicts_without_stamps(plan, hs_changes)
    if stale:
        # Newest-wins needs each HubSpot property's own change time, which search does not
        # give: read the history of the records in conflict (50 per call) and plan again.
        hs_all = await with_history(ctx, mapping, hs_all, stale)
        hs_changes, hs_problems = to_changes(mapping, Side.HUBSPOT, hs_all, lookup)
        plan = plan_changes(mapping, [*hs_changes, *sf_changes], links.values())
    count_plan(plan, report)
    started = report.clock("plan", started)
    if ctx.options.dry_run:
        _describe(plan, report)
        return
    if stamps is not None:
        stamps.planned(hs_all)
    writer = Writer(ctx, mapping, lookup, run_id, stamps)
    outcomes = await writer.write(plan.records)
    started = report.clock("write", started)
    # What the servers filled in on create goes to the other side in this round, not the
    # next cycle (which would also have to read every record written back).
    settled = await settle_creates(ctx, mapping, lookup, plan.records, outcomes)
    follow_ups = await writer.write(settled.plan.records)
    started = report.clock("settle", started)
    with paused_gc():
        read = {
            Side.HUBSPOT: {change.ref.id for change in hs_changes},
            Side.SALESFORCE: {change.ref.id for change in sf_changes},
        }
        book = gather(mapping, plan.records, outcomes, run_id, report, lookup, read)
        book.failures += read_failures(mapping, [*hs_problems, *sf_problems], run_id, report)
        book.merge(book_follow_ups(mapping, settled, follow_ups, run_id, report, lookup))
        for side, records in ((Side.HUBSPOT, streamed_hs), (Side.SALESFORCE, streamed_sf)):
            if readers is not None:
                readers[side].advance(records)
                book.cursors[side] = readers[side].cursor.dumps()
        commit(store, mapping, book)
    report.clock("bookkeeping", started)


def _changes_identity(record: RemoteRecord) -> bool:
    """A record whose identity moves (deleted, a converted Lead, a merge): only its stream
    copy takes it through `follow_identity`, so that copy must not be passed over."""
    values = record.values
    return bool(
        record.deleted
        or values.get("IsConverted")
        or values.get("MasterRecordId")
        or values.get("hs_merged_object_ids")
    )


def _convert(
    mapping: PairMapping, side: Side, records: list[RemoteRecord], lookup: LinkLookup
) -> tuple[list[Change], list[tuple[Change, RecordFailure]]]:
    """Canonical changes of `records` (their owner and lookup links loaded first)."""
    if not records:
        return [], []
    prefetch_references(lookup, mapping, side, records)
    with paused_gc():
        return to_changes(mapping, side, records, lookup)


def _describe(plan: Plan, report: PairReport) -> None:
    """What a dry run prints: every operation with its values, conflicts with their winners."""
    for record in plan.records:
        for op in record.operations:
            if isinstance(op, Create):
                report.bump(report.created, f"{op.target}:{op.object_type}")
                line = f"create {op.target} {op.object_type} from {op.source.id}: {op.values}"
            elif isinstance(op, Update):
                report.bump(report.updated, f"{op.target.side}:{op.target.object_type}")
                report.bump(report.blanked, str(op.target.side), len(op.blanked))
                line = f"update {op.target.side} {op.target.object_type} {op.target.id}: "
                line += ", ".join(
                    f"{k}: {op.previous.get(k)!r} -> {v!r}" for k, v in op.values.items()
                )
            elif isinstance(op, Delete):
                report.bump(report.deleted, str(op.target.side))
                line = f"delete {op.target.side} {op.target.object_type} {op.target.id}"
            elif isinstance(op, Unlink):
                line = f"unlink {op.hubspot.id} <-> {op.salesforce.id}"
            elif isinstance(op, LinkOnly):
                report.matched += 0
                line = f"link {op.hubspot.id} <-> {op.salesforce.object_type} {op.salesforce.id}"
            else:
                continue
            report.planned.append(line)
        for c in record.conflicts:
            report.planned.append(
                f"conflict on {c.field}: HubSpot {c.hubspot_value!r} vs Salesforce "
                f"{c.salesforce_value!r} -> {c.winner} wins ({c.rule}, {c.reason})"
            )
