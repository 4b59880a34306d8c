"""Reading changes since each side's cursor, in (modified, id) order, a round at a time.

A cursor is stored per (pair, side) as JSON: per object type, the (modified_at, id) of the
last record whose outcome was recorded. Reads start `overlap_ms` before it, so a late commit or
a lagging search index is read again next time; the snapshot comparison makes re-reads harmless.
Every read of a cycle stops at the cycle's signpost (its start), so records written by the cycle
itself are left for the next one and search offsets cannot shift mid-read.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hubforce.connectors.records import RemoteRecord
from hubforce.connectors.salesforce import soql
from hubforce.connectors.salesforce.client import MERGEABLE
from hubforce.connectors.salesforce.wire import SYSTEM_FIELDS, record_from_wire
from hubforce.engine.context import SyncContext
from hubforce.engine.lookup import LinkLookup
from hubforce.errors import RecordFailure
from hubforce.sync.fields import PairMapping
from hubforce.sync.mapping import to_change
from hubforce.sync.model import Change, RecordRef, Side

LEAD_EXTRAS = ("IsConverted", "ConvertedContactId", "ConvertedAccountId")
HUBSPOT_EXTRAS = ("hs_merged_object_ids",)
#: Match key kind -> (HubSpot property, Salesforce field); "name" depends on the pair.
MATCH_FIELDS = {"email": ("email", "Email"), "domain": ("domain", "Website")}


def name_fields(mapping: PairMapping) -> tuple[str, str]:
    """The (HubSpot, Salesforce) fields holding a record's name (`Name` in Salesforce)."""
    for spec in mapping.fields:
        if spec.salesforce == "Name":
            return spec.hubspot, "Name"
    return "name", "Name"


def match_field(mapping: PairMapping, kind: str, side: Side) -> str | None:
    """The field compared for match key `kind` on `side` (None when it does not apply)."""
    if kind == "external_id":
        if mapping.external_id is None:
            return None
        return "hs_object_id" if side is Side.HUBSPOT else mapping.external_id
    pair = name_fields(mapping) if kind == "name" else MATCH_FIELDS.get(kind)
    if pair is None:
        return None
    return pair[0] if side is Side.HUBSPOT else pair[1]


def read_fields(mapping: PairMapping, side: Side, object_type: str) -> list[str]:
    """Every field a cycle reads for `object_type`: mapped, match keys and identity fields."""
    names: list[str] = []
    hubspot = side is Side.HUBSPOT
    for spec in mapping.fields_for(object_type):
        if spec.association:
            if not hubspot:
                names.append(spec.salesforce_for(object_type))
            continue
        names.append(spec.hubspot if hubspot else spec.salesforce_for(object_type))
    for kind in ("external_id", *mapping.match_on):
        name = match_field(mapping, kind, side)
        if name is not None and (hubspot or kind != "domain" or object_type == "Account"):
            names.append(name)
    if hubspot:
        names += HUBSPOT_EXTRAS
        if mapping.inclusion is not None:
            names += [c.property for c in (*mapping.inclusion.all, *mapping.inclusion.any)]
    elif object_type == "Lead":
        names += LEAD_EXTRAS
    return [n for n in dict.fromkeys(names) if n not in ("Id", "SystemModstamp")]


# -- cursors ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Cursor:
    """Per object type: the (modified_at, id) reached; `deleted` per type: the ms reached."""

    changed: dict[str, tuple[int, str]] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)

    def dumps(self) -> str:
        """JSON for the store."""
        return json.dumps(
            {"changed": {k: list(v) for k, v in self.changed.items()}, "deleted": self.deleted},
            sort_keys=True,
        )

    @classmethod
    def loads(cls, text: str | None) -> Cursor:
        """Parse a stored cursor (None or unreadable -> start from the beginning)."""
        if not text:
            return cls()
        try:
            raw = json.loads(text)
            changed = {k: (int(v[0]), str(v[1])) for k, v in raw.get("changed", {}).items()}
            deleted = {k: int(v) for k, v in raw.get("deleted", {}).items()}
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return cls()
        return cls(changed, deleted)

    def since(self, object_type: str, overlap_ms: int) -> int | None:
        """Where the next read of `object_type` starts."""
        found = self.changed.get(object_type)
        return None if found is None else max(0, found[0] - overlap_ms)


# -- streams ----------------------------------------------------------------------------------


class SideReader:
    """The changed records of one side of one pair, handed out a round at a time."""

    def __init__(
        self,
        ctx: SyncContext,
        mapping: PairMapping,
        side: Side,
        cursor: Cursor,
        until_ms: int,
    ) -> None:
        self.ctx = ctx
        self.mapping = mapping
        self.side = side
        self.cursor = cursor
        self.until_ms = until_ms
        self.exhausted = False
        self.expected: int | None = None  # records the read holds, when the API says
        self.read_count: dict[str, int] = {}
        self._pending: list[RemoteRecord] = []
        # Where each type's read starts is fixed now: the cursor moves with committed rounds
        # while later pages are still being read.
        overlap = ctx.options.overlap_ms
        self._since = {kind: cursor.since(kind, overlap) for kind in self.object_types()}
        self._stream = self._pages()

    def object_types(self) -> tuple[str, ...]:
        """The vendor types read on this side."""
        if self.side is Side.HUBSPOT:
            return (self.mapping.hubspot_type,)
        return self.mapping.salesforce_types

    async def _pages(self) -> AsyncGenerator[tuple[list[RemoteRecord], int | None], None]:
        """(records, how many the read holds in all when the API says) per page."""
        for object_type in self.object_types():
            since = self._since[object_type]
            fields = read_fields(self.mapping, self.side, object_type)
            if self.side is Side.HUBSPOT:
                pages = self.ctx.hubspot.changed_since(
                    object_type, since, fields, until_ms=self.until_ms
                )
                async for page in pages:
                    yield page.records, page.total
            else:
                async for rows in self._salesforce_pages(object_type, since, fields):
                    yield rows, None

    async def _salesforce_pages(
        self, object_type: str, since: int | None, fields: list[str]
    ) -> AsyncIterator[list[RemoteRecord]]:
        """Changes and deletes of one type in one `queryAll` (SystemModstamp, Id order):
        deleted rows carry IsDeleted and, for merges, MasterRecordId."""
        extra = ["IsDeleted", *(["MasterRecordId"] if object_type in MERGEABLE else [])]
        conditions = [f"SystemModstamp <= {soql.datetime_literal(self.until_ms + 999)}"]
        if since is not None:
            conditions.insert(0, f"SystemModstamp >= {soql.datetime_literal(since)}")
        statement = soql.select(
            object_type,
            list(dict.fromkeys([*SYSTEM_FIELDS, *extra, *fields])),
            where=" AND ".join(conditions),
            order_by=("SystemModstamp ASC", "Id ASC"),
        )
        async for raw in self.ctx.salesforce.query(statement, include_deleted=True):
            yield [record_from_wire(obj, object_type) for obj in raw]

    async def take(self, limit: int, *, eager: bool = False) -> list[RemoteRecord]:
        """Up to about `limit` records (whole pages), in stream order.

        `eager` stops after the first page when the read is known to hold more than `limit`
        records: it needs several rounds anyway (the other side's twins are read by id either
        way), and a first round that starts sooner starts writing sooner.
        """
        out = self._pending
        self._pending = []
        while len(out) < limit and not self.exhausted:
            try:
                page, total = await anext(self._stream)
            except StopAsyncIteration:
                self.exhausted = True
                break
            out.extend(page)
            if self.expected is None:
                self.expected = total
            if eager and self.expected is not None and self.expected > limit:
                break
        for record in out:
            self.read_count[record.object_type] = self.read_count.get(record.object_type, 0) + 1
        return out

    async def aclose(self) -> None:
        """Close the page stream (a read stopped early releases its generator now)."""
        await self._stream.aclose()

    def advance(self, records: Iterable[RemoteRecord]) -> None:
        """Move the in-memory cursor past `records` (stored with the round's bookkeeping)."""
        for record in records:
            mark = (record.modified_at, record.id)
            if mark > self.cursor.changed.get(record.object_type, (0, "")):
                self.cursor.changed[record.object_type] = mark

    def finish(self) -> None:
        """Everything up to the signpost was read: the cursor may move to it."""
        for object_type in self.object_types():
            mark = (self.until_ms, "")
            if mark > self.cursor.changed.get(object_type, (0, "")):
                self.cursor.changed[object_type] = mark


async def read_deleted(
    ctx: SyncContext, mapping: PairMapping, side: Side, cursor: Cursor
) -> list[RemoteRecord]:
    """HubSpot records archived since the delete cursor (Salesforce's come with changes)."""
    out: list[RemoteRecord] = []
    overlap = ctx.options.overlap_ms
    if side is Side.HUBSPOT:
        kind = mapping.hubspot_type
        since = cursor.deleted.get(kind)
        pages = ctx.hubspot.deleted_since(kind, None if since is None else since - overlap)
        async for page in pages:
            out.extend(page.records)
        return out
    return out  # Salesforce deletes arrive with the changes (queryAll)


def prefetch_references(
    lookup: LinkLookup, mapping: PairMapping, side: Side, records: Iterable[RemoteRecord]
) -> None:
    """Load the links that owner and lookup fields of `records` refer to, in one query each."""
    wanted: dict[str, set[str]] = {}
    rows = list(records)
    for spec in mapping.fields:
        if spec.ref_pair is None:
            continue
        for record in rows:
            name = spec.hubspot if side is Side.HUBSPOT else spec.salesforce_for(record.object_type)
            value = record.values.get(name)
            if value not in (None, ""):
                wanted.setdefault(spec.ref_pair, set()).add(str(value))
    for pair, ids in wanted.items():
        lookup.prefetch(pair, side, ids)


def to_changes(
    mapping: PairMapping,
    side: Side,
    records: Iterable[RemoteRecord],
    lookup: LinkLookup,
) -> tuple[list[Change], list[tuple[Change, RecordFailure]]]:
    """Canonical changes for raw records, plus the fields that could not be read."""
    changes: list[Change] = []
    problems: list[tuple[Change, RecordFailure]] = []
    for record in records:
        change, failures = to_change(
            mapping,
            side,
            record.object_type,
            record.id,
            record.values,
            record.modified_at,
            field_modified_at=_field_stamps(record),
            deleted=record.deleted,
            lookup=lookup,
        )
        if side is Side.SALESFORCE and record.object_type == "Lead":
            converted = record.values.get("ConvertedContactId")
            if record.values.get("IsConverted") and converted:
                change.converted_to = RecordRef(Side.SALESFORCE, "Contact", str(converted))
        changes.append(change)
        problems.extend((change, failure) for failure in failures)
    return changes, problems


def _field_stamps(record: RemoteRecord) -> Mapping[str, int] | None:
    return record.field_modified_at or None


def raw_value(record: RemoteRecord, name: str) -> Any:
    """A raw field value, None when absent."""
    return record.values.get(name)
