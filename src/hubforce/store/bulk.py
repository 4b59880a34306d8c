"""Batch SQL that skips SQLAlchemy's per-row work: the hot paths of a cycle's bookkeeping.

At tens of thousands of rows per batch, SQLAlchemy's per-parameter processing costs more than
the database itself. Here id lists travel as one bound parameter, and rows (already in their
database form: JSON text, not dicts) go to the driver directly: sqlite3's executemany runs in
C in-process; on PostgreSQL, COPY streams them in one round trip.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, Table, any_, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError


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


def select_in(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    where: Mapping[str, Any],
    column: str,
    ids: Sequence[str],
) -> list[tuple[Any, ...]]:
    """`columns` of the rows where each `where` column equals its value and `column` is in
    `ids`, as plain tuples from the driver: SQLAlchemy's statement compilation and Row objects
    cost more than the query at thousands of rows. Only for columns whose values need no
    type processing (integers, strings)."""
    if not ids:
        return []
    quote = conn.dialect.identifier_preparer.quote
    mark = _marks(conn, 1)[0]
    names = ", ".join(quote(name) for name in columns)
    tests = [f"{quote(name)} = {mark}" for name in where]
    params: list[Any] = list(where.values())
    if conn.dialect.name == "postgresql":
        tests.append(f"{quote(column)} = ANY({mark})")
        params.append(list(ids))
    else:
        tests.append(f"{quote(column)} IN (SELECT value FROM json_each({mark}))")
        params.append(json.dumps(list(ids)))
    sql = f"SELECT {names} FROM {table.name} WHERE {' AND '.join(tests)}"
    return [tuple(row) for row in conn.exec_driver_sql(sql, tuple(params)).all()]


def _marks(conn: Connection, count: int) -> list[str]:
    return ["?" if conn.dialect.paramstyle == "qmark" else "%s"] * count


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert many rows, bypassing SQLAlchemy's per-row parameter processing (the bottleneck
    at tens of thousands of rows). Values must already be in database form (JSON text, not
    dicts). SQLite: the driver's executemany, in C in-process. PostgreSQL: COPY, one stream
    instead of a statement per row.
    """
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, f"COPY {table.name} ({names}) FROM STDIN", rows)
        return
    marks = ", ".join(_marks(conn, len(columns)))
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", list(rows))


def _copy_rows(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    driver_error = conn.dialect.loaded_dbapi.Error
    cursor = dbapi.cursor()
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except driver_error as exc:  # raised as SQLAlchemy would (IntegrityError, ...)
        raise DBAPIError.instance(sql, None, exc, driver_error) from exc
    finally:
        cursor.close()


def bulk_update(
    conn: Connection,
    table: Table,
    key: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
) -> int:
    """Set `columns`, then `constants`, on the rows matching the `key` columns. Each row is the
    new values of `columns` followed by the values of `key`. Returns the number of rows
    changed. SQLite: executemany. PostgreSQL, for big batches: COPY into a temporary table,
    then one UPDATE ... FROM it."""
    if not rows:
        return 0
    quote = conn.dialect.identifier_preparer.quote
    fixed = tuple((constants or {}).items())
    tail = tuple(value for _, value in fixed)
    mark = _marks(conn, 1)[0]
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        return _update_from_copy(conn, table, key, columns, rows, fixed)
    names = [*columns, *(name for name, _ in fixed)]
    sets = ", ".join(f"{quote(name)} = {mark}" for name in names)
    where = " AND ".join(f"{quote(name)} = {mark}" for name in key)
    sql = f"UPDATE {table.name} SET {sets} WHERE {where}"
    width = len(columns)
    params = [(*row[:width], *tail, *row[width:]) for row in rows]
    return conn.exec_driver_sql(sql, params).rowcount


# Below this many rows a pipelined executemany beats creating a temporary table.
COPY_THRESHOLD = 200


def _update_from_copy(
    conn: Connection,
    table: Table,
    key: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fixed: Sequence[tuple[str, Any]],
) -> int:
    quote = conn.dialect.identifier_preparer.quote
    staged = [*columns, *key]
    types = [str(table.c[name].type.compile(dialect=conn.dialect)) for name in staged]
    temp = "hubforce_bulk_update"
    shape = ", ".join(f"{quote(n)} {t}" for n, t in zip(staged, types, strict=True))
    # ON COMMIT DROP covers a failure (the transaction is rolled back); on success the table
    # is dropped at once so the next bulk update in the same unit of work can reuse the name.
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {temp} ({shape}) ON COMMIT DROP")
    _copy_rows(conn, f"COPY {temp} FROM STDIN", rows)
    sets = [f"{quote(n)} = {temp}.{quote(n)}" for n in columns]
    sets += [f"{quote(n)} = %s" for n, _ in fixed]
    where = " AND ".join(f"{table.name}.{quote(n)} = {temp}.{quote(n)}" for n in key)
    sql = f"UPDATE {table.name} SET {', '.join(sets)} FROM {temp} WHERE {where}"
    changed = conn.exec_driver_sql(sql, tuple(value for _, value in fixed)).rowcount
    conn.exec_driver_sql(f"DROP TABLE {temp}")
    return changed


def upsert_one(
    conn: Connection, table: Table, values: Mapping[str, Any], key: Sequence[str]
) -> None:
    """Insert a row, or update the row with the same `key`, atomically (INSERT ... ON CONFLICT):
    safe when several workers write the same key at once, unlike update-then-insert."""
    changes = [name for name in values if name not in key]
    if conn.dialect.name == "postgresql":
        pg = postgresql_insert(table).values(dict(values))
        set_ = {name: pg.excluded[name] for name in changes}
        conn.execute(pg.on_conflict_do_update(index_elements=list(key), set_=set_))
    else:
        lite = sqlite_insert(table).values(dict(values))
        set_ = {name: lite.excluded[name] for name in changes}
        conn.execute(lite.on_conflict_do_update(index_elements=list(key), set_=set_))
