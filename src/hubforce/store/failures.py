"""Record failures: every rejected record, grouped by cause, retried with backoff or after a fix.

One row per (pair, side, record): a record that fails again updates its row (last seen,
attempts, latest message) instead of piling up rows, and a record that syncs is resolved.
Failures with the same cause share a group key: pair + category + API code + the message
with its record-specific parts (ids, e-mails, numbers, echoed values) masked.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Row, and_, bindparam, func, insert, or_, select, update

from hubforce.store.session import Connect, chunks, now_ms
from hubforce.store.tables import failures
from hubforce.sync.model import Side

_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    # Salesforce ids: 15 or 18 alphanumerics with at least one digit.
    (re.compile(r"\b(?=[A-Za-z]*\d)[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?\b"), "<id>"),
    (re.compile(r"\d+"), "<n>"),
    (re.compile(r"\s+"), " "),
)
# "Email: invalid email address: not an email" -> the value after the last ": " is the
# record's own; a list or JSON tail ("missing: [Company]") names the cause and is kept.
_ECHOED_TAIL = re.compile(r"^(.*\S: )([^\[{:]{1,80})$")


def normalise_message(message: str) -> str:
    """The message with record-specific parts masked, so failures of one cause group together."""
    text = message.strip()
    tail = _ECHOED_TAIL.match(text)
    if tail is not None and not tail.group(2).rstrip().endswith("."):
        text = tail.group(1) + "<value>"
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text.strip()


def group_key(pair: str, category: str, api_code: str | None, pattern: str) -> str:
    """Stable 40-hex key of a failure group."""
    raw = "\x1f".join((pair, str(category), api_code or "", pattern))
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()


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
        raise NotImplementedError

    def groups(self, category: str | None = None, *, pair: str | None = None) -> list[FailureGroup]:
        """Unresolved failures grouped by cause, largest group first, each with an example."""
        raise NotImplementedError

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
        raise NotImplementedError

    def retryable(
        self, now: int | None = None, *, pair: str | None = None, limit: int | None = None
    ) -> list[StoredFailure]:
        """Unresolved failures due for another attempt: transient ones whose backoff has
        elapsed, and any failure a user asked to retry (`request_retry`)."""
        raise NotImplementedError

    def request_retry(
        self,
        category: str | None = None,
        *,
        pair: str | None = None,
        group: str | None = None,
    ) -> int:
        """Queue unresolved failures for the next cycle (`hubforce retry`); returns the count."""
        raise NotImplementedError

    def resolve(
        self,
        pair: str,
        *,
        hubspot_ids: Iterable[str] = (),
        salesforce_ids: Iterable[str] = (),
        now: int | None = None,
    ) -> int:
        """Resolve the failures of records that synced (by either side's id); returns the count."""
        raise NotImplementedError

    def counts(self, pair: str | None = None) -> dict[str, int]:
        """Unresolved failures per category."""
        raise NotImplementedError

    def export_csv(
        self, path: str | Path, category: str | None = None, *, include_resolved: bool = False
    ) -> int:
        """Write failures to a CSV file (one row per record); returns the number of rows."""
        raise NotImplementedError


__all__ = [
    "Backoff",
    "FailureGroup",
    "FailureRepository",
    "NewFailure",
    "StoredFailure",
    "and_",
    "bindparam",
    "chunks",
    "csv",
    "failures",
    "func",
    "group_key",
    "insert",
    "normalise_message",
    "now_ms",
    "or_",
    "select",
    "update",
]
