"""Create intents: written BEFORE a create is sent, resolved after (invariant 1 under crashes).

The engine records an intent per record it is about to create, carrying an idempotency key it
also writes into the new record (e.g. the HubSpot id in Salesforce `HubSpot_Id__c`). After the
batch it resolves each intent with the created id, or as failed, in the same unit of work as
the new link. After a crash, `unresolved()` lists the creates whose outcome is unknown: the
engine searches the target side for their idempotency keys and links what it finds instead of
creating again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select, update

from hubforce.errors import StoreError
from hubforce.store.bulk import bulk_update, in_ids
from hubforce.store.session import Connect, chunks, now_ms
from hubforce.store.tables import intents
from hubforce.sync.model import Side


class IntentStatus(StrEnum):
    """Pending until the create's outcome is known."""

    PENDING = "pending"
    CREATED = "created"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NewIntent:
    """A create about to be sent: `source_id` on the other side becomes a record on `target_side`.

    `source_type` / `target_type` name Salesforce types where they matter (a Lead or a Contact).
    """

    pair: str
    target_side: str
    source_id: str
    idempotency_key: str
    source_type: str | None = None
    target_type: str | None = None
    run_id: int | None = None


@dataclass(frozen=True, slots=True)
class Intent:
    """A stored intent and its outcome."""

    id: int
    pair: str
    target_side: Side
    source_id: str
    source_type: str | None
    target_type: str | None
    idempotency_key: str
    run_id: int | None
    status: IntentStatus
    target_id: str | None
    attempts: int
    created_at: int
    resolved_at: int | None


def _to_intent(row: Row[Any]) -> Intent:
    return Intent(
        id=row.id,
        pair=row.pair,
        target_side=Side(row.target_side),
        source_id=row.source_id,
        source_type=row.source_type,
        target_type=row.target_type,
        idempotency_key=row.idempotency_key,
        run_id=row.run_id,
        status=IntentStatus(row.status),
        target_id=row.target_id,
        attempts=row.attempts,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
    )


class IntentRepository:
    """Record, resolve and list create intents, in batches."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def record_many(self, batch: Sequence[NewIntent], *, now: int | None = None) -> None:
        """Store intents as pending (one per pair, target side and source record).

        An intent already stored for the same record is reopened (attempts + 1). Reopening a
        still-pending intent with a different idempotency key raises StoreError: its first
        create may have landed, and only the old key can find it.
        """
        at = now_ms(now)
        groups: dict[tuple[str, str], dict[str, NewIntent]] = {}
        for intent in batch:
            groups.setdefault((intent.pair, str(intent.target_side)), {})[intent.source_id] = intent
        with self._connect() as conn:
            for (pair, side), group in groups.items():
                known = {
                    row.source_id: row
                    for part in chunks(list(group))
                    for row in conn.execute(
                        select(intents.c.source_id, intents.c.status, intents.c.idempotency_key)
                        .where(intents.c.pair == pair, intents.c.target_side == side)
                        .where(in_ids(conn, intents.c.source_id, part))
                    )
                }
                fresh: list[dict[str, Any]] = []
                reopened: list[dict[str, Any]] = []
                for source_id, intent in group.items():
                    row = {
                        "b_source": source_id,
                        "source_type": intent.source_type,
                        "target_type": intent.target_type,
                        "idempotency_key": intent.idempotency_key,
                        "run_id": intent.run_id,
                        "created_at": at,
                    }
                    old = known.get(source_id)
                    if old is None:
                        fresh.append(row)
                    elif (
                        old.status == IntentStatus.PENDING
                        and old.idempotency_key != intent.idempotency_key
                    ):
                        raise StoreError(
                            f"{pair}: a create of {source_id} on {side} is still pending under "
                            f"key {old.idempotency_key!r}; recover it before a new attempt",
                            "run the crash recovery (intents.unresolved) first",
                        )
                    else:
                        reopened.append(row)
                base = {"pair": pair, "target_side": side, "status": IntentStatus.PENDING.value}
                if fresh:
                    rows = [
                        {**base, **r, "source_id": r.pop("b_source"), "attempts": 1} for r in fresh
                    ]
                    conn.execute(insert(intents), rows)
                if reopened:
                    conn.execute(_REOPEN, [{"b_pair": pair, "b_side": side, **r} for r in reopened])

    def resolve_created(
        self, pair: str, target_side: str, created: Mapping[str, str], *, now: int | None = None
    ) -> int:
        """Mark intents as created; `created` maps source id -> id of the new target record."""
        side = str(target_side)
        rows = [(target, pair, side, source) for source, target in created.items()]
        done = {"status": IntentStatus.CREATED.value, "resolved_at": now_ms(now)}
        with self._connect() as conn:
            return bulk_update(conn, intents, _KEY, ("target_id",), rows, done)

    def resolve_failed(
        self, pair: str, target_side: str, source_ids: Iterable[str], *, now: int | None = None
    ) -> int:
        """Mark intents as failed (the target refused the create; the failure is stored apart)."""
        side = str(target_side)
        rows = [(pair, side, source) for source in dict.fromkeys(source_ids)]
        done = {"status": IntentStatus.FAILED.value, "resolved_at": now_ms(now)}
        with self._connect() as conn:
            return bulk_update(conn, intents, _KEY, (), rows, done)

    def unresolved(self, pair: str | None = None, target_side: str | None = None) -> list[Intent]:
        """Pending intents, oldest first: the creates a crash may have left half done."""
        stmt = select(intents).where(intents.c.status == IntentStatus.PENDING.value)
        if pair is not None:
            stmt = stmt.where(intents.c.pair == pair)
        if target_side is not None:
            stmt = stmt.where(intents.c.target_side == str(target_side))
        with self._connect() as conn:
            rows = conn.execute(stmt.order_by(intents.c.created_at, intents.c.id))
            return [_to_intent(row) for row in rows]

    def get_many(self, pair: str, target_side: str, source_ids: Iterable[str]) -> dict[str, Intent]:
        """Intents by source id (any status)."""
        found: dict[str, Intent] = {}
        base = select(intents).where(
            intents.c.pair == pair, intents.c.target_side == str(target_side)
        )
        with self._connect() as conn:
            for part in chunks(list(dict.fromkeys(source_ids))):
                for row in conn.execute(base.where(in_ids(conn, intents.c.source_id, part))):
                    found[row.source_id] = _to_intent(row)
        return found

    def prune(self, before: int) -> int:
        """Delete resolved intents resolved before `before` (epoch ms); returns the count."""
        stmt = delete(intents).where(
            intents.c.status != IntentStatus.PENDING.value, intents.c.resolved_at < before
        )
        with self._connect() as conn:
            return conn.execute(stmt).rowcount


_KEY = ("pair", "target_side", "source_id")
_REOPEN = (
    update(intents)
    .where(
        intents.c.pair == bindparam("b_pair"),
        intents.c.target_side == bindparam("b_side"),
        intents.c.source_id == bindparam("b_source"),
    )
    .values(
        status=IntentStatus.PENDING.value,
        target_id=None,
        resolved_at=None,
        attempts=intents.c.attempts + 1,
    )
)
