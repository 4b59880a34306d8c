"""Recording a round's outcome: links, snapshots, audit, failures, intents and cursors, at once.

Everything of one round commits in one transaction (style.md section 4): either the cursor
moves together with the links and snapshots that justify it, or nothing moves and the round is
read again. For every field of a refused update, both sides' images go back to the last
values both agreed on (`RecordPlan.snapshot_after`), so the change is detected again instead of
being lost.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from hubforce.config.model import ValueKind
from hubforce.engine.context import PairReport
from hubforce.engine.lookup import LinkLookup
from hubforce.engine.writing import RecordOutcome
from hubforce.errors import Category, RecordFailure
from hubforce.store import AuditEntry, NewFailure, Store
from hubforce.sync.fields import PairMapping
from hubforce.sync.model import Change, Link, Side
from hubforce.sync.operations import Create, Plan, RecordPlan, Unlink, Update

HUBSPOT = Side.HUBSPOT
SALESFORCE = Side.SALESFORCE
_NAMES = {side: side.value for side in Side}  # Enum .value is a Python-level property


@dataclass(slots=True)
class Bookkeeping:
    """The rows one round writes, gathered before the transaction opens."""

    links: dict[str, Link] = field(default_factory=dict)
    unlink: list[str] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    failures: list[NewFailure] = field(default_factory=list)
    # Per side written to: (HubSpot ids, Salesforce ids) of records whose stored failures of
    # writes to that side are settled by this round.
    resolved: dict[Side, tuple[list[str], list[str]]] = field(
        default_factory=lambda: {Side.HUBSPOT: ([], []), Side.SALESFORCE: ([], [])}
    )
    created: dict[Side, dict[str, str]] = field(
        default_factory=lambda: {Side.HUBSPOT: {}, Side.SALESFORCE: {}}
    )
    refused: dict[Side, list[str]] = field(
        default_factory=lambda: {Side.HUBSPOT: [], Side.SALESFORCE: []}
    )
    cursors: dict[Side, str] = field(default_factory=dict)

    def merge(self, later: Bookkeeping) -> None:
        """Add the rows of a later step of the same round; its links (newer snapshots of the
        same records) replace these."""
        self.links.update(later.links)
        self.unlink += later.unlink
        self.audit += later.audit
        self.failures += later.failures
        for side in (Side.HUBSPOT, Side.SALESFORCE):
            self.resolved[side][0].extend(later.resolved[side][0])
            self.resolved[side][1].extend(later.resolved[side][1])
            self.created[side].update(later.created[side])
            self.refused[side] += later.refused[side]
        self.cursors.update(later.cursors)


def gather(
    mapping: PairMapping,
    records: Sequence[RecordPlan],
    outcomes: Sequence[RecordOutcome],
    run_id: int | None,
    report: PairReport,
    lookup: LinkLookup,
    read: Mapping[Side, Collection[str]] | None = None,
) -> Bookkeeping:
    """Turn a written round into the rows to store, and count it in `report`.

    `read` holds the ids read in the round per side (None: both sides of every record were).
    """
    rules = {spec.key: spec.rule.value for spec in mapping.fields}
    book = Bookkeeping()
    counts: dict[tuple[str, str, str], int] = {}  # (counter, side, type) -> n, named at the end
    no_conflicts: dict[str, str] = {}
    pair = mapping.name
    links = book.links
    append_audit = book.audit.append
    for record, outcome in zip(records, outcomes, strict=True):
        created = outcome.created
        linked = outcome.linked
        hs_id = (
            created.get(HUBSPOT)
            or linked.get(HUBSPOT)
            or (record.hubspot.id if record.hubspot else None)
        )
        sf_id = created.get(SALESFORCE) or (record.salesforce.id if record.salesforce else None)
        sf_type = record.salesforce.object_type if record.salesforce else None
        decided = (
            {c.field: c.rule.value for c in record.conflicts} if record.conflicts else no_conflicts
        )
        unlinked = False
        for op in record.operations:
            if type(op) is Update:
                side = op.target.side
                if (
                    side in outcome.written
                    and side not in outcome.failed
                    and outcome.operations.get(side) == "update"
                ):
                    side_name = _NAMES[side]
                    key = ("updated", side_name, op.target.object_type)
                    counts[key] = counts.get(key, 0) + 1
                    values = op.values
                    if None in values.values():  # skip building the tuple when none is
                        report.bump(report.blanked, side_name, len(op.blanked))
                    record_id = op.target.id
                    previous = op.previous
                    for name, new in values.items():
                        rule = decided.get(name) or rules.get(name, "")
                        append_audit(
                            AuditEntry(
                                run_id,
                                pair,
                                side_name,
                                record_id,
                                name,
                                previous.get(name),
                                new,
                                rule,
                            )
                        )
            elif type(op) is Create:
                target = op.target
                sf_type = sf_type or (op.object_type if target is SALESFORCE else None)
                if target in created:
                    book.created[target][op.source.id] = created[target]
                    key = ("created", target.value, op.object_type)
                    counts[key] = counts.get(key, 0) + 1
                    _audit(
                        book,
                        pair,
                        target,
                        created[target],
                        op.values,
                        no_conflicts,
                        rules,
                        decided,
                        run_id,
                    )
                elif target in linked:
                    # Linked to the record that already held the key: the intent is settled.
                    book.created[target][op.source.id] = linked[target]
                    report.matched += 1
                elif target in outcome.failed:
                    book.refused[target].append(op.source.id)
            elif type(op) is Unlink:
                book.unlink.append(op.hubspot.id)
                report.unlinked += 1
                unlinked = True
        if outcome.failed:
            for side, failure in outcome.failed.items():
                _fail(
                    book,
                    mapping,
                    side,
                    failure,
                    hs_id,
                    sf_type,
                    sf_id,
                    run_id,
                    report,
                    outcome.operations.get(side, "write"),
                )
        for side, kind in outcome.operations.items():
            if kind == "delete" and side in outcome.written:
                report.bump(report.deleted, side.value)
        if linked and hs_id and sf_id and sf_type:
            # As a match: no snapshot, so the next plan compares both sides field by field.
            links[hs_id] = Link(pair, hs_id, sf_type, sf_id)
            lookup.add(pair, hs_id, sf_id)
        elif hs_id and sf_id and sf_type and not unlinked:
            snapshot = record.snapshot_after(outcome.failed)
            if snapshot is not None:
                links[hs_id] = Link(pair, hs_id, sf_type, sf_id, snapshot)
                if created:
                    lookup.add(pair, hs_id, sf_id)
        # A record that converts and plans cleanly resolves its stored failures, also when it
        # needs no write (a retried failure whose record is already in sync would else be
        # re-read every cycle and never leave the failure store). Only the failures of writes
        # whose source side was read, though: an unread side is assumed to hold its snapshot
        # image, which for a refused field is the old value, so its clean plan proves nothing
        # and resolving would leave the refused value behind for good.
        if not outcome.failed:
            for side in (HUBSPOT, SALESFORCE):
                source = side.other
                source_id = hs_id if source is HUBSPOT else sf_id
                if read is not None and (source_id is None or source_id not in read[source]):
                    continue
                ids_hs, ids_sf = book.resolved[side]
                if hs_id:
                    ids_hs.append(hs_id)
                if sf_id:
                    ids_sf.append(sf_id)
    for (counter, side_name, object_type), n in counts.items():
        report.bump(getattr(report, counter), f"{side_name}:{object_type}", n)
    return book


def _audit(
    book: Bookkeeping,
    pair: str,
    side: Side,
    record_id: str,
    values: Mapping[str, object],
    previous: Mapping[str, object],
    rules: dict[str, str],
    decided: dict[str, str],
    run_id: int | None,
) -> None:
    side_name = side.value
    append = book.audit.append
    for key, new in values.items():
        rule = decided.get(key) or rules.get(key, "")
        append(AuditEntry(run_id, pair, side_name, record_id, key, previous.get(key), new, rule))


def _fail(
    book: Bookkeeping,
    mapping: PairMapping,
    side: Side,
    failure: RecordFailure,
    hs_id: str | None,
    sf_type: str | None,
    sf_id: str | None,
    run_id: int | None,
    report: PairReport,
    operation: str,
) -> None:
    book.failures.append(
        NewFailure.of(
            failure,
            pair=mapping.name,
            side=str(side),
            operation=operation,
            hubspot_id=hs_id,
            salesforce_type=sf_type,
            salesforce_id=sf_id,
            run_id=run_id,
        )
    )
    category = str(failure.category)
    report.bump(report.failures, category)
    report.failure_examples.setdefault(
        category, f"{side} {operation} of {hs_id or sf_id}: {failure.api_code} {failure.message}"
    )


def count_plan(plan: Plan, report: PairReport) -> None:
    """Count a plan's conflicts, overrides and skipped records in `report`."""
    for record in plan.records:
        for conflict in record.conflicts:
            report.bump(report.conflicts, f"{conflict.rule}:{conflict.kind}")
        if record.skipped:
            report.bump(report.skipped, record.skipped.split(":")[0][:60])


def read_failures(
    mapping: PairMapping,
    problems: Sequence[tuple[Change, RecordFailure]],
    run_id: int | None,
    report: PairReport,
) -> list[NewFailure]:
    """Fields that could not be read (a picklist value with no mapping...), as failures."""
    out: list[NewFailure] = []
    owner_fields = {spec.salesforce for spec in mapping.fields if spec.kind is ValueKind.OWNER}
    for change, failure in problems:
        ref = change.ref
        if failure.category is Category.ASSOCIATION and set(failure.fields) <= owner_fields:
            # Records owned by a user with no HubSpot owner (e.g. the integration user):
            # the owner is simply not synced, as in the native connector.
            report.bump(report.skipped, "owner without a HubSpot twin")
            continue
        hs_id = ref.id if ref.side is Side.HUBSPOT else None
        sf_id = ref.id if ref.side is Side.SALESFORCE else None
        out.append(
            NewFailure.of(
                failure,
                pair=mapping.name,
                side=str(ref.side.other),
                operation="read",
                hubspot_id=hs_id,
                salesforce_type=ref.object_type if sf_id else None,
                salesforce_id=sf_id,
                run_id=run_id,
            )
        )
        category = str(failure.category)
        report.bump(report.failures, category)
        report.failure_examples.setdefault(
            category, f"{ref.side} {ref.object_type} {ref.id}: {failure.message}"
        )
    return out


def commit(store: Store, mapping: PairMapping, book: Bookkeeping) -> None:
    """Write the round's rows and cursors in one transaction."""
    pair = mapping.name
    with store.transaction() as uow:
        if book.unlink:
            uow.links.unlink(pair, Side.HUBSPOT, book.unlink)
        if book.links:
            uow.links.upsert_many(list(book.links.values()))
        if book.audit:
            uow.audit.insert_many(book.audit)
        # Most rounds have nothing to resolve: skip the IN-list updates when no failure waits.
        resolved = book.resolved
        if any(hs or sf for hs, sf in resolved.values()) and uow.failures.counts(pair):
            for side, (hs_ids, sf_ids) in resolved.items():
                if hs_ids or sf_ids:
                    uow.failures.resolve(
                        pair, hubspot_ids=hs_ids, salesforce_ids=sf_ids, side=str(side)
                    )
        if book.failures:
            uow.failures.record_many(book.failures)
        for side in (Side.HUBSPOT, Side.SALESFORCE):
            if book.created[side]:
                uow.intents.resolve_created(pair, str(side), book.created[side])
            if book.refused[side]:
                uow.intents.resolve_failed(pair, str(side), book.refused[side])
        for side, value in book.cursors.items():
            uow.cursors.set(pair, str(side), value)
