"""Sorted indexes on a table's dateTime fields, for range queries ordered by the same field.

The incremental-sync query (`WHERE SystemModstamp > X ORDER BY SystemModstamp LIMIT 2000`)
would otherwise scan and sort every row. An index keeps `(value, seq, row)` entries sorted,
where `seq` is the row's position in its table's insertion order, so equal values come out in
the order a stable sort of the table would give them. The table's owner calls `sync(id)` after
each write (or `invalidate()` after bulk changes: the index is then rebuilt on its next use).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping, Sequence
from typing import Any

from hubforce.emulators.salesforce.soql.schema import Row

_Entry = tuple[Any, int, Row]
_AFTER_ALL = float("inf")  # a seq above every real one: (k, inf) sorts after every (k, seq, row)


class TablePositions:
    """Each row's position in its table's insertion order, kept as rows come and go."""

    def __init__(self) -> None:
        self.of: dict[str, int] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self.of)

    def number(self, table: Mapping[str, Row]) -> None:
        """Number every row of `table` afresh, in its order."""
        self.of = {rid: n for n, rid in enumerate(table)}
        self._next = len(self.of)

    def track(self, record_id: str, present: bool) -> None:
        """One row was added (numbered after every other), kept, or removed."""
        if not present:
            self.of.pop(record_id, None)
        elif record_id not in self.of:
            self.of[record_id] = self._next
            self._next += 1


class TableIndexes:
    """Sorted indexes on some fields of one table (`id -> row`, insertion-ordered)."""

    def __init__(self, table: Mapping[str, Row], fields: Sequence[str]) -> None:
        self.table = table
        self.fields = tuple(fields)
        self._entries: dict[str, list[_Entry]] = {}
        self._indexed: dict[str, dict[str, _Entry]] = {}  # field -> id -> its current entry
        self._positions = TablePositions()
        self._live: set[str] = set()  # fields whose entries are up to date (built on first use)

    def invalidate(self) -> None:
        """Rows changed without `sync`: rebuild each field's entries when next queried."""
        self._live.clear()

    def sync(self, record_id: str) -> None:
        """Bring the entries of one row up to date after it was written, added or removed."""
        if not self._live:
            return
        row = self.table.get(record_id)
        self._positions.track(record_id, row is not None)
        try:
            for name in self._live:
                self._move(name, record_id, row)
        except TypeError:
            self._live.clear()  # a value that does not compare with the others: rebuild later

    def _move(self, name: str, record_id: str, row: Row | None) -> None:
        entries, indexed = self._entries[name], self._indexed[name]
        old = indexed.get(record_id)
        value = None if row is None else row.get(name)
        if old is not None:
            if value == old[0] and row is old[2]:
                return
            del entries[bisect_left(entries, old[:2])]
            del indexed[record_id]
        if value is not None and row is not None:
            entry = (value, self._positions.of[record_id], row)
            insort(entries, entry)
            indexed[record_id] = entry

    def between(self, name: str, low: Any, high: Any) -> IndexSpan | None:
        """Rows whose `name` lies in [low, high] (None: open end), by (value, insertion order).

        None when `name` is not indexed or holds values that do not compare with the bounds.
        """
        if name not in self.fields:
            return None
        try:
            if name not in self._live:
                self._rebuild(name)
            entries = self._entries[name]
            start = 0 if low is None else bisect_left(entries, (low,))
            end = len(entries) if high is None else bisect_right(entries, (high, _AFTER_ALL))
        except TypeError:
            self._live.clear()  # mixed value types: let the caller scan instead
            return None
        return IndexSpan(entries, start, end)

    def _rebuild(self, name: str) -> None:
        if not self._live:  # numbering shared by the live fields must not change under them
            self._positions.number(self.table)
        seq = self._positions.of
        indexed = {
            rid: (value, seq[rid], row)
            for rid, row in self.table.items()
            if (value := row.get(name)) is not None
        }
        self._entries[name] = sorted(indexed.values())
        self._indexed[name] = indexed
        self._live.add(name)


class IndexSpan:
    """A run of index entries, read whole or a slice at a time (rows, in index order)."""

    def __init__(self, entries: list[_Entry], start: int, end: int) -> None:
        self._entries, self.start, self.end = entries, start, end

    def __len__(self) -> int:
        return self.end - self.start

    def rows(self, begin: int = 0, stop: int | None = None) -> list[Row]:
        """Rows `begin..stop` of the span (positions relative to its start)."""
        last = self.end if stop is None else min(self.end, self.start + stop)
        return [entry[2] for entry in self._entries[self.start + begin : last]]
