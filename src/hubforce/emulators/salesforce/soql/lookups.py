"""Key lookups: the candidate rows of a WHERE that ANDs `Id = / IN` or `<text field> = / IN`.

The sync engine asks `... WHERE Email IN (200 values) AND IsConverted = false` and
`... WHERE Id IN (2,000 ids)` of tables with tens of thousands of rows; a scan calls the
compiled predicate on every row. `TableLookups` picks the rows that can match one such key
condition straight away, through a hash index on the field built on first use and keyed exactly
as the compiled predicate compares values (case-folded text, the first 15 characters of an id,
`Id` included: reading `row["Id"][:15]` rather than trusting the table's keys keeps it exact
for any table). The caller then applies the query's full WHERE to those candidates.

Candidates come back in table insertion order, as a scan would meet them. The table's owner
calls `sync(id)` after each write (or `invalidate()` after bulk changes), as for `TableIndexes`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hubforce.emulators.salesforce.soql.index import TablePositions
from hubforce.emulators.salesforce.soql.schema import Row

KeyFn = Callable[[Any], Any]

# Below this many candidates the lookup is used even on a small table; above it, only when the
# candidates are at most a quarter of the table (otherwise the old scan / range paths are no
# slower and already well tuned, e.g. `Status = 'Open' AND SystemModstamp > X ORDER BY ...`).
FEW = 64


@dataclass(frozen=True)
class KeyTest:
    """A top-level ANDed `field = k` / `field IN (k, ...)`, keys as the predicate compares them."""

    field: str
    kind: str  # "string" or "id" (`value_kind`)
    keys: frozenset[Any]


class _KeyIndex:
    """Ids by the key of one field's value (rows whose value is null are left out)."""

    def __init__(self, key: KeyFn) -> None:
        self.key = key
        self.buckets: dict[Any, set[str]] = {}
        self.keyed: dict[str, Any] = {}  # id -> the key it is filed under

    def file(self, record_id: str, row: Row | None, name: str) -> None:
        """File the row under its current key (removing its old one); raises on a bad value."""
        value = None if row is None else row.get(name)
        new = None if value is None else self.key(value)
        old = self.keyed.get(record_id)
        if old is not None:
            if old == new:
                return
            bucket = self.buckets[old]
            bucket.discard(record_id)
            if not bucket:
                del self.buckets[old]
            del self.keyed[record_id]
        if new is not None:
            self.buckets.setdefault(new, set()).add(record_id)
            self.keyed[record_id] = new


class TableLookups:
    """Hash indexes over one table (`id -> row`, insertion-ordered) for key-lookup queries."""

    def __init__(self, table: Mapping[str, Row], keys: Mapping[str, KeyFn]) -> None:
        self.table = table
        self._keys = keys  # value kind -> the key function the compiled predicate compares by
        self._positions: TablePositions | None = None  # None: not built yet
        self._indexes: dict[tuple[str, str], _KeyIndex] = {}
        self._unindexable: set[tuple[str, str]] = set()  # fields holding values the key rejects

    def invalidate(self) -> None:
        """Rows changed without `sync`: rebuild positions and indexes when next queried."""
        self._positions = None
        self._indexes.clear()
        self._unindexable.clear()

    def sync(self, record_id: str) -> None:
        """Bring positions and indexes up to date after one row was written, added or removed."""
        if self._positions is None:
            return  # nothing built yet: the first query builds from the table as it is then
        row = self.table.get(record_id)
        self._positions.track(record_id, row is not None)
        for (name, kind), index in list(self._indexes.items()):
            try:
                index.file(record_id, row, name)
            except (TypeError, AttributeError):
                del self._indexes[(name, kind)]  # a value the key cannot read: scan instead

    def candidates(self, tests: Sequence[KeyTest]) -> list[Row] | None:
        """The rows that may pass the narrowest test, in table order; None: scan instead."""
        table = self.table
        positions = self._positions
        if positions is None or len(positions) != len(table):
            # Never built, or rows were added or dropped without `sync`: start again.
            self.invalidate()
            positions = self._positions = TablePositions()
            positions.number(table)
        best: set[str] | None = None
        for test in tests:
            ids = self._ids(test)
            if ids is not None and (best is None or len(ids) < len(best)):
                best = ids
        if best is None or len(best) > max(FEW, len(table) // 4):
            return None
        try:
            if 8 * len(best) < len(table):
                return [table[rid] for rid in sorted(best, key=positions.of.__getitem__)]
            # Many candidates: one pass in table order beats sorting them by position.
            return [row for rid, row in table.items() if rid in best]
        except KeyError:
            self.invalidate()  # an id the table no longer has: indexes out of step, rebuild
            return None

    def _ids(self, test: KeyTest) -> set[str] | None:
        """Ids of the rows whose `test.field` has one of the keys; None when not indexable."""
        index = self._index(test.field, test.kind)
        if index is None:
            return None
        buckets = index.buckets
        found: set[str] = set()
        for k in test.keys:
            bucket = buckets.get(k)
            if bucket:
                found |= bucket
        return found

    def _index(self, name: str, kind: str) -> _KeyIndex | None:
        index = self._indexes.get((name, kind))
        if index is not None:
            return index
        key = self._keys.get(kind)
        if key is None or (name, kind) in self._unindexable:
            return None
        index = _KeyIndex(key)
        try:
            for rid, row in self.table.items():
                index.file(rid, row, name)
        except (TypeError, AttributeError):
            self._unindexable.add((name, kind))  # the scan reads such values its own way
            return None
        self._indexes[(name, kind)] = index
        return index
