"""The audit: one row per field written to either side (run, side, record, field, old, new, rule).

Rows are inserted in bulk in the unit of work that records the batch, so the audit never
claims a write the store does not otherwise know about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select

from hubforce.store.bulk import bulk_insert
from hubforce.store.codec import dumps
from hubforce.store.session import Connect, now_ms
from hubforce.store.tables import audit
from hubforce.sync.model import Side


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A field written to `side`'s record `record_id`: from `old` to `new`, decided by `rule`.

    `rule` is the field's rule (e.g. "two_way") or what decided a conflict; `at` defaults to
    the time of the insert. `id` is set on entries read back.
    """

    run_id: int | None
    pair: str
    side: str
    record_id: str
    field: str
    old: Any
    new: Any
    rule: str
    at: int | None = None
    id: int | None = None


def _to_entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
        run_id=row.run_id,
        pair=row.pair,
        side=Side(row.side),
        record_id=row.record_id,
        field=row.field,
        old=row.old_value,
        new=row.new_value,
        rule=row.rule,
        at=row.at,
        id=row.id,
    )


_COLUMNS = (
    "run_id",
    "at",
    "pair",
    "side",
    "record_id",
    "field",
    "old_value",
    "new_value",
    "rule",
)


class AuditRepository:
    """Bulk insert and query of audit rows."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def insert_many(self, entries: Sequence[AuditEntry], *, now: int | None = None) -> int:
        """Insert audit rows in one executemany; returns how many were written."""
        if not entries:
            return 0
        at = now_ms(now)
        rows = [
            (
                e.run_id,
                at if e.at is None else e.at,
                e.pair,
                str(e.side),
                e.record_id,
                e.field,
                None if e.old is None else dumps(e.old),
                None if e.new is None else dumps(e.new),
                str(e.rule),
            )
            for e in entries
        ]
        with self._connect() as conn:
            bulk_insert(conn, audit, _COLUMNS, rows)
        return len(rows)

    def for_run(self, run_id: int, *, limit: int | None = None) -> list[AuditEntry]:
        """Audit rows of one run, in insertion order."""
        stmt = select(audit).where(audit.c.run_id == run_id).order_by(audit.c.id).limit(limit)
        with self._connect() as conn:
            return [_to_entry(row) for row in conn.execute(stmt)]

    def for_record(self, pair: str, side: str, record_id: str) -> list[AuditEntry]:
        """History of the fields written to one record, oldest first."""
        stmt = (
            select(audit)
            .where(audit.c.pair == pair, audit.c.side == str(side))
            .where(audit.c.record_id == record_id)
            .order_by(audit.c.id)
        )
        with self._connect() as conn:
            return [_to_entry(row) for row in conn.execute(stmt)]

    def rule_counts(self, run_id: int) -> dict[tuple[str, str], int]:
        """Fields written in one run, counted by (side, rule): the demo summary's conflict table."""
        stmt = (
            select(audit.c.side, audit.c.rule, func.count())
            .where(audit.c.run_id == run_id)
            .group_by(audit.c.side, audit.c.rule)
        )
        with self._connect() as conn:
            return {(side, rule): n for side, rule, n in conn.execute(stmt)}
