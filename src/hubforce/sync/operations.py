"""What the planner asks the engine to do, per record and per side.

Values in operations are canonical; the engine turns them into each side's wire format with
`hubforce.sync.mapping.to_wire` just before writing. A `RecordPlan` groups the operations of
one record pair with the snapshot to store once they succeed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from hubforce.sync.model import Conflict, FieldValues, Note, RecordRef, Side, Snapshot


class OperationKind(StrEnum):
    """The kinds of operation, as shown in a dry run and counted in run summaries."""

    CREATE = "create"
    UPDATE = "update"
    LINK = "link"
    DELETE = "delete"
    UNLINK = "unlink"


@dataclass(slots=True)
class Create:
    """Create a record on `target` from `source`; link them after the create succeeds.

    `object_type` is the target's type ("Lead", "Contact", "companies", ...). `assign` asks
    Salesforce to run its assignment rules (Sforce-Auto-Assign) for this create.
    """

    target: Side
    object_type: str
    source: RecordRef
    values: FieldValues
    assign: bool = False
    kind: OperationKind = OperationKind.CREATE


@dataclass(slots=True)
class Update:
    """Write only the fields in `values` to `target`; `previous` holds their old values."""

    target: RecordRef
    source: RecordRef
    values: FieldValues
    previous: FieldValues
    kind: OperationKind = OperationKind.UPDATE

    @property
    def blanked(self) -> tuple[str, ...]:
        """The fields this update clears."""
        return tuple(key for key, value in self.values.items() if value is None)


@dataclass(slots=True)
class LinkOnly:
    """Record a link (matched records already equal, or a snapshot refresh); no write."""

    hubspot: RecordRef
    salesforce: RecordRef
    kind: OperationKind = OperationKind.LINK


@dataclass(slots=True)
class Delete:
    """Archive (HubSpot) or delete (Salesforce) `target` because `source` was deleted."""

    target: RecordRef
    source: RecordRef
    kind: OperationKind = OperationKind.DELETE


@dataclass(slots=True)
class Unlink:
    """Forget the link between `hubspot` and `salesforce`; neither record is touched."""

    hubspot: RecordRef
    salesforce: RecordRef
    kind: OperationKind = OperationKind.UNLINK


Operation: TypeAlias = Create | Update | LinkOnly | Delete | Unlink


@dataclass(slots=True)
class RecordPlan:
    """The plan for one record (pair): operations, conflicts, and the snapshot afterwards.

    `hubspot`/`salesforce` are None on the side where the record does not exist yet (a create).
    `snapshot` is what each side holds once every operation succeeded; `previous` what the
    link held before (None for a new link). `skipped` explains a record that plans nothing
    on purpose (e.g. "excluded by the inclusion filter").
    """

    pair: str
    hubspot: RecordRef | None
    salesforce: RecordRef | None
    operations: list[Operation] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    snapshot: Snapshot | None = None
    previous: Snapshot | None = None
    skipped: str = ""

    def writes(self) -> list[Create | Update | Delete]:
        """The operations that call an API."""
        return [op for op in self.operations if isinstance(op, Create | Update | Delete)]

    def snapshot_after(self, failed: Collection[Side] = frozenset()) -> Snapshot | None:
        """The snapshot to store when the writes to the sides in `failed` were refused.

        Every field a refused update carried goes back, in BOTH images, to the previous
        snapshot (the last values both sides agreed on; absent when never synced). Reverting
        only the refused side's image would lose the update: the changed side already holds
        its new image, so when the record is read again (a retry, a later edit) neither side
        would differ from its image and nothing would be planned.
        """
        snapshot = self.snapshot
        if snapshot is None:
            return None
        refused = [op for op in self.operations if type(op) is Update and op.target.side in failed]
        if not refused:
            return snapshot
        previous = self.previous or Snapshot()
        hubspot = dict(snapshot.hubspot)
        salesforce = dict(snapshot.salesforce)
        for op in refused:
            for key in op.values:
                for image, old in ((hubspot, previous.hubspot), (salesforce, previous.salesforce)):
                    if key in old:
                        image[key] = old[key]
                    else:
                        image.pop(key, None)
        return Snapshot(hubspot=hubspot, salesforce=salesforce)


@dataclass(slots=True)
class Plan:
    """The planner's whole answer for one object pair and one batch of changes."""

    pair: str
    records: list[RecordPlan] = field(default_factory=list)

    def operations(self, side: Side | None = None) -> list[Operation]:
        """Every operation, or only those that write to `side` (links and unlinks have none)."""
        found: list[Operation] = []
        for record in self.records:
            for op in record.operations:
                if side is None or _target_side(op) is side:
                    found.append(op)
        return found

    def conflicts(self) -> list[Conflict]:
        """Every conflict and override, in record order."""
        return [conflict for record in self.records for conflict in record.conflicts]

    def blanks(self) -> list[tuple[RecordRef, str]]:
        """Every (record, field) an update would clear, for dry runs."""
        return [
            (op.target, key)
            for op in self.operations()
            if isinstance(op, Update)
            for key in op.blanked
        ]

    def counts(self) -> dict[tuple[str, str], int]:
        """How many operations per (kind, target side or "link")."""
        counts: dict[tuple[str, str], int] = {}
        for op in self.operations():
            side = _target_side(op)
            key = (str(op.kind), str(side) if side is not None else "link")
            counts[key] = counts.get(key, 0) + 1
        return counts


def _target_side(op: Operation) -> Side | None:
    if isinstance(op, Create):
        return op.target
    if isinstance(op, Update | Delete):
        return op.target.side
    return None
