"""Vendor-neutral values the connectors hand to the engine: records read, outcomes of writes.

Values stay in the vendor's raw wire form (HubSpot: strings or None; Salesforce: JSON types);
canonicalisation is the engine's job (`hubforce.sync.values`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubforce.errors import RecordFailure


@dataclass(slots=True)
class RemoteRecord:
    """One record as read from a side.

    `modified_at` is the change-detection timestamp in epoch milliseconds (HubSpot
    `lastmodifieddate` / `hs_lastmodifieddate`; Salesforce `SystemModstamp`).
    `field_modified_at` holds per-field modification times when known (HubSpot property history;
    Salesforce `LastModifiedDate` for every field read); a field without an entry falls back to
    `modified_at`. `deleted` marks an archived (HubSpot) or recycle-bin (Salesforce) record.
    """

    id: str
    values: dict[str, Any]
    modified_at: int
    object_type: str
    field_modified_at: dict[str, int] = field(default_factory=dict)
    deleted: bool = False

    def modified_at_of(self, name: str) -> int:
        """When field `name` last changed, as far as the side tells (epoch ms)."""
        return self.field_modified_at.get(name, self.modified_at)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of one input of a batch write, at the input's position `index`.

    `record` is the record as the server stored it, when the answer carries it (HubSpot's
    batch create does; Salesforce Collections answer with ids only). `modified_at` is when the
    server says the write landed (HubSpot's `updatedAt`, epoch ms), when the answer says so.
    """

    index: int
    ok: bool
    id: str | None
    created: bool = False
    failure: RecordFailure | None = None
    record: RemoteRecord | None = None
    modified_at: int | None = None


@dataclass(slots=True)
class RecordPage:
    """One page of `changed_since`/`deleted_since`, in (modified_at, id) order.

    `watermark` is the (modified_at, id) of the last record, a safe resume point once the page
    has been processed; None for an empty page. `total` is how many records the whole read
    holds, when the API says so on its first page (HubSpot's search does).
    """

    records: list[RemoteRecord]
    total: int | None = None

    @property
    def watermark(self) -> tuple[int, str] | None:
        """(modified_at, id) of the last record of the page."""
        if not self.records:
            return None
        last = self.records[-1]
        return (last.modified_at, last.id)


@dataclass(frozen=True, slots=True)
class AssociationLink:
    """A HubSpot association (or a Salesforce lookup seen as one): from_id -> to_id."""

    from_id: str
    to_id: str
    type_id: int | None = None


@dataclass(slots=True)
class CallCounter:
    """API calls spent by one client, by kind of call (what the demo and benchmarks print)."""

    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    rate_limited: int = 0

    def count(self, kind: str) -> None:
        """Record one request sent on the wire."""
        self.total += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
