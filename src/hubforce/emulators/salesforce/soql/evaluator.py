"""Run a compiled query: filter, order, slice, and render rows as the REST API and Bulk CSV do."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from hubforce.emulators.salesforce.soql import ast
from hubforce.emulators.salesforce.soql.compiler import (
    Getter,
    Predicate,
    Resolver,
    follow,
)
from hubforce.emulators.salesforce.soql.errors import MalformedQueryError, point_at
from hubforce.emulators.salesforce.soql.index import IndexSpan, TableIndexes
from hubforce.emulators.salesforce.soql.lookups import KeyTest, TableLookups
from hubforce.emulators.salesforce.soql.parser import parse_soql
from hubforce.emulators.salesforce.soql.scans import RowsFilter
from hubforce.emulators.salesforce.soql.schema import (
    Column,
    Hop,
    ParentFetch,
    Row,
    SchemaLookup,
    value_kind,
)


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY key compiled to a tuple-producing function.

    `plain_field` names a field of the row itself whose values sort as they are (no
    relationship, not text): sorts on such keys can use a C-level itemgetter.
    """

    key: Callable[[Row], tuple[int, Any]]
    descending: bool
    plain_field: str | None = None


@dataclass
class _Shape:
    """The nested output of a SELECT list: direct fields and parent objects, in query order."""

    fields: dict[str, Column | _Parent] = field(default_factory=dict)
    plain_names: tuple[str, ...] | None = None  # the field names when none is a parent


@dataclass
class _Parent:
    hop: Hop
    shape: _Shape


@dataclass
class CompiledQuery:
    """A query bound to the schema: what to read, keep, order and return."""

    sobject: str
    count: bool
    columns: list[Column]
    predicate: Predicate | None
    rows_filter: RowsFilter | None
    order: list[SortKey]
    limit: int | None
    offset: int
    fetch: ParentFetch
    shape: _Shape
    getters: list[Getter]
    range_tests: list[tuple[str, str, Any]] = field(default_factory=list)
    key_tests: list[KeyTest] = field(default_factory=list)

    def run(
        self,
        rows: Collection[Row],
        *,
        include_deleted: bool = False,
        indexes: TableIndexes | None = None,
        lookups: TableLookups | None = None,
    ) -> list[Row]:
        """The matching rows in result order, after OFFSET and LIMIT.

        With `lookups` (hash indexes over the same rows), a WHERE that ANDs a key test such as
        `Email IN (...)` or `Id IN (...)` only reads the rows holding those keys. With `indexes`
        (sorted indexes over the same rows), a range test on the first ORDER BY field reads only
        the rows in range, already in order, instead of scanning them all.
        """
        if lookups is not None and self.key_tests:
            candidates = lookups.candidates(self.key_tests)
            if candidates is not None:
                # Same filter, order and slice as a scan, over the (table-ordered) candidates.
                rows, indexes = candidates, None
        if indexes is not None:
            picked = self._run_indexed(indexes, include_deleted)
            if picked is not None:
                return picked
        # One pass over the rows: with 100,000 of them, touching each row costs the most.
        if self.rows_filter is not None:
            kept = self.rows_filter(rows, include_deleted)
        elif self.predicate is not None:
            pred = self.predicate
            if include_deleted:
                kept = [r for r in rows if pred(r)]
            else:
                kept = [r for r in rows if not r.get("IsDeleted") and pred(r)]
        else:
            kept = list(rows) if include_deleted else [r for r in rows if not r.get("IsDeleted")]
        end = None if self.limit is None else self.offset + self.limit
        kept = _ordered(kept, self.order, end)
        return kept[self.offset : end]

    def _run_indexed(self, indexes: TableIndexes, include_deleted: bool) -> list[Row] | None:
        """`run` through the index on the first ORDER BY field; None when it cannot help."""
        name = self.order[0].plain_field if self.order else None
        if name is None or self.rows_filter is None or self.count:
            return None
        low = high = None
        for test_field, op, k in self.range_tests:
            if test_field != name:
                continue
            # Bounds only narrow the candidates (inclusive): rows_filter applies the exact tests.
            if op in (">", ">="):
                low = k if low is None else max(low, k)
            else:
                high = k if high is None else min(high, k)
        if low is None and high is None:
            return None
        span = indexes.between(name, low, high)
        if span is None:
            return None
        end = None if self.limit is None else self.offset + self.limit
        if end == 0:
            return []
        if end is None:
            kept = self.rows_filter(span.rows(), include_deleted)
        else:
            kept = _leading(span, self.rows_filter, include_deleted, name, end, self.order[0])
        return _ordered(kept, self.order, end)[self.offset : end]

    def render(self, row: Row, version: str) -> dict[str, Any]:
        """One record as the REST query result shows it, parents nested with attributes."""
        names = self.shape.plain_names
        if names is None:
            return _render(row, self.sobject, self.shape, version, self.fetch)
        # No parent paths (the usual sync query): one dict, no per-field type tests.
        url = f"/services/data/v{version}/sobjects/{self.sobject}/{row.get('Id')}"
        out: dict[str, Any] = {"attributes": {"type": self.sobject, "url": url}}
        get = row.get
        for name in names:
            out[name] = get(name)
        return out

    def flat(self, row: Row) -> list[Any]:
        """One record as a list of values in SELECT order (for Bulk CSV)."""
        return [get(row) for get in self.getters]


def compile_query(
    text: str, lookup: SchemaLookup, fetch: ParentFetch, now: datetime
) -> CompiledQuery:
    """Parse and bind a SOQL statement; raises SoqlError subclasses with the API's messages."""
    query = parse_soql(text)
    resolver = Resolver(query, lookup, fetch, now)
    columns: list[Column] = []
    seen: set[str] = set()
    for path in query.fields:
        column = resolver.column(path)
        if column.header.lower() in seen:
            raise MalformedQueryError(
                point_at(
                    text,
                    path.pos.line,
                    path.pos.column,
                    f"duplicate field selected: {column.header}",
                )
            )
        seen.add(column.header.lower())
        columns.append(column)
    order = [_sort_key(resolver, key) for key in query.order_by]
    return CompiledQuery(
        sobject=resolver.root.name,
        count=query.count,
        columns=columns,
        predicate=resolver.predicate(query.where) if query.where is not None else None,
        rows_filter=resolver.rows_filter(query.where) if query.where is not None else None,
        order=order,
        limit=query.limit,
        offset=query.offset or 0,
        fetch=fetch,
        shape=_shape_of(columns),
        getters=[resolver.getter(c) for c in columns],
        range_tests=resolver.range_tests(query.where) if query.where is not None else [],
        key_tests=resolver.key_tests(query.where) if query.where is not None else [],
    )


def _sort_key(resolver: Resolver, item: ast.OrderKey) -> SortKey:
    column = resolver.column(item.field)
    get = resolver.getter(column)
    # Defaults as in the API: nulls first when ascending, last when descending.
    nulls_first = (not item.descending) if item.nulls_first is None else item.nulls_first
    # Keys are sorted in the key's direction, so "first" flips with DESC.
    null_rank = 0 if nulls_first != item.descending else 2
    null_key = (null_rank, 0)
    if value_kind(column.type) == "string":
        return SortKey(
            lambda row: null_key if (v := get(row)) is None else (1, v.casefold()),
            item.descending,
        )
    plain = None if column.hops else column.field
    return SortKey(
        lambda row: null_key if (v := get(row)) is None else (1, v),
        item.descending,
        plain,
    )


def _leading(
    span: IndexSpan,
    keep: RowsFilter,
    include_deleted: bool,
    name: str,
    count: int,
    first: SortKey,
) -> list[Row]:
    """The first `count` kept rows of the span in `first`'s direction, plus rows tying with the
    edge one: whatever the further ORDER BY keys, the result's rows are among these.

    The span is filtered a chunk at a time from the right end, so a LIMIT query over a wide
    range touches about `count` rows, not the whole range.
    """
    chunk = max(2 * count, 512)
    kept: list[Row] = []
    done = 0
    while done < len(span):
        if first.descending:
            stop = len(span) - done
            kept = keep(span.rows(max(0, stop - chunk), stop), include_deleted) + kept
        else:
            kept += keep(span.rows(done, done + chunk), include_deleted)
        done += chunk
        if len(kept) > count:
            edge = kept[-count] if first.descending else kept[count - 1]
            outer = kept[0] if first.descending else kept[-1]
            if outer[name] != edge[name]:
                break  # no row further out can tie with the edge row
    if len(kept) <= count:
        return kept
    if first.descending:
        cut = len(kept) - count
        edge_value = kept[cut][name]
        while cut > 0 and kept[cut - 1][name] == edge_value:
            cut -= 1
        return kept[cut:]
    stop = count
    edge_value = kept[stop - 1][name]
    while stop < len(kept) and kept[stop][name] == edge_value:
        stop += 1
    return kept[:stop]


def _ordered(rows: list[Row], order: list[SortKey], end: int | None) -> list[Row]:
    if not order:
        return rows
    top = end if end is not None and end < len(rows) // 4 else None
    if len({k.descending for k in order}) > 1:
        # Mixed directions: stable sorts from the last key to the first.
        result = list(rows)
        for sort_key in reversed(order):
            result.sort(key=sort_key.key, reverse=sort_key.descending)
        return result
    descending = order[0].descending
    plain = [k.plain_field for k in order if k.plain_field is not None]
    if len(plain) == len(order):
        try:
            # Optimistic: no nulls and every row has the fields, so a C-level itemgetter
            # (a tuple for several keys, e.g. SystemModstamp, Id) can be the sort key.
            return _sorted(rows, itemgetter(*plain), descending, top)
        except (TypeError, KeyError):
            pass  # a null cannot be compared: fall back to the null-aware keys
    keys = [k.key for k in order]
    key: Callable[[Row], Any] = (
        keys[0] if len(keys) == 1 else (lambda row: tuple(k(row) for k in keys))
    )
    return _sorted(rows, key, descending, top)


def _sorted(
    rows: list[Row], key: Callable[[Row], Any], descending: bool, top: int | None
) -> list[Row]:
    if top is not None:
        # Top-k selection is cheaper than a full sort for LIMIT queries.
        return (heapq.nlargest if descending else heapq.nsmallest)(top, rows, key=key)
    return sorted(rows, key=key, reverse=descending)


def _shape_of(columns: list[Column]) -> _Shape:
    root = _Shape()
    for column in columns:
        shape = root
        for hop in column.hops:
            node = shape.fields.get(hop.relationship)
            if not isinstance(node, _Parent):
                node = _Parent(hop, _Shape())
                shape.fields[hop.relationship] = node
            shape = node.shape
        shape.fields[column.field] = column
    if not any(isinstance(node, _Parent) for node in root.fields.values()):
        root.plain_names = tuple(root.fields)
    return root


def _render(
    row: Row, sobject: str, shape: _Shape, version: str, fetch: ParentFetch
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": {
            "type": sobject,
            "url": f"/services/data/v{version}/sobjects/{sobject}/{row.get('Id')}",
        }
    }
    for name, node in shape.fields.items():
        if isinstance(node, Column):
            out[name] = row.get(name)
            continue
        parent = follow(row, node.hop, fetch)
        if parent is None:
            out[name] = None
            continue
        parent_type = _parent_type(node.hop, parent, fetch)
        out[name] = _render(parent, parent_type, node.shape, version, fetch)
    return out


def _parent_type(hop: Hop, parent: Row, fetch: ParentFetch) -> str:
    if len(hop.targets) == 1:
        return hop.targets[0]
    parent_id = parent.get("Id")
    for target in hop.targets:
        if parent_id and fetch(target, parent_id) is parent:
            return target
    return hop.targets[0]
