"""How repositories reach the database: a connection per call, or one shared by a unit of work.

Every repository method opens its connection through a `Connect` callable. On the `Store` that
callable begins a fresh transaction per call; inside `Store.transaction()` it hands out the one
connection of the unit of work, so links, snapshots, audit rows, intents and the cursor of one
batch commit together or not at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, String, Table, any_, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY

Connect = Callable[[], AbstractContextManager[Connection]]

T = TypeVar("T")

# Ids per lookup statement. Each list travels as ONE bound parameter (see `in_ids`), so this
# only bounds the size of a statement, not the number of its parameters.
IN_CHUNK = 5_000


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def now_ms(now: int | None = None) -> int:
    """`now` if given (a clock passed in by the engine), else the wall clock in epoch ms."""
    return now if now is not None else int(time.time() * 1000)


def in_ids(conn: Connection, column: Any, ids: Sequence[str]) -> ColumnElement[bool]:
    """`column IN ids` with the whole list as one bound parameter.

    A plain IN of n values costs n bound parameters, each rendered and processed in Python;
    PostgreSQL takes an array (`= ANY(:ids)`) and SQLite a JSON array (`IN json_each(:ids)`),
    which is several times faster for the thousands of ids of one batch.
    """
    if conn.dialect.name == "postgresql":
        return column == any_(literal(list(ids), ARRAY(String)))  # type: ignore[no-any-return]
    values = func.json_each(literal(json.dumps(list(ids)))).table_valued("value")
    return column.in_(select(values.c.value))  # type: ignore[no-any-return]


def _marks(conn: Connection, count: int) -> list[str]:
    return ["?" if conn.dialect.paramstyle == "qmark" else "%s"] * count


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert many rows through the driver's executemany, bypassing SQLAlchemy's per-row
    parameter processing (the bottleneck at tens of thousands of rows). Values must already
    be in database form (JSON text, not dicts). sqlite3 runs the batch in C in-process;
    psycopg 3 pipelines it (no round trip per row).
    """
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    marks = ", ".join(_marks(conn, len(columns)))
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", list(rows))


def bulk_update(
    conn: Connection,
    table: Table,
    key: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
) -> int:
    """Set `columns`, then `constants`, on the rows matching the `key` columns, through
    executemany like `bulk_insert`. Each row is the new values of `columns` followed by the
    values of `key`. Returns the number of rows changed."""
    if not rows:
        return 0
    quote = conn.dialect.identifier_preparer.quote
    fixed = tuple((constants or {}).items())
    names = [*columns, *(name for name, _ in fixed)]
    mark = _marks(conn, 1)[0]
    sets = ", ".join(f"{quote(name)} = {mark}" for name in names)
    where = " AND ".join(f"{quote(name)} = {mark}" for name in key)
    sql = f"UPDATE {table.name} SET {sets} WHERE {where}"
    width, tail = len(columns), tuple(value for _, value in fixed)
    params = [(*row[:width], *tail, *row[width:]) for row in rows]
    return conn.exec_driver_sql(sql, params).rowcount
