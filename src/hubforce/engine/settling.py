"""Settling a round's creates: the values a server filled in, synced in the same round.

A create can land holding more than was sent: a Lead's default Status, an owner set by
assignment rules, fields set by triggers or workflows. Left alone, those values reach the
other side one cycle later, and the cycle after that has to re-read every record written back.
Instead, once a round's creates are answered, the created records are read as the server
stored them and planned again against their fresh links and snapshots; the resulting updates
(usually to the source side) are written in the same round and their snapshots recorded with
the round, so the next cycle finds nothing to do.

HubSpot's batch-create answer carries the created records' properties (no extra call);
Salesforce's Collections answer carries ids only, so records created there are read back by Id
(SOQL `Id IN (...)`, one call per 200 ids, as every read by id).

Crash safety is the create intents': the settle happens before the round's bookkeeping, so a
crash in between leaves the intents pending; recovery then links the records with no snapshot
and the next cycle compares both sides field by field, which writes the same follow-ups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hubforce.connectors.records import RemoteRecord
from hubforce.engine.bookkeeping import Bookkeeping, count_plan, gather, read_failures
from hubforce.engine.context import PairReport, SyncContext
from hubforce.engine.lookup import LinkLookup
from hubforce.engine.reading import prefetch_references, read_fields, to_changes
from hubforce.engine.writing import RecordOutcome
from hubforce.errors import RecordFailure
from hubforce.sync.fields import PairMapping
from hubforce.sync.model import Change, Link, Side
from hubforce.sync.operations import Create, Plan, RecordPlan
from hubforce.sync.plan import plan_changes


@dataclass(slots=True)
class Settled:
    """The follow-up plan for a round's created records and the fields that could not be read."""

    plan: Plan
    problems: list[tuple[Change, RecordFailure]] = field(default_factory=list)
    read_back: dict[Side, int] = field(default_factory=dict)  # records read back, per side


def created_links(
    mapping: PairMapping, records: Sequence[RecordPlan], outcomes: Sequence[RecordOutcome]
) -> list[tuple[Link, Side, RemoteRecord | None]]:
    """Per successful create of a round: the link it makes (with the planned snapshot), the
    side it created on, and the record as stored when the create's answer carried it."""
    out: list[tuple[Link, Side, RemoteRecord | None]] = []
    pair = mapping.name
    for record, outcome in zip(records, outcomes, strict=True):
        if record.snapshot is None or not outcome.created:
            continue
        for op in record.operations:
            if type(op) is not Create or op.target not in outcome.created:
                continue
            new_id = outcome.created[op.target]
            if op.target is Side.SALESFORCE and record.hubspot is not None:
                link = Link(pair, record.hubspot.id, op.object_type, new_id, record.snapshot)
            elif op.target is Side.HUBSPOT and record.salesforce is not None:
                sf = record.salesforce
                link = Link(pair, new_id, sf.object_type, sf.id, record.snapshot)
            else:
                continue
            answer = outcome.stored.get(op.target)
            if answer is not None and answer.id != new_id:
                answer = None
            out.append((link, op.target, answer))
    return out


async def settle_creates(
    ctx: SyncContext,
    mapping: PairMapping,
    lookup: LinkLookup,
    records: Sequence[RecordPlan],
    outcomes: Sequence[RecordOutcome],
) -> Settled:
    """Read the round's created records as stored and plan them again (no write here)."""
    made = created_links(mapping, records, outcomes)
    stored: dict[Side, list[RemoteRecord]] = {Side.HUBSPOT: [], Side.SALESFORCE: []}
    wanted: dict[str, list[str]] = {}
    for link, side, answer in made:
        if side is Side.SALESFORCE:
            wanted.setdefault(link.salesforce_type, []).append(link.salesforce_id)
        elif answer is not None:
            stored[Side.HUBSPOT].append(answer)
    for object_type, ids in wanted.items():
        fields = read_fields(mapping, Side.SALESFORCE, object_type)
        found = await ctx.salesforce.read(object_type, ids, fields)
        stored[Side.SALESFORCE] += list({r.id: r for r in found.values()}.values())
    settled = Settled(Plan(mapping.name))
    changes: list[Change] = []
    for side, rows in stored.items():
        if not rows:
            continue
        settled.read_back[side] = len(rows)
        prefetch_references(lookup, mapping, side, rows)
        side_changes, problems = to_changes(mapping, side, rows, lookup)
        changes += side_changes
        settled.problems += problems
    if changes:
        plan = plan_changes(mapping, changes, [link for link, _, _ in made])
        # A record the server stored exactly as planned needs nothing: its link is recorded.
        plan.records = [record for record in plan.records if record.operations]
        settled.plan = plan
    return settled


def book_follow_ups(
    mapping: PairMapping,
    settled: Settled,
    outcomes: Sequence[RecordOutcome],
    run_id: int | None,
    report: PairReport,
    lookup: LinkLookup,
) -> Bookkeeping:
    """The rows of the written follow-ups, to commit with the round that created the records.

    A record whose follow-up was refused keeps the snapshot of its create (its failure is
    stored): the filled-in value then still differs from it, so the next cycle, or a retry,
    propagates it again instead of losing it.
    """
    count_plan(settled.plan, report)
    for side, n in settled.read_back.items():
        report.bump(report.read, f"{side}:read_back", n)
    book = gather(mapping, settled.plan.records, outcomes, run_id, report, lookup)
    for record, outcome in zip(settled.plan.records, outcomes, strict=True):
        if outcome.failed and record.hubspot is not None:
            book.links.pop(record.hubspot.id, None)
    book.failures += read_failures(mapping, settled.problems, run_id, report)
    return book
