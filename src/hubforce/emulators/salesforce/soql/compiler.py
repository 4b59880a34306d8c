"""Resolve a parsed query against the schema and compile WHERE into Python closures.

Everything that depends only on the query (field names, literal conversion, LIKE patterns) is
done here, once; the closures then only read row values, so filtering 100,000 rows stays cheap.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hubforce.emulators.salesforce.soql import ast
from hubforce.emulators.salesforce.soql.errors import (
    InvalidFieldError,
    InvalidFilterError,
    InvalidTypeError,
    MalformedQueryError,
    point_at,
)
from hubforce.emulators.salesforce.soql.literals import (
    LiteralError,
    date_literal,
    datetime_literal,
    like_regex,
    range_as_datetimes,
    relative_range,
    unescape_string,
)
from hubforce.emulators.salesforce.soql.lookups import KeyTest
from hubforce.emulators.salesforce.soql.scans import RowsFilter, range_rows_filter
from hubforce.emulators.salesforce.soql.schema import (
    Column,
    Hop,
    ObjectLike,
    ParentFetch,
    Row,
    SchemaLookup,
    value_kind,
)

Getter = Callable[[Row], Any]
Predicate = Callable[[Row], bool]

_NO_SUCH_COLUMN = (
    "No such column '{name}' on entity '{entity}'. If you are attempting to use a custom field, be "
    "sure to append the '__c' after the custom field name. Please reference your WSDL or the "
    "describe call for the appropriate names."
)
_NO_SUCH_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a custom "
    "relationship, be sure to append the '__r' after the custom relationship name. Please "
    "reference your WSDL or the describe call for the appropriate names."
)
_NO_SUCH_TYPE = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure "
    "to append the '__c' after the entity name. Please reference your WSDL or the describe call "
    "for the appropriate names."
)
_TYPE_WORDS = {
    "datetime": "dateTime",
    "date": "date",
    "boolean": "boolean",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "int": "integer",
    "id": "id",
    "reference": "id",
}
_RANGE_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_DIRECT_RANGE: dict[str, Callable[[str, Any], Callable[[Row], bool]]] = {
    "<": lambda name, k: lambda row: (v := row.get(name)) is not None and v < k,
    "<=": lambda name, k: lambda row: (v := row.get(name)) is not None and v <= k,
    ">": lambda name, k: lambda row: (v := row.get(name)) is not None and v > k,
    ">=": lambda name, k: lambda row: (v := row.get(name)) is not None and v >= k,
}
COMPARE_KEYS: dict[str, Callable[[Any], Any]] = {
    "string": str.casefold,  # SOQL compares text case-insensitively
    "id": lambda v: v[:15],  # a 15-character id equals its 18-character form
}


@dataclass(frozen=True)
class Bounds:
    """A relative date literal as the half-open range [start, end) of stored values."""

    start: str
    end: str


class Resolver:
    """Binds one query to the org's schema and records."""

    def __init__(self, query: ast.Query, lookup: SchemaLookup, fetch: ParentFetch, now: datetime):
        self.query = query
        self.lookup = lookup
        self.fetch = fetch
        self.now = now
        root = lookup(query.sobject)
        if root is None:
            raise InvalidTypeError(
                self._at(query.sobject_pos, _NO_SUCH_TYPE.format(name=query.sobject))
            )
        self.root: ObjectLike = root
        # Converted IN lists by id() of their node (the query, holding the nodes, outlives us).
        self._lists: dict[int, list[Any]] = {}

    def _at(self, pos: ast.Position, text: str) -> str:
        return point_at(self.query.text, pos.line, pos.column, text)

    def column(self, path: ast.FieldPath) -> Column:
        """Resolve a dotted path to canonical relationship and field names."""
        parts = list(path.parts)
        if (
            len(parts) > 1
            and parts[0].lower() == self.root.name.lower()
            and not self.root.relationship(parts[0])
        ):
            parts = parts[1:]  # `Lead.Email` in a query FROM Lead means `Email`
        obj, hops = self.root, []
        for part in parts[:-1]:
            ref = obj.relationship(part)
            target = self.lookup(ref.reference_to[0]) if ref and ref.reference_to else None
            if ref is None or target is None or not ref.relationship_name:
                raise InvalidFieldError(self._at(path.pos, _NO_SUCH_RELATIONSHIP.format(name=part)))
            hops.append(Hop(ref.relationship_name, ref.name, tuple(ref.reference_to)))
            obj = target
        found = obj.find_field(parts[-1])
        if found is None:
            raise InvalidFieldError(
                self._at(path.pos, _NO_SUCH_COLUMN.format(name=parts[-1], entity=obj.name))
            )
        return Column(tuple(hops), found.name, found.type)

    def getter(self, column: Column) -> Getter:
        """A function reading the column's value from a row, following parents as needed."""
        name = column.field
        if not column.hops:
            return lambda row: row.get(name)
        hops = column.hops
        fetch = self.fetch

        def get(row: Row) -> Any:
            current: Row | None = row
            for hop in hops:
                current = follow(current, hop, fetch)
                if current is None:
                    return None
            return current.get(name) if current is not None else None

        return get

    def predicate(self, cond: ast.Condition) -> Predicate:
        """Compile a WHERE condition into a closure over one row."""
        if isinstance(cond, ast.And):
            parts = [self.predicate(c) for c in cond.operands]
            return lambda row: all(p(row) for p in parts)
        if isinstance(cond, ast.Or):
            parts = [self.predicate(c) for c in cond.operands]
            return lambda row: any(p(row) for p in parts)
        if isinstance(cond, ast.Not):
            inner = self.predicate(cond.operand)
            return lambda row: not inner(row)
        column = self.column(cond.field)
        if isinstance(cond, ast.InList):
            return self._in_list(column, cond)
        if cond.op == "LIKE":
            return self._like(column, cond)
        return self._compare(column, cond.op, self.literal(column, cond.field, cond.value))

    def rows_filter(self, cond: ast.Condition) -> RowsFilter | None:
        """A whole-list filter led by range tests on plain dateTime/date/number fields.

        This is the incremental-sync shape (`SystemModstamp >= X AND ...`): each range test is
        one list comprehension with no Python call per row, and any other ANDed conditions
        then run as closures on the (usually few) rows left. None when no range test leads.
        """
        operands = cond.operands if isinstance(cond, ast.And) else (cond,)
        scans = [self._range_scan(c) for c in operands]
        fast = [scan for scan in scans if scan is not None]
        if not fast:
            return None
        slow = [self.predicate(c) for c, scan in zip(operands, scans, strict=True) if scan is None]
        first, *rest = fast

        def chained(rows: Collection[Row], include_deleted: bool) -> list[Row]:
            kept = first(rows, include_deleted)
            for step in rest:
                kept = step(kept, True)
            if slow:
                kept = [r for r in kept if all(p(r) for p in slow)]
            return kept

        return chained

    def range_tests(self, cond: ast.Condition) -> list[tuple[str, str, Any]]:
        """The (field, op, literal) range tests ANDed at the top of `cond` (for an index)."""
        operands = cond.operands if isinstance(cond, ast.And) else (cond,)
        return [test for c in operands if (test := self._range_test(c)) is not None]

    def key_tests(self, cond: ast.Condition) -> list[KeyTest]:
        """The `field = k` / `field IN (...)` tests on plain text or id fields ANDed at the top
        of `cond`, keyed as the predicate compares (for a hash lookup of candidate rows)."""
        tests: list[KeyTest] = []
        pending = [cond]
        while pending:
            current = pending.pop()
            if isinstance(current, ast.And):
                pending.extend(current.operands)  # `(a AND b) AND c` is still an AND of all three
            elif (test := self._key_test(current)) is not None:
                tests.append(test)
        return tests

    def _key_test(self, cond: ast.Condition) -> KeyTest | None:
        if isinstance(cond, ast.Comparison) and cond.op == "=":
            values: tuple[ast.Value, ...] = (cond.value,)
        elif isinstance(cond, ast.InList) and not cond.negated:
            values = cond.values
        else:
            return None
        column = self.column(cond.field)
        kind = value_kind(column.type)
        if column.hops or kind not in ("string", "id"):
            return None
        if isinstance(cond, ast.InList):
            lits = self._list_literals(column, cond)
        else:
            lits = [self.literal(column, cond.field, v) for v in values]
        if any(lit is None for lit in lits):
            return None  # `= null` matches the blank rows, which the index leaves out
        key = COMPARE_KEYS[kind]
        return KeyTest(column.field, kind, frozenset(key(lit) for lit in lits))

    def _range_test(self, cond: ast.Condition) -> tuple[str, str, Any] | None:
        if not isinstance(cond, ast.Comparison) or cond.op not in _RANGE_OPS:
            return None
        column = self.column(cond.field)
        if column.hops or value_kind(column.type) not in ("datetime", "date", "number"):
            return None
        lit = self.literal(column, cond.field, cond.value)
        if lit is None or isinstance(lit, Bounds):
            return None
        return column.field, cond.op, lit

    def _range_scan(self, cond: ast.Condition) -> RowsFilter | None:
        test = self._range_test(cond)
        return None if test is None else range_rows_filter(*test)

    def _compare(self, column: Column, op: str, lit: Any) -> Predicate:
        get = self.getter(column)
        if isinstance(lit, Bounds):
            return _range_predicate(get, op, lit)
        if lit is None:
            if op in ("=", "!="):
                wanted = op == "="
                return lambda row: (get(row) is None) == wanted
            return lambda row: False
        key = COMPARE_KEYS.get(value_kind(column.type))
        k = key(lit) if key else lit
        if op in ("=", "!="):
            wanted = op == "="
            if key is None:
                return lambda row: (get(row) == k) == wanted
            return lambda row: ((v := get(row)) is not None and key(v) == k) == wanted
        if key is None and not column.hops:
            # The hot path of incremental sync (`SystemModstamp > X`): one call per row.
            return _DIRECT_RANGE[op](column.field, k)
        fn = _RANGE_OPS[op]
        if key is None:
            return lambda row: (v := get(row)) is not None and fn(v, k)
        return lambda row: (v := get(row)) is not None and fn(key(v), k)

    def _in_list(self, column: Column, cond: ast.InList) -> Predicate:
        lits = self._list_literals(column, cond)
        if any(isinstance(lit, Bounds) for lit in lits):
            parts = [self._compare(column, "=", lit) for lit in lits]
            matches: Predicate = lambda row: any(p(row) for p in parts)  # noqa: E731
        else:
            get = self.getter(column)
            key = COMPARE_KEYS.get(value_kind(column.type)) or (lambda v: v)
            wanted = {None if lit is None else key(lit) for lit in lits}
            matches = lambda row: (None if (v := get(row)) is None else key(v)) in wanted  # noqa: E731
        if cond.negated:
            return lambda row: not matches(row)
        return matches

    def _list_literals(self, column: Column, cond: ast.InList) -> list[Any]:
        """The list's values converted once per query (the predicate and the key test share)."""
        lits = self._lists.get(id(cond))
        if lits is None:
            lits = [self.literal(column, cond.field, v) for v in cond.values]
            self._lists[id(cond)] = lits
        return lits

    def _like(self, column: Column, cond: ast.Comparison) -> Predicate:
        if value_kind(column.type) not in ("string", "id"):
            raise InvalidFieldError(
                self._at(
                    cond.field.pos,
                    f"invalid operator on field: {column.field}. LIKE is only valid on text fields",
                )
            )
        if not isinstance(cond.value, ast.StringLit):
            raise InvalidFieldError(self._type_message(column, cond.field, cond.value, quoted=True))
        try:
            pattern = like_regex(unescape_string(cond.value.raw, for_like=True))
        except LiteralError as exc:
            raise MalformedQueryError(self._at(cond.value.pos, str(exc))) from None
        get = self.getter(column)
        match = pattern.fullmatch
        return lambda row: (v := get(row)) is not None and match(v) is not None

    def literal(self, column: Column, path: ast.FieldPath, value: ast.Value) -> Any:
        """Convert a literal to the stored form of the column's type, or raise like the API."""
        if isinstance(value, ast.NullLit):
            return None
        kind = value_kind(column.type)
        try:
            match kind, value:
                case "string", ast.StringLit():
                    return unescape_string(value.raw)
                case "id", ast.StringLit():
                    text = unescape_string(value.raw)
                    if len(text) not in (15, 18) or not text.isalnum():
                        raise InvalidFilterError(self._at(value.pos, f"invalid ID field: {text}"))
                    return text
                case "number", ast.NumberLit():
                    return value.value
                case "boolean", ast.BoolLit():
                    return value.value
                case "datetime", ast.DateTimeLit():
                    return datetime_literal(value.text)
                case "date", ast.DateLit():
                    return date_literal(value.text)
                case "datetime" | "date", ast.RelativeDate():
                    days = relative_range(value.name, value.n, self.now)
                    if kind == "date":
                        return Bounds(days[0].isoformat(), days[1].isoformat())
                    return Bounds(*range_as_datetimes(days))
        except LiteralError as exc:
            raise MalformedQueryError(self._at(value.pos, str(exc))) from None
        raise InvalidFieldError(
            self._type_message(column, path, value, quoted=kind in ("string", "id"))
        )

    def _type_message(
        self, column: Column, path: ast.FieldPath, value: ast.Value, *, quoted: bool
    ) -> str:
        word = _TYPE_WORDS.get(column.type, "string")
        quotes = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        text = (
            f"value of filter criterion for field '{column.field}' "
            f"must be of type {word} and {quotes}"
        )
        return self._at(value.pos, text)


def follow(row: Row | None, hop: Hop, fetch: ParentFetch) -> Row | None:
    """The parent record a reference field points at, trying each possible target type."""
    if row is None:
        return None
    parent_id = row.get(hop.ref_field)
    if not parent_id:
        return None
    for target in hop.targets:
        parent = fetch(target, parent_id)
        if parent is not None:
            return parent
    return None


def _range_predicate(get: Getter, op: str, bounds: Bounds) -> Predicate:
    start, end = bounds.start, bounds.end
    tests: dict[str, Callable[[Any], bool]] = {
        "=": lambda v: start <= v < end,
        "!=": lambda v: not start <= v < end,
        "<": lambda v: v < start,
        "<=": lambda v: v < end,
        ">": lambda v: v >= end,
        ">=": lambda v: v >= start,
    }
    test = tests[op]
    if op == "!=":
        return lambda row: (v := get(row)) is None or test(v)
    return lambda row: (v := get(row)) is not None and test(v)
