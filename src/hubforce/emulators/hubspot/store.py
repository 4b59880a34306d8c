"""Per-object-type record storage: records, merged-id aliases, unique values, a modified index."""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass
class HistoryEntry:
    """One value a property held, with when and from where it was set."""

    value: str
    timestamp: int  # epoch ms
    source_type: str
    source_id: str | None = None


@dataclass
class Record:
    """One CRM object. Property values are stored as wire strings; blank values are absent."""

    id: int
    properties: dict[str, str]
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None
    history: dict[str, list[HistoryEntry]] = field(default_factory=dict)

    def to_state(self) -> dict[str, Any]:
        """JSON-ready form for state export."""
        return {
            "id": self.id,
            "properties": dict(self.properties),
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
            "archived": self.archived,
            "archived_ms": self.archived_ms,
            "history": {
                k: [[h.value, h.timestamp, h.source_type, h.source_id] for h in v]
                for k, v in self.history.items()
            },
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Record:
        """Inverse of `to_state`."""
        return cls(
            id=int(data["id"]),
            properties={str(k): str(v) for k, v in data["properties"].items()},
            created_ms=int(data["created_ms"]),
            updated_ms=int(data["updated_ms"]),
            archived=bool(data.get("archived", False)),
            archived_ms=data.get("archived_ms"),
            history={
                k: [HistoryEntry(str(h[0]), int(h[1]), str(h[2]), h[3]) for h in v]
                for k, v in data.get("history", {}).items()
            },
        )


class ModifiedIndex:
    """Live (not archived) record ids sorted by (modified ms, id): fast windowed sync searches."""

    def __init__(self) -> None:
        self.keys: list[tuple[int, int]] = []
        self._at: dict[int, int] = {}

    def put(self, record_id: int, modified_ms: int) -> None:
        """Insert or move `record_id` to `modified_ms`."""
        self.remove(record_id)
        key = (modified_ms, record_id)
        if not self.keys or self.keys[-1] < key:
            self.keys.append(key)  # the common case: the clock only moves forward
        else:
            bisect.insort(self.keys, key)
        self._at[record_id] = modified_ms

    def remove(self, record_id: int) -> None:
        """Drop `record_id` if indexed."""
        old = self._at.pop(record_id, None)
        if old is not None:
            pos = bisect.bisect_left(self.keys, (old, record_id))
            del self.keys[pos]

    def reindex(self) -> None:
        """Rebuild the id lookup after bulk appends to `keys` (which must then be sorted)."""
        self._at = {record_id: ms for ms, record_id in self.keys}

    def range(self, low: int | None, high: int | None) -> tuple[int, int]:
        """Positions [start, stop) of keys with low <= modified ms <= high."""
        start = 0 if low is None else bisect.bisect_left(self.keys, (low, -1))
        stop = len(self.keys) if high is None else bisect.bisect_right(self.keys, (high, 1 << 62))
        return start, max(start, stop)


class ObjectStore:
    """Records of one object type with their aliases and unique-value lookups."""

    def __init__(self, object_type: str, unique_properties: set[str]) -> None:
        self.object_type = object_type
        self.records: dict[int, Record] = {}
        self.aliases: dict[int, int] = {}  # merged-away id -> surviving id
        self.unique: dict[str, dict[str, int]] = {name: {} for name in unique_properties}
        self.modified = ModifiedIndex()
        # Search index lag: id -> the version search still sees (None: not indexed yet),
        # with when the latest write becomes searchable.
        self.lagged: dict[int, Record | None] = {}
        self._due: dict[int, int] = {}
        self._pending: deque[tuple[int, int]] = deque()

    def defer_index(self, before: Record | None, record_id: int, visible_at_ms: int) -> None:
        """Keep showing `before` (None: nothing) to search until `visible_at_ms`."""
        if record_id not in self.lagged:
            snapshot = None if before is None else replace(before, history={})
            self.lagged[record_id] = snapshot
        self._due[record_id] = visible_at_ms
        self._pending.append((visible_at_ms, record_id))

    def settle(self, now_ms: int) -> None:
        """Make every write older than the lag searchable."""
        while self._pending and self._pending[0][0] <= now_ms:
            _, record_id = self._pending.popleft()
            if self._due.get(record_id, now_ms + 1) <= now_ms:
                del self._due[record_id]
                self.lagged.pop(record_id, None)

    def searchable(self) -> list[Record]:
        """What search sees while some writes are still lagging: live records or snapshots."""
        seen: list[Record] = []
        for record in self.records.values():
            shown = self.lagged.get(record.id, record) if record.id in self.lagged else record
            if shown is not None and not shown.archived:
                seen.append(shown)
        return seen

    def resolve(self, record_id: int) -> Record | None:
        """The record for `record_id`, following merges."""
        seen = 0
        while record_id in self.aliases and seen < 1000:
            record_id = self.aliases[record_id]
            seen += 1
        return self.records.get(record_id)

    def add_unique(self, name: str) -> None:
        """Start keeping a value lookup for a (new) unique property."""
        table = self.unique.setdefault(name, {})
        for record in self.records.values():
            value = record.properties.get(name)
            if value:
                table[value.lower()] = record.id

    def find_unique(self, name: str, value: str) -> Record | None:
        """The live or archived record holding `value` in unique property `name`."""
        found = self.unique.get(name, {}).get(value.lower())
        return self.records.get(found) if found is not None else None

    def index(self, record: Record, old: dict[str, str] | None = None) -> None:
        """Refresh the unique lookups and the modified index for `record`."""
        for name, table in self.unique.items():
            before = (old or {}).get(name)
            after = record.properties.get(name)
            if before and before != after and table.get(before.lower()) == record.id:
                del table[before.lower()]
            if after:
                table[after.lower()] = record.id
        if record.archived:
            self.modified.remove(record.id)
        else:
            self.modified.put(record.id, record.updated_ms)

    def drop(self, record: Record) -> None:
        """Forget `record` entirely (merge loser, GDPR delete)."""
        for name, table in self.unique.items():
            value = record.properties.get(name)
            if value and table.get(value.lower()) == record.id:
                del table[value.lower()]
        self.modified.remove(record.id)
        self.records.pop(record.id, None)
