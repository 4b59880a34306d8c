"""One sync cycle: per object pair, read -> match -> plan -> write -> record, a round at a time.

A round holds at most `round_size` changed records per side, so memory does not grow with
the CRMs. When one side has more to read than the round holds, the linked twins of the other
side's records are read by id, so a conflict is never decided without both current values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from hubforce.connectors.records import RemoteRecord
from hubforce.engine.bookkeeping import commit, gather, read_failures
from hubforce.engine.context import CycleReport, PairReport, SyncContext
from hubforce.engine.fetching import (
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
from hubforce.engine.writing import Writer
from hubforce.errors import HubforceError
from hubforce.store import RunStatus
from hubforce.sync.fields import PairMapping
from hubforce.sync.model import Link, Side
from hubforce.sync.operations import Create, Delete, LinkOnly, Plan, Unlink, Update
from hubforce.sync.plan import plan_changes

log = logging.getLogger("hubforce.engine.cycle")

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
        try:
            if name == "owners":
                report.pairs.append(await sync_owners(ctx, mapping))
                lookup.load_all("owners")
            else:
                report.pairs.append(await sync_pair(ctx, mapping, run_id, lookup))
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
    if run_id is not None:
        store.runs.finish(run_id, RunStatus.SUCCEEDED, counts=report.counts())
    return report


def _order(name: str) -> tuple[int, str]:
    return (PAIR_ORDER.index(name) if name in PAIR_ORDER else len(PAIR_ORDER), name)


async def sync_pair(
    ctx: SyncContext, mapping: PairMapping, run_id: int | None, lookup: LinkLookup
) -> PairReport:
    """Sync one object pair until both sides' changes up to the signpost are recorded."""
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
    deleted = {side: await read_deleted(ctx, mapping, side, cursors[side]) for side in cursors}
    if not options.dry_run:
        retried = await read_retries(ctx, mapping, until)
        for side in deleted:
            deleted[side] += retried[side]
            report.bump(report.read, f"{side}:retried", len(retried[side]))
    first = True
    while True:
        started = time.perf_counter()
        hs = await readers[Side.HUBSPOT].take(options.round_size)
        sf = await readers[Side.SALESFORCE].take(options.round_size)
        report.clock("read", started)
        extras = deleted if first else {Side.HUBSPOT: [], Side.SALESFORCE: []}
        done = readers[Side.HUBSPOT].exhausted and readers[Side.SALESFORCE].exhausted
        if hs or sf or first:
            await run_round(ctx, mapping, readers, hs, sf, extras, run_id, lookup, report)
        first = False
        if options.progress is not None:
            options.progress(mapping.name, len(hs) + len(sf))
        if done:
            break
    for side, reader in readers.items():
        report.read.update({f"{side}:{k}": n for k, n in reader.read_count.items()})
        reader.finish()
        for kind in reader.object_types():
            reader.cursor.deleted[kind] = until
    if not options.dry_run:
        with ctx.store.transaction() as uow:
            for side, reader in readers.items():
                uow.cursors.set(mapping.name, str(side), reader.cursor.dumps())
    return report


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
) -> None:
    """Match, plan, write and record one round of changes (`extras`: HubSpot archives and
    retried failures, which are planned but do not move the cursors). Without `readers`
    (a targeted sync of given ids) no side counts as read to the end and no cursor moves."""
    store = ctx.store
    started = time.perf_counter()
    # One record per id: a retried record may also be a fresh change (the stream wins).
    hs = list({r.id: r for r in [*extras[Side.HUBSPOT], *streamed_hs]}.values())
    sf = list({r.id: r for r in [*extras[Side.SALESFORCE], *streamed_sf]}.values())
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
    links: dict[str, Link] = {link.hubspot_id: link for link in hs_links.values()}
    links.update({link.hubspot_id: link for link in sf_links.values()})
    exhausted = {side: readers is not None and readers[side].exhausted for side in Side}
    twins = await read_twins(ctx, mapping, exhausted, links.values(), hs_all, sf_all)
    hs_all += twins[Side.HUBSPOT]
    sf_all += twins[Side.SALESFORCE]
    for link in matched.links:
        links[link.hubspot_id] = link
    await read_associations(ctx, mapping, hs_all, links)
    started = report.clock("match", started)
    prefetch_references(lookup, mapping, Side.HUBSPOT, hs_all)
    prefetch_references(lookup, mapping, Side.SALESFORCE, sf_all)
    with paused_gc():
        hs_changes, hs_problems = to_changes(mapping, Side.HUBSPOT, hs_all, lookup)
        sf_changes, sf_problems = to_changes(mapping, Side.SALESFORCE, sf_all, lookup)
        started = report.clock("convert", started)
        plan = plan_changes(mapping, [*hs_changes, *sf_changes], links.values())
    stale = conflicts_without_stamps(plan, hs_changes)
    if stale:
        # Newest-wins needs each HubSpot property's own change time, which search does not
        # give: read the history of the records in conflict (50 per call) and plan again.
        hs_all = await with_history(ctx, mapping, hs_all, stale)
        hs_changes, hs_problems = to_changes(mapping, Side.HUBSPOT, hs_all, lookup)
        plan = plan_changes(mapping, [*hs_changes, *sf_changes], links.values())
    _count_plan(plan, report)
    started = report.clock("plan", started)
    if ctx.options.dry_run:
        _describe(plan, report)
        return
    writer = Writer(ctx, mapping, lookup, run_id)
    outcomes = await writer.write(plan.records)
    started = report.clock("write", started)
    with paused_gc():
        book = gather(mapping, plan.records, outcomes, run_id, report, lookup)
        book.failures += read_failures(mapping, [*hs_problems, *sf_problems], run_id, report)
        for side, records in ((Side.HUBSPOT, streamed_hs), (Side.SALESFORCE, streamed_sf)):
            if readers is not None:
                readers[side].advance(records)
                book.cursors[side] = readers[side].cursor.dumps()
        commit(store, mapping, book)
    report.clock("bookkeeping", started)


def _count_plan(plan: Plan, report: PairReport) -> None:
    for record in plan.records:
        for conflict in record.conflicts:
            report.bump(report.conflicts, f"{conflict.rule}:{conflict.kind}")
        if record.skipped:
            report.bump(report.skipped, record.skipped.split(":")[0][:60])


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
