"""Record failures: every rejected record, grouped by cause, retried with backoff or after a fix.

One row per (pair, side, record): a record that fails again updates its row (last seen,
attempts, latest message) instead of piling up rows, and a record that syncs is resolved.
Failures with the same cause share a group key: pair + category + API code + the message
with its record-specific parts (ids, e-mails, numbers, echoed values) masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Row, and_, bindparam, func, insert, or_, select, update

from hubforce.store.bulk import in_ids
from hubforce.store.export import write_csv
from hubforce.store.grouping import group_key, normalise_message
from hubforce.store.session import Connect, chunks, now_ms
from hubforce.store.tables import failures
from hubforce.sync.model import Side


class RecordFailureLike(Protocol):
    """Shape of `hubforce.errors.RecordFailure` (what the connectors return per record)."""

    @property
    def category(self) -> str: ...
    @property
    def api_code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def fields(self) -> tuple[str, ...]: ...
    @property
    def remediation(self) -> str: ...
    @property
    def retryable(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class NewFailure:
    """One rejected record: `side` is the side whose API refused `operation`."""

    pair: str
    side: str
    operation: str
    category: str
    message: str
    api_code: str | None = None
    remediation: str = ""
    retryable: bool = False
    hubspot_id: str | None = None
    salesforce_type: str | None = None
    salesforce_id: str | None = None
    fields: tuple[str, ...] = ()
    run_id: int | None = None

    @classmethod
    def of(
        cls,
        failure: RecordFailureLike,
        *,
        pair: str,
        side: str,
        operation: str,
        hubspot_id: str | None = None,
        salesforce_type: str | None = None,
        salesforce_id: str | None = None,
        run_id: int | None = None,
    ) -> NewFailure:
        """Build from a connector's RecordFailure and the record's ids on both sides."""
        return cls(
            pair=pair,
            side=str(side),
            operation=operation,
            category=str(failure.category),
            message=failure.message,
            api_code=failure.api_code or None,
            remediation=failure.remediation,
            retryable=failure.retryable,
            hubspot_id=hubspot_id,
            salesforce_type=salesforce_type,
            salesforce_id=salesforce_id,
            fields=tuple(failure.fields),
            run_id=run_id,
        )

    @property
    def record_key(self) -> str:
        """Which record failed: its ids on both sides ("-" where it has none yet)."""
        return f"{self.hubspot_id or '-'}|{self.salesforce_id or '-'}"


@dataclass(frozen=True, slots=True)
class StoredFailure:
    """A failure as stored, with its history and retry state."""

    id: int
    pair: str
    side: Side
    operation: str
    category: str
    api_code: str | None
    message: str
    remediation: str
    retryable: bool
    hubspot_id: str | None
    salesforce_type: str | None
    salesforce_id: str | None
    fields: tuple[str, ...]
    group_key: str
    first_seen: int
    last_seen: int
    attempts: int
    next_attempt_at: int | None
    retry_requested: bool
    resolved_at: int | None
    run_id: int | None


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Unresolved failures of one cause: how many, when, and one example (the latest)."""

    group_key: str
    pair: str
    category: str
    api_code: str | None
    pattern: str
    count: int
    first_seen: int
    last_seen: int
    example: StoredFailure


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retrying a transient failure: base * 2^(attempts-1), capped."""

    base_ms: int = 30_000
    cap_ms: int = 3_600_000

    def delay(self, attempts: int) -> int:
        """Milliseconds to wait after the `attempts`-th failure."""
        return int(min(self.cap_ms, self.base_ms * 2 ** min(max(attempts - 1, 0), 30)))


def _to_failure(row: Row[Any]) -> StoredFailure:
    return StoredFailure(
        id=row.id,
        pair=row.pair,
        side=Side(row.side),
        operation=row.operation,
        category=row.category,
        api_code=row.api_code,
        message=row.message,
        remediation=row.remediation,
        retryable=row.retryable,
        hubspot_id=row.hubspot_id,
        salesforce_type=row.salesforce_type,
        salesforce_id=row.salesforce_id,
        fields=tuple(row.fields),
        group_key=row.group_key,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        retry_requested=row.retry_requested,
        resolved_at=row.resolved_at,
        run_id=row.run_id,
    )


class FailureRepository:
    """Record, group, select for retry, resolve and export record failures."""

    def __init__(self, connect: Connect, backoff: Backoff | None = None) -> None:
        self._connect = connect
        self.backoff = backoff or Backoff()

    def record_many(self, batch: Sequence[NewFailure], *, now: int | None = None) -> None:
        """Store failures: new records get a row, known ones count one more attempt."""
        at = now_ms(now)
        groups: dict[tuple[str, str], dict[str, NewFailure]] = {}
        for failure in batch:
            groups.setdefault((failure.pair, str(failure.side)), {})[failure.record_key] = failure
        with self._connect() as conn:
            for (pair, side), group in groups.items():
                known: dict[str, tuple[int, int, int | None]] = {}
                for part in chunks(list(group)):
                    stmt = select(
                        failures.c.record_key,
                        failures.c.id,
                        failures.c.attempts,
                        failures.c.resolved_at,
                    ).where(failures.c.pair == pair, failures.c.side == side)
                    for key, row_id, attempts, resolved in conn.execute(
                        stmt.where(in_ids(conn, failures.c.record_key, part))
                    ):
                        known[key] = (row_id, attempts, resolved)
                fresh: list[dict[str, Any]] = []
                again: list[dict[str, Any]] = []
                for key, failure in group.items():
                    prior = known.get(key)
                    # A failure that comes back after being resolved starts a new history.
                    attempts = 1 if prior is None or prior[2] is not None else prior[1] + 1
                    row = self._row(failure, at, attempts)
                    if prior is None:
                        fresh.append({**row, "pair": pair, "side": side, "record_key": key})
                    else:
                        if attempts > 1:
                            del row["first_seen"]
                        again.append({**row, "b_id": prior[0]})
                if fresh:
                    conn.execute(insert(failures), fresh)
                for shape in _by_keys(again):
                    conn.execute(update(failures).where(failures.c.id == bindparam("b_id")), shape)

    def _row(self, failure: NewFailure, at: int, attempts: int) -> dict[str, Any]:
        pattern = normalise_message(failure.message)
        retry_at = at + self.backoff.delay(attempts) if failure.retryable else None
        return {
            "operation": failure.operation,
            "hubspot_id": failure.hubspot_id,
            "salesforce_type": failure.salesforce_type,
            "salesforce_id": failure.salesforce_id,
            "category": str(failure.category),
            "api_code": failure.api_code,
            "message": failure.message,
            "fields": list(failure.fields),
            "remediation": failure.remediation,
            "retryable": failure.retryable,
            "group_key": group_key(failure.pair, failure.category, failure.api_code, pattern),
            "group_pattern": pattern,
            "first_seen": at,
            "last_seen": at,
            "attempts": attempts,
            "next_attempt_at": retry_at,
            "retry_requested": False,
            "resolved_at": None,
            "run_id": failure.run_id,
        }

    def groups(self, category: str | None = None, *, pair: str | None = None) -> list[FailureGroup]:
        """Unresolved failures grouped by cause, largest group first, each with an example."""
        where = _filters(category=category, pair=pair)
        summary = (
            select(
                failures.c.group_key,
                func.count(),
                func.min(failures.c.first_seen),
                func.max(failures.c.last_seen),
                func.max(failures.c.id),
            )
            .where(*where)
            .group_by(failures.c.group_key)
        )
        with self._connect() as conn:
            stats = conn.execute(summary).all()
            examples: dict[int, StoredFailure] = {}
            patterns: dict[str, str] = {}
            for part in chunks([row[4] for row in stats]):
                for row in conn.execute(select(failures).where(failures.c.id.in_(part))):
                    examples[row.id] = _to_failure(row)
                    patterns[row.group_key] = row.group_pattern
        found = [
            FailureGroup(
                group_key=key,
                pair=examples[example].pair,
                category=examples[example].category,
                api_code=examples[example].api_code,
                pattern=patterns[key],
                count=count,
                first_seen=first,
                last_seen=last,
                example=examples[example],
            )
            for key, count, first, last, example in stats
        ]
        return sorted(found, key=lambda g: (-g.count, g.pair, g.category, g.pattern))

    def find(
        self,
        category: str | None = None,
        *,
        pair: str | None = None,
        group: str | None = None,
        include_resolved: bool = False,
        limit: int | None = None,
    ) -> list[StoredFailure]:
        """Failures, most recently seen first."""
        where = _filters(category=category, pair=pair, group=group, resolved=include_resolved)
        stmt = (
            select(failures)
            .where(*where)
            .order_by(failures.c.last_seen.desc(), failures.c.id.desc())
            .limit(limit)
        )
        with self._connect() as conn:
            return [_to_failure(row) for row in conn.execute(stmt)]

    def retryable(
        self, now: int | None = None, *, pair: str | None = None, limit: int | None = None
    ) -> list[StoredFailure]:
        """Unresolved failures due for another attempt: transient ones whose backoff has
        elapsed, and any failure a user asked to retry (`request_retry`)."""
        due = or_(
            and_(failures.c.retryable.is_(True), failures.c.next_attempt_at <= now_ms(now)),
            failures.c.retry_requested.is_(True),
        )
        stmt = (
            select(failures)
            .where(*_filters(pair=pair), due)
            .order_by(failures.c.next_attempt_at, failures.c.id)
            .limit(limit)
        )
        with self._connect() as conn:
            return [_to_failure(row) for row in conn.execute(stmt)]

    def request_retry(
        self,
        category: str | None = None,
        *,
        pair: str | None = None,
        group: str | None = None,
    ) -> int:
        """Queue unresolved failures for the next cycle (`hubforce retry`); returns the count."""
        where = _filters(category=category, pair=pair, group=group)
        stmt = update(failures).where(*where).values(retry_requested=True)
        with self._connect() as conn:
            return conn.execute(stmt).rowcount

    def resolve(
        self,
        pair: str,
        *,
        hubspot_ids: Iterable[str] = (),
        salesforce_ids: Iterable[str] = (),
        side: str | None = None,
        now: int | None = None,
    ) -> int:
        """Resolve the failures of records that synced (by either side's id); returns the count.

        `side` limits it to failures of writes to that side.
        """
        at = now_ms(now)
        resolved = 0
        base = [*_filters(pair=pair)]
        if side is not None:
            base.append(failures.c.side == str(side))
        with self._connect() as conn:
            for column, ids in (
                (failures.c.hubspot_id, hubspot_ids),
                (failures.c.salesforce_id, salesforce_ids),
            ):
                for part in chunks(list(dict.fromkeys(ids))):
                    stmt = (
                        update(failures)
                        .where(*base, in_ids(conn, column, part))
                        .values(resolved_at=at, retry_requested=False, next_attempt_at=None)
                    )
                    resolved += conn.execute(stmt).rowcount
        return resolved

    def counts(self, pair: str | None = None) -> dict[str, int]:
        """Unresolved failures per category."""
        stmt = (
            select(failures.c.category, func.count())
            .where(*_filters(pair=pair))
            .group_by(failures.c.category)
        )
        with self._connect() as conn:
            return {category: n for category, n in conn.execute(stmt)}

    def export_csv(
        self, path: str | Path, category: str | None = None, *, include_resolved: bool = False
    ) -> int:
        """Write failures to a CSV file (one row per record); returns the number of rows."""
        rows = self.find(category, include_resolved=include_resolved)
        write_csv(rows, path)
        return len(rows)


def _filters(
    *,
    category: str | None = None,
    pair: str | None = None,
    group: str | None = None,
    resolved: bool = False,
) -> list[Any]:
    where: list[Any] = [] if resolved else [failures.c.resolved_at.is_(None)]
    if category is not None:
        where.append(failures.c.category == str(category))
    if pair is not None:
        where.append(failures.c.pair == pair)
    if group is not None:
        where.append(failures.c.group_key == group)
    return where


def _by_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split rows into executemany batches whose dicts share one set of keys."""
    shapes: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        shapes.setdefault(frozenset(row), []).append(row)
    return list(shapes.values())


__all__ = [
    "Backoff",
    "FailureGroup",
    "FailureRepository",
    "NewFailure",
    "StoredFailure",
]
