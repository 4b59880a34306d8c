"""Writing a plan in batches: creates (behind intents), updates, deletes, per side.

HubSpot batches of 100 and Salesforce sObject Collections of 200 (`allOrNone=false`) are the
connectors' job; here operations are grouped per side and type, turned into wire values, sent,
and every input's outcome is tied back to its record. A rejected record is a value (a
`RecordFailure`) and the rest goes on. Creates are recorded as intents, committed, before they
are sent: after a crash, `recovery` finds what landed by the intent's idempotency key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hubforce.aio import gather_or_cancel
from hubforce.connectors.hubspot.errors import existing_id
from hubforce.connectors.hubspot.wire import ASSOCIATION_TYPES
from hubforce.connectors.records import RemoteRecord, WriteResult
from hubforce.engine.context import SyncContext
from hubforce.engine.lookup import LinkLookup
from hubforce.engine.reading import read_fields
from hubforce.engine.tail import SeenStamps
from hubforce.errors import Category, RecordFailure
from hubforce.store import NewIntent
from hubforce.sync.fields import ASSOCIATION_PREFIX, PairMapping
from hubforce.sync.mapping import to_wire
from hubforce.sync.model import Side
from hubforce.sync.operations import Create, Delete, RecordPlan, Update


@dataclass(slots=True)
class RecordOutcome:
    """What happened to one record plan's writes (`stored`: a created record as the server
    answered it, when the answer carries it; `linked`: a create refused because the record
    already exists there, linked to that record instead)."""

    created: dict[Side, str] = field(default_factory=dict)
    linked: dict[Side, str] = field(default_factory=dict)
    stored: dict[Side, RemoteRecord] = field(default_factory=dict)
    failed: dict[Side, RecordFailure] = field(default_factory=dict)
    written: set[Side] = field(default_factory=set)
    operations: dict[Side, str] = field(default_factory=dict)


def idempotency_key(mapping: PairMapping, op: Create) -> str:
    """How a create can be found on its target after a crash: "<field>=<value>"."""
    values = op.values
    if op.target is Side.SALESFORCE:
        if mapping.external_id:
            return f"{mapping.external_id}={op.source.id}"
        for key, name in (("email", "Email"), ("name", "Name"), ("dealname", "Name")):
            if values.get(key):
                return f"{name}={values[key]}"
    else:
        for key in ("email", "name", "dealname"):
            if values.get(key):
                return f"{key}={values[key]}"
    return f"source={op.source.id}"


def _failure(category: Category, code: str, message: str) -> RecordFailure:
    return RecordFailure.of(category, code, message)


class Writer:
    """Sends one round's plan and collects the outcome of every record."""

    def __init__(
        self,
        ctx: SyncContext,
        mapping: PairMapping,
        lookup: LinkLookup,
        run_id: int | None,
        seen: SeenStamps | None = None,
    ) -> None:
        self.ctx = ctx
        self.mapping = mapping
        self.lookup = lookup
        self.run_id = run_id
        self.seen = seen  # HubSpot writes' landing stamps, for the cycle's confirming tail

    async def write(self, records: Sequence[RecordPlan]) -> list[RecordOutcome]:
        """Write every operation of `records`; one outcome per record, in order."""
        outcomes = [RecordOutcome() for _ in records]
        creates: dict[tuple[Side, str], list[tuple[int, Create]]] = {}
        updates: dict[tuple[Side, str], list[tuple[int, Update]]] = {}
        deletes: dict[tuple[Side, str], list[tuple[int, Delete]]] = {}
        for index, record in enumerate(records):
            for op in record.operations:
                if isinstance(op, Create):
                    creates.setdefault((op.target, op.object_type), []).append((index, op))
                elif isinstance(op, Update):
                    key = (op.target.side, op.target.object_type)
                    updates.setdefault(key, []).append((index, op))
                elif isinstance(op, Delete):
                    key = (op.target.side, op.target.object_type)
                    deletes.setdefault(key, []).append((index, op))
        self._record_intents(creates)

        async def write_side(side: Side) -> None:
            # Creates, then updates, then deletes, as before; the two sides are independent
            # (different APIs and rate windows), so they are written at the same time.
            for (target, object_type), items in creates.items():
                if target is side:
                    await self._create(side, object_type, items, outcomes)
            for (target, object_type), updates_ in updates.items():
                if target is side:
                    await self._update(side, object_type, updates_, outcomes)
            for (target, object_type), deletes_ in deletes.items():
                if target is side:
                    await self._delete(side, object_type, deletes_, outcomes)

        sides = {side for side, _ in (*creates, *updates, *deletes)}
        await gather_or_cancel(*(write_side(side) for side in Side if side in sides))
        return outcomes

    # -- creates --------------------------------------------------------------------------

    def _record_intents(self, creates: dict[tuple[Side, str], list[tuple[int, Create]]]) -> None:
        intents = [
            NewIntent(
                pair=self.mapping.name,
                target_side=str(side),
                source_id=op.source.id,
                idempotency_key=idempotency_key(self.mapping, op),
                source_type=op.source.object_type,
                target_type=object_type,
                run_id=self.run_id,
            )
            for (side, object_type), items in creates.items()
            for _, op in items
        ]
        if intents:
            with self.ctx.store.transaction() as uow:
                uow.intents.record_many(intents)

    async def _create(
        self,
        side: Side,
        object_type: str,
        items: list[tuple[int, Create]],
        outcomes: list[RecordOutcome],
    ) -> None:
        bodies: list[dict[str, Any]] = []
        links: list[list[tuple[str, int]]] = []
        sent: list[int] = []
        assign = False
        for index, op in items:
            outcomes[index].operations[side] = "create"
            hubspot_id = op.source.id if side is Side.SALESFORCE else None
            wire, failures, _ = to_wire(
                self.mapping,
                side,
                object_type,
                op.values,
                lookup=self.lookup,
                create=True,
                hubspot_id=hubspot_id,
            )
            if failures:
                outcomes[index].failed[side] = failures[0]
                continue
            associations = self._split_associations(wire) if side is Side.HUBSPOT else []
            bodies.append(wire)
            links.append(associations)
            sent.append(index)
            assign = assign or op.assign
        if not bodies:
            return
        results: list[WriteResult]
        if side is Side.HUBSPOT:
            results = await self.ctx.hubspot.create(object_type, bodies, associations=links)
        else:
            results = await self.ctx.salesforce.create(object_type, bodies, auto_assign=assign)
        self._after_write(side, "create", len(bodies))
        for result in results:
            outcome = outcomes[sent[result.index]]
            if result.ok and result.id:
                outcome.created[side] = result.id
                outcome.written.add(side)
                self._landed(side, result)
                if result.record is not None:
                    outcome.stored[side] = result.record
            else:
                outcome.failed[side] = result.failure or _failure(
                    Category.UNKNOWN, "NO_ID", "the create returned no id"
                )
        if side is Side.HUBSPOT:
            await self._link_existing(object_type, items, outcomes)

    async def _link_existing(
        self, object_type: str, items: list[tuple[int, Create]], outcomes: list[RecordOutcome]
    ) -> None:
        """Creates HubSpot refused with 409 "Existing ID: N" (the e-mail is taken by a contact
        the match lookup did not see: created since, or not in the search index yet): link
        the source to that contact, as a match would, unless it is linked to another record."""
        side = Side.HUBSPOT
        pair = self.mapping.name
        taken: dict[int, tuple[str, Create]] = {}
        for index, op in items:
            failure = outcomes[index].failed.get(side)
            found = existing_id(failure) if failure is not None else None
            if found is not None:
                taken[index] = (found, op)
        if not taken:
            return
        ids = list(dict.fromkeys(found for found, _ in taken.values()))
        # Read by id, not search: the search index is what missed the contact.
        live = await self.ctx.hubspot.read(
            object_type, ids, read_fields(self.mapping, side, object_type)
        )
        linked = self.ctx.store.links.get_many(pair, side, ids, include_deleted=False)
        owners: dict[str, str] = {  # HubSpot id -> Salesforce id it is (or now gets) linked to
            hs_id: link.salesforce_id for hs_id, link in linked.items()
        }
        for hs_id in ids:
            cached = self.lookup.to_salesforce(pair, hs_id)
            if cached is not None:
                owners.setdefault(hs_id, cached)
        for index, (found, op) in taken.items():
            source = op.source
            record = live.get(found)
            if record is None or record.id != found:
                continue  # gone (archived, merged away): the duplicate failure stands
            owner = owners.get(found)
            if owner is not None and owner != source.id:
                outcomes[index].failed[side] = _failure(
                    Category.DUPLICATE,
                    "EXISTING_LINKED",
                    f"HubSpot {object_type} {found} already holds this e-mail and is linked to "
                    f"Salesforce record {owner}; Salesforce {source.object_type} {source.id} "
                    "was not created nor linked",
                )
                continue
            owners[found] = source.id
            outcome = outcomes[index]
            del outcome.failed[side]
            outcome.linked[side] = found

    def _split_associations(self, wire: dict[str, Any]) -> list[tuple[str, int]]:
        """Move `assoc:<type>` values out of HubSpot properties into create associations."""
        out: list[tuple[str, int]] = []
        for key in [k for k in wire if k.startswith(ASSOCIATION_PREFIX)]:
            value = wire.pop(key)
            to_type = key[len(ASSOCIATION_PREFIX) :]
            type_id = ASSOCIATION_TYPES.get((self.mapping.hubspot_type, to_type))
            if value and type_id is not None:
                out.append((str(value), type_id))
        return out

    # -- updates and deletes --------------------------------------------------------------

    async def _update(
        self,
        side: Side,
        object_type: str,
        items: list[tuple[int, Update]],
        outcomes: list[RecordOutcome],
    ) -> None:
        batch: list[tuple[str, dict[str, Any]]] = []
        sent: list[int] = []
        associations: list[tuple[int, str, str, str]] = []  # index, from, to type, to id
        for index, op in items:
            outcomes[index].operations[side] = "update"
            wire, failures, _ = to_wire(
                self.mapping, side, object_type, op.values, lookup=self.lookup
            )
            if failures:
                outcomes[index].failed[side] = failures[0]
                continue
            if side is Side.HUBSPOT:
                for key in [k for k in wire if k.startswith(ASSOCIATION_PREFIX)]:
                    value = wire.pop(key)
                    if value:
                        to_type = key[len(ASSOCIATION_PREFIX) :]
                        associations.append((index, op.target.id, to_type, str(value)))
            if wire:
                batch.append((op.target.id, wire))
                sent.append(index)
            elif not any(i == index for i, *_ in associations):
                outcomes[index].operations[side] = "noop"  # only a snapshot refresh
                outcomes[index].written.add(side)
        if batch:
            if side is Side.HUBSPOT:
                results = await self.ctx.hubspot.update(object_type, batch)
            else:
                results = await self.ctx.salesforce.update(object_type, batch)
            self._after_write(side, "update", len(batch))
            self._collect(side, results, sent, outcomes)
        await self._associate(object_type, associations, outcomes)

    async def _associate(
        self,
        object_type: str,
        items: list[tuple[int, str, str, str]],
        outcomes: list[RecordOutcome],
    ) -> None:
        by_type: dict[str, list[tuple[int, str, str]]] = {}
        for index, from_id, to_type, to_id in items:
            by_type.setdefault(to_type, []).append((index, from_id, to_id))
        for to_type, rows in by_type.items():
            results = await self.ctx.hubspot.create_associations(
                object_type, to_type, [(a, b) for _, a, b in rows]
            )
            self._after_write(Side.HUBSPOT, "associate", len(rows))
            for result in results:
                index = rows[result.index][0]
                if result.ok:
                    outcomes[index].written.add(Side.HUBSPOT)
                else:
                    outcomes[index].failed[Side.HUBSPOT] = result.failure or _failure(
                        Category.ASSOCIATION, "ASSOCIATION_FAILED", "association refused"
                    )

    async def _delete(
        self,
        side: Side,
        object_type: str,
        items: list[tuple[int, Delete]],
        outcomes: list[RecordOutcome],
    ) -> None:
        ids = [op.target.id for _, op in items]
        for index, _ in items:
            outcomes[index].operations[side] = "delete"
        if side is Side.HUBSPOT:
            results = await self.ctx.hubspot.archive(object_type, ids)
        else:
            results = await self.ctx.salesforce.delete(ids)
        self._after_write(side, "delete", len(ids))
        self._collect(side, results, [index for index, _ in items], outcomes)

    def _collect(
        self,
        side: Side,
        results: Sequence[WriteResult],
        sent: Sequence[int],
        outcomes: list[RecordOutcome],
    ) -> None:
        for result in results:
            outcome = outcomes[sent[result.index]]
            if result.ok:
                outcome.written.add(side)
                self._landed(side, result)
            else:
                outcome.failed[side] = result.failure or _failure(
                    Category.UNKNOWN, "NO_RESULT", "no result for this record"
                )

    def _landed(self, side: Side, result: WriteResult) -> None:
        if self.seen is not None and side is Side.HUBSPOT and result.id:
            self.seen.written(result.id, result.modified_at)

    def _after_write(self, side: Side, kind: str, count: int) -> None:
        hook = self.ctx.options.after_write
        if hook is not None:
            hook(self.mapping.name, side, kind, count)
