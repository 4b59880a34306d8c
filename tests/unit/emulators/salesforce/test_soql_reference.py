"""Property test: the compiled evaluator agrees with a slow, obviously correct reference.

Random records and random WHERE / ORDER BY / LIMIT / OFFSET are rendered to SOQL text, run
through the real parser, compiler and evaluator, and compared with a direct interpretation of
the same generated structure written with none of the evaluator's shortcuts. Range-shaped
queries also run through sorted indexes (`TableIndexes`), kept up to date by `sync` across
random writes, and must give the same rows in the same order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubforce.emulators.salesforce.soql.index import TableIndexes
from tests.unit.emulators.salesforce.soql_fakes import FakeOrg

INDEXED = ["SystemModstamp", "Score"]

NAMES = ["ann", "Ann", "bob", "b%b", "o'neil", "zed", "", "Åsa"]
STAMPS = [f"2024-01-0{d}T{h:02d}:00:00.000+0000" for d in range(1, 4) for h in (0, 12)]


@dataclass(frozen=True)
class Cmp:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class InSet:
    field: str
    values: tuple[Any, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    field: str
    pattern: str


@dataclass(frozen=True)
class Logic:
    kind: str  # "AND" | "OR" | "NOT"
    parts: tuple[Any, ...]


def values_for(field: str) -> st.SearchStrategy[Any]:
    base: st.SearchStrategy[Any] = {
        "Name": st.sampled_from(NAMES),
        "Score": st.integers(-3, 3),
        "Active": st.booleans(),
        "SystemModstamp": st.sampled_from(STAMPS),
    }[field]
    return st.one_of(st.none(), base)


FIELDS = ["Name", "Score", "Active", "SystemModstamp"]

comparisons = st.sampled_from(FIELDS).flatmap(
    lambda f: st.builds(
        Cmp,
        st.just(f),
        st.sampled_from(["=", "!="] if f == "Active" else ["=", "!=", "<", "<=", ">", ">="]),
        values_for(f),
    )
)
in_sets = st.sampled_from(["Name", "Score"]).flatmap(
    lambda f: st.builds(
        InSet, st.just(f), st.lists(values_for(f), min_size=1, max_size=3).map(tuple), st.booleans()
    )
)
likes = st.builds(Like, st.just("Name"), st.text(alphabet="ab%_'N", min_size=0, max_size=4))
leaves = st.one_of(comparisons, in_sets, likes)
conditions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(
            Logic,
            st.sampled_from(["AND", "OR"]),
            st.lists(inner, min_size=2, max_size=3).map(tuple),
        ),
        st.builds(Logic, st.just("NOT"), st.tuples(inner)),
    ),
    max_leaves=6,
)
order_keys = st.lists(
    st.tuples(
        st.sampled_from([*FIELDS, "Id"]), st.booleans(), st.sampled_from([None, True, False])
    ),
    max_size=3,
    unique_by=lambda k: k[0],
)
records = st.lists(
    st.fixed_dictionaries({f: values_for(f) for f in FIELDS} | {"IsDeleted": st.booleans()}),
    max_size=25,
)


def literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.endswith("+0000"):
        return value[:19] + "Z"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def soql(cond: Any) -> str:
    if isinstance(cond, Cmp):
        return f"{cond.field} {cond.op} {literal(cond.value)}"
    if isinstance(cond, InSet):
        keyword = "NOT IN" if cond.negated else "IN"
        return f"{cond.field} {keyword} ({', '.join(literal(v) for v in cond.values)})"
    if isinstance(cond, Like):
        return f"{cond.field} LIKE {literal(cond.pattern)}"
    if cond.kind == "NOT":
        return f"NOT ({soql(cond.parts[0])})"
    return "(" + f" {cond.kind} ".join(soql(p) for p in cond.parts) + ")"


def norm(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) and not value.endswith("+0000") else value


def like_matches(text: str, pattern: str) -> bool:
    # Plain recursive matcher: '%' any run, '_' one character, everything else literal.
    if not pattern:
        return not text
    head = pattern[0]
    if head == "%":
        return any(like_matches(text[i:], pattern[1:]) for i in range(len(text) + 1))
    if not text:
        return False
    if head == "_" or head.casefold() == text[0].casefold():
        return like_matches(text[1:], pattern[1:])
    return False


def holds(cond: Any, row: dict[str, Any]) -> bool:
    if isinstance(cond, Cmp):
        value, wanted = row[cond.field], cond.value
        if cond.op == "=":
            return bool(norm(value) == norm(wanted))
        if cond.op == "!=":
            return bool(norm(value) != norm(wanted))
        if value is None or wanted is None:
            return False
        a, b = norm(value), norm(wanted)
        return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[cond.op])
    if isinstance(cond, InSet):
        found = any(norm(row[cond.field]) == norm(v) for v in cond.values)
        return found != cond.negated
    if isinstance(cond, Like):
        return row[cond.field] is not None and like_matches(row[cond.field], cond.pattern)
    if cond.kind == "NOT":
        return not holds(cond.parts[0], row)
    results = [holds(p, row) for p in cond.parts]
    return all(results) if cond.kind == "AND" else any(results)


def compare_rows(
    keys: list[tuple[str, bool, bool | None]], a: dict[str, Any], b: dict[str, Any]
) -> int:
    for field, descending, nulls_first in keys:
        first = (not descending) if nulls_first is None else nulls_first
        x, y = a[field], b[field]
        if x is None and y is None:
            continue
        if x is None or y is None:
            return (-1 if x is None else 1) * (1 if first else -1)
        x, y = norm(x), norm(y)
        if x != y:
            return (-1 if x < y else 1) * (-1 if descending else 1)
    return 0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=records,
    where=st.one_of(st.none(), conditions),
    order=order_keys,
    limit=st.one_of(st.none(), st.integers(0, 30)),
    offset=st.one_of(st.none(), st.integers(0, 10)),
    include_deleted=st.booleans(),
)
def test_evaluator_matches_reference(
    rows: list[dict[str, Any]],
    where: Any,
    order: list[tuple[str, bool, bool | None]],
    limit: int | None,
    offset: int | None,
    include_deleted: bool,
) -> None:
    check(rows, where, order, limit, offset, include_deleted)


# The incremental-sync shape (range tests on dateTime/number fields, ANDed) takes a separate
# whole-list fast path in the evaluator, so it gets its own, denser stream of examples.
range_tests = st.sampled_from(["Score", "SystemModstamp"]).flatmap(
    lambda f: st.builds(
        Cmp, st.just(f), st.sampled_from(["<", "<=", ">", ">="]), values_for(f).filter(bool)
    )
)
sync_shaped = st.one_of(
    range_tests,
    # At least one range test, ANDed with range tests or any other leaf, in any order.
    st.tuples(range_tests, st.lists(st.one_of(range_tests, leaves), min_size=1, max_size=2))
    .flatmap(lambda parts: st.permutations([parts[0], *parts[1]]))
    .map(lambda parts: Logic("AND", tuple(parts))),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=records,
    where=sync_shaped,
    order=order_keys,
    limit=st.one_of(st.none(), st.integers(1, 30)),
    include_deleted=st.booleans(),
)
def test_range_fast_path_matches_reference(
    rows: list[dict[str, Any]],
    where: Any,
    order: list[tuple[str, bool, bool | None]],
    limit: int | None,
    include_deleted: bool,
) -> None:
    check(rows, where, order, limit, None, include_deleted, indexed=True)


# Writes between index builds and queries: (position, new stamp or None to drop the row).
writes = st.lists(
    st.tuples(st.integers(0, 40), st.one_of(st.none(), st.sampled_from(STAMPS))), max_size=12
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=records,
    edits=writes,
    where=sync_shaped,
    order=order_keys,
    limit=st.one_of(st.none(), st.integers(1, 30)),
    include_deleted=st.booleans(),
)
def test_index_kept_by_sync_matches_reference(
    rows: list[dict[str, Any]],
    edits: list[tuple[int, str | None]],
    where: Any,
    order: list[tuple[str, bool, bool | None]],
    limit: int | None,
    include_deleted: bool,
) -> None:
    org = FakeOrg()
    for i, row in enumerate(rows):
        org.add("Lead", Id=f"00Q{i:012d}AAA", **row)
    table = org.records["Lead"]
    indexes = TableIndexes(table, INDEXED)
    indexes.between("SystemModstamp", None, None)  # build now, so the edits go through sync
    for n, (position, stamp) in enumerate(edits):
        rid = f"00Q{position:012d}AAA"
        if stamp is None:
            table.pop(rid, None)  # a rolled-back create
        elif rid in table and n % 2:
            table[rid]["SystemModstamp"] = stamp  # touched in place
        else:  # replaced by a new row (an update), or a new row appended
            old = table.get(rid, {"Name": "new", "Score": n % 3, "Active": True})
            table[rid] = {**old, "Id": rid, "IsDeleted": False, "SystemModstamp": stamp}
        indexes.sync(rid)
    check_table(org, where, order, limit, None, include_deleted, indexes)


def test_index_serves_the_sync_query_without_a_scan() -> None:
    org = FakeOrg()
    for i in range(50):
        org.add("Lead", Id=f"00Q{i:012d}AAA", IsDeleted=False, SystemModstamp=STAMPS[i % 6])
    indexes = TableIndexes(org.records["Lead"], INDEXED)
    compiled = org.compile(
        f"SELECT Id FROM Lead WHERE SystemModstamp > {literal(STAMPS[3])} "
        "ORDER BY SystemModstamp DESC LIMIT 5"
    )
    # An empty row list: only the index can supply the answer.
    picked = compiled.run([], indexes=indexes)
    expected = [f"00Q{i:012d}AAA" for i in (5, 11, 17, 23, 29)]
    assert [r["Id"] for r in picked] == expected
    assert compiled.run([], indexes=TableIndexes(org.records["Lead"], ["Score"])) == []


@pytest.mark.parametrize(
    "order",
    [
        "SystemModstamp ASC, Name ASC",
        "SystemModstamp DESC, Name ASC",
        "SystemModstamp ASC, Name DESC",
        "SystemModstamp DESC",
    ],
)
@pytest.mark.parametrize("limit", [1, 3, 40, 65, 132, 150, 700])
def test_index_matches_a_scan_across_chunks_and_ties(order: str, limit: int) -> None:
    # 1,500 rows over 6 stamps (wide ties), names running against insertion order and a filter
    # that drops most rows, so the index is read in several chunks and ties cross the LIMIT.
    org = FakeOrg()
    for i in range(1500):
        org.add(
            "Lead",
            Id=f"00Q{i:012d}AAA",
            IsDeleted=i % 11 == 0,
            Name=f"n{(1500 - i) % 97:03d}",
            Score=i % 7,
            SystemModstamp=STAMPS[(i * 5) % 6],
        )
    text = (
        f"SELECT Id FROM Lead WHERE SystemModstamp >= {literal(STAMPS[1])} AND Score = 3 "
        f"ORDER BY {order} LIMIT {limit}"
    )
    compiled = org.compile(text)
    indexes = TableIndexes(org.records["Lead"], INDEXED)
    scanned = compiled.run(org.records["Lead"].values())
    assert len(scanned) == min(limit, 163)  # 163 rows match in all
    assert compiled.run([], indexes=indexes) == scanned


def check(
    rows: list[dict[str, Any]],
    where: Any,
    order: list[tuple[str, bool, bool | None]],
    limit: int | None,
    offset: int | None,
    include_deleted: bool,
    *,
    indexed: bool = False,
) -> None:
    """Run one generated query both ways and compare the ids in order."""
    org = FakeOrg()
    for i, row in enumerate(rows):
        org.add("Lead", Id=f"00Q{i:012d}AAA", **row)
    indexes = TableIndexes(org.records["Lead"], INDEXED) if indexed else None
    check_table(org, where, order, limit, offset, include_deleted, indexes)


def check_table(
    org: FakeOrg,
    where: Any,
    order: list[tuple[str, bool, bool | None]],
    limit: int | None,
    offset: int | None,
    include_deleted: bool,
    indexes: TableIndexes | None,
) -> None:
    """Run one query on the org's Leads (through `indexes` too, if given) and the reference."""
    text = "SELECT Id FROM Lead"
    if where is not None:
        text += f" WHERE {soql(where)}"
    if order:
        items = []
        for field, descending, nulls_first in order:
            nulls = (
                "" if nulls_first is None else (" NULLS FIRST" if nulls_first else " NULLS LAST")
            )
            items.append(f"{field} {'DESC' if descending else 'ASC'}{nulls}")
        text += " ORDER BY " + ", ".join(items)
    if limit is not None:
        text += f" LIMIT {limit}"
    if offset is not None:
        text += f" OFFSET {offset}"

    expected = [
        r
        for r in org.records["Lead"].values()
        if (include_deleted or not r["IsDeleted"]) and (where is None or holds(where, r))
    ]
    expected.sort(key=functools.cmp_to_key(functools.partial(compare_rows, order)))
    start = offset or 0
    expected = expected[start : None if limit is None else start + limit]

    wanted = [r["Id"] for r in expected]
    assert org.ids(text, include_deleted=include_deleted) == wanted, text
    if indexes is not None:
        compiled = org.compile(text)
        table = org.records["Lead"].values()
        got = compiled.run(table, include_deleted=include_deleted, indexes=indexes)
        assert [r["Id"] for r in got] == wanted, text
