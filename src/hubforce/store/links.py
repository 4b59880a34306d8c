"""Links between a HubSpot record and a Salesforce record, with each side's last-synced snapshot.

Invariant 1 (no duplicates) is held by two unique constraints per object pair: one on the
HubSpot id, one on the Salesforce id. Every method works on batches: ids are looked up with
chunked IN lists and rows are written with executemany, never one round trip per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, delete, func, select, update

from hubforce.errors import StoreError
from hubforce.store.bulk import bulk_insert, bulk_update, in_ids, select_in
from hubforce.store.codec import dumps_snapshot, loads_snapshot
from hubforce.store.session import Connect, chunks, now_ms
from hubforce.store.tables import links
from hubforce.sync.model import Link, Side, Snapshot


class LinkConflict(StoreError):
    """A write would link a record to a second record on the other side (invariant 1)."""


class LinkLike(Protocol):
    """Anything shaped like `hubforce.sync.model.Link` (the planner's links are accepted as is)."""

    @property
    def pair(self) -> str: ...
    @property
    def hubspot_id(self) -> str: ...
    @property
    def salesforce_type(self) -> str: ...
    @property
    def salesforce_id(self) -> str: ...
    @property
    def snapshot(self) -> Snapshot | None: ...


@dataclass(slots=True)
class StoredLink(Link):
    """A `Link` as the store keeps it: plus when it was made and whether one side was deleted."""

    deleted_on: Side | None = None
    deleted_at: int | None = None
    created_at: int = 0
    updated_at: int = 0


@dataclass(frozen=True, slots=True)
class SalesforceMove:
    """A Salesforce record replaced by another: a merge (MasterRecordId) or a Lead conversion."""

    old_id: str
    new_type: str
    new_id: str


@dataclass(slots=True)
class RelinkOutcome:
    """What a relink did: links moved to the new id, and links dropped because the new id was
    already linked to another record (the surviving link is kept; the dropped one's other-side
    record is now unlinked and left to the engine)."""

    moved: list[StoredLink] = field(default_factory=list)
    dropped: list[StoredLink] = field(default_factory=list)


def _side_column(side: str) -> Any:
    return links.c.hubspot_id if Side(side) is Side.HUBSPOT else links.c.salesforce_id


# The columns of a StoredLink in its field order, then the row id (rows are unpacked
# positionally: this is the read path of every cycle).
_LINK = select(
    links.c.pair,
    links.c.hubspot_id,
    links.c.salesforce_type,
    links.c.salesforce_id,
    links.c.snapshot,
    links.c.deleted_on,
    links.c.deleted_at,
    links.c.created_at,
    links.c.updated_at,
    links.c.id,
)


def _to_link(row: Sequence[Any]) -> StoredLink:
    pair, hubspot_id, sf_type, sf_id, text, deleted_on, deleted_at, created, updated, _ = row
    snapshot = None if text is None else Snapshot(*loads_snapshot(text))
    side = None if deleted_on is None else Side(deleted_on)
    return StoredLink(
        pair, hubspot_id, sf_type, sf_id, snapshot, side, deleted_at, created, updated
    )


def _snapshot_text(link: LinkLike) -> str | None:
    snap = link.snapshot
    return None if snap is None else dumps_snapshot(snap.hubspot, snap.salesforce)


_INSERT_COLUMNS = (
    "pair",
    "hubspot_id",
    "salesforce_type",
    "salesforce_id",
    "snapshot",
    "created_at",
    "updated_at",
)


class LinkRepository:
    """Bulk reads and writes of links; one instance per `Store` or unit of work."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def get_many(
        self, pair: str, side: str, ids: Iterable[str], *, include_deleted: bool = True
    ) -> dict[str, StoredLink]:
        """Links of `pair` whose `side` id is in `ids`, keyed by that id (missing ids absent).

        Ids match exactly as stored: Salesforce ids in the 18-character form the API returns.
        """
        wanted = list(dict.fromkeys(ids))
        column = _side_column(side)
        found: dict[str, StoredLink] = {}
        with self._connect() as conn:
            for part in chunks(wanted):
                stmt = _LINK.where(links.c.pair == pair, in_ids(conn, column, part))
                if not include_deleted:
                    stmt = stmt.where(links.c.deleted_on.is_(None))
                for row in conn.execute(stmt).all():
                    link = _to_link(row)
                    key = link.hubspot_id if column is links.c.hubspot_id else link.salesforce_id
                    found[key] = link
        return found

    def get(self, pair: str, side: str, record_id: str) -> StoredLink | None:
        """The link of one record, or None."""
        return self.get_many(pair, side, [record_id]).get(record_id)

    def upsert_many(self, batch: Sequence[LinkLike], *, now: int | None = None) -> None:
        """Insert new links and replace the snapshots of existing ones (matched by HubSpot id);
        a link given without a snapshot clears the stored one (None means "never synced": the
        next cycle compares both sides field by field).

        Raises LinkConflict (and the transaction is rolled back) when a HubSpot id is already
        linked to another Salesforce record, or a Salesforce id to another HubSpot record:
        changing a link is `relink_*`'s job, never a side effect of an upsert.
        """
        if not batch:
            return
        at = now_ms(now)
        with self._connect() as conn:
            by_pair: dict[str, dict[str, LinkLike]] = {}
            for link in batch:
                group = by_pair.setdefault(link.pair, {})
                prior = group.get(link.hubspot_id)
                if prior is not None and prior.salesforce_id != link.salesforce_id:
                    raise LinkConflict(
                        f"{link.pair}: HubSpot record {link.hubspot_id} appears twice in one "
                        f"batch, linked to {prior.salesforce_id} and {link.salesforce_id}",
                        "the planner must produce one link per record",
                    )
                group[link.hubspot_id] = link
            for pair, group in by_pair.items():
                self._upsert_pair(conn, pair, group, at)

    def _upsert_pair(
        self, conn: Connection, pair: str, group: Mapping[str, LinkLike], at: int
    ) -> None:
        existing = _ids_by(conn, pair, links.c.hubspot_id, list(group))
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        for hubspot_id, link in group.items():
            snapshot = _snapshot_text(link)
            known = existing.get(hubspot_id)
            if known is None:
                sf_type, sf_id = link.salesforce_type, link.salesforce_id
                inserts.append((pair, hubspot_id, sf_type, sf_id, snapshot, at, at))
            elif known[2] != link.salesforce_id:
                raise LinkConflict(
                    f"{pair}: HubSpot record {hubspot_id} is already linked to Salesforce "
                    f"{known[1]} {known[2]}, not {link.salesforce_type} {link.salesforce_id}",
                    "use relink_salesforce for merges and Lead conversions",
                )
            else:
                updates.append((snapshot, known[0]))
        if inserts:
            new_ids = [row[3] for row in inserts]
            taken = _ids_by(conn, pair, links.c.salesforce_id, new_ids)
            if taken or len(set(new_ids)) < len(new_ids):
                raise LinkConflict(
                    f"{pair}: Salesforce record(s) already linked to another HubSpot record: "
                    + ", ".join(sorted(taken) or ["(twice in this batch)"])[:500],
                    "match against existing links before creating new ones",
                )
            bulk_insert(conn, links, _INSERT_COLUMNS, inserts)
        revived = {"deleted_on": None, "deleted_at": None, "updated_at": at}
        bulk_update(conn, links, ("id",), ("snapshot",), updates, revived)

    def relink_hubspot(
        self, pair: str, moves: Mapping[str, str], *, now: int | None = None
    ) -> RelinkOutcome:
        """Re-key links after HubSpot merges: `moves` maps an old HubSpot id to the survivor's."""
        at = now_ms(now)
        outcome = RelinkOutcome()
        with self._connect() as conn:
            for old_id, new_id in moves.items():
                values = {"hubspot_id": new_id}
                _move(conn, pair, links.c.hubspot_id, old_id, new_id, values, at, outcome)
        return outcome

    def relink_salesforce(
        self, pair: str, moves: Sequence[SalesforceMove], *, now: int | None = None
    ) -> RelinkOutcome:
        """Re-key links after Salesforce merges (MasterRecordId) or Lead -> Contact conversion."""
        at = now_ms(now)
        outcome = RelinkOutcome()
        with self._connect() as conn:
            for move in moves:
                values = {"salesforce_type": move.new_type, "salesforce_id": move.new_id}
                column = links.c.salesforce_id
                _move(conn, pair, column, move.old_id, move.new_id, values, at, outcome)
        return outcome

    def unlink(self, pair: str, side: str, ids: Iterable[str]) -> list[StoredLink]:
        """Forget the links of these records (ids on `side`); returns the links removed."""
        column = _side_column(side)
        removed: list[StoredLink] = []
        with self._connect() as conn:
            for part in chunks(list(dict.fromkeys(ids))):
                where = (links.c.pair == pair, in_ids(conn, column, part))
                removed.extend(_to_link(row) for row in conn.execute(_LINK.where(*where)))
                conn.execute(delete(links).where(*where))
        return removed

    def mark_deleted(
        self, pair: str, side: str, ids: Iterable[str], *, now: int | None = None
    ) -> int:
        """Flag links whose record on `side` was deleted (kept, so nothing is re-created)."""
        column = _side_column(side)
        values = {"deleted_on": Side(side).value, "deleted_at": now_ms(now)}
        changed = 0
        with self._connect() as conn:
            for part in chunks(list(dict.fromkeys(ids))):
                stmt = (
                    update(links)
                    .where(links.c.pair == pair, in_ids(conn, column, part))
                    .values(values)
                )
                changed += conn.execute(stmt).rowcount
        return changed

    def count(self, pair: str | None = None) -> dict[str, int]:
        """Number of live (not deleted) links per pair."""
        stmt = select(links.c.pair, func.count()).where(links.c.deleted_on.is_(None))
        if pair is not None:
            stmt = stmt.where(links.c.pair == pair)
        with self._connect() as conn:
            return {p: n for p, n in conn.execute(stmt.group_by(links.c.pair))}

    def iter_pair(self, pair: str, *, batch_size: int = 1000) -> Iterator[list[StoredLink]]:
        """All links of `pair` in pages (keyset on the row id), for reconciles and exports."""
        after = 0
        while True:
            stmt = (
                _LINK.where(links.c.pair == pair, links.c.id > after)
                .order_by(links.c.id)
                .limit(batch_size)
            )
            with self._connect() as conn:
                rows = conn.execute(stmt).all()
            if not rows:
                return
            after = rows[-1].id
            yield [_to_link(row) for row in rows]


def _move(
    conn: Connection,
    pair: str,
    column: Any,
    old_id: str,
    new_id: str,
    values: Mapping[str, str],
    at: int,
    outcome: RelinkOutcome,
) -> None:
    """Move one link from `old_id` to `new_id` on `column`'s side, or drop it on a clash."""
    old = conn.execute(_LINK.where(links.c.pair == pair, column == old_id)).one_or_none()
    if old is None or old_id == new_id:
        return
    clash = conn.execute(select(links.c.id).where(links.c.pair == pair, column == new_id)).first()
    if clash is not None:
        conn.execute(delete(links).where(links.c.id == old.id))
        outcome.dropped.append(_to_link(old))
        return
    revived = {**values, "deleted_on": None, "deleted_at": None, "updated_at": at}
    conn.execute(update(links).where(links.c.id == old.id).values(revived))
    moved = conn.execute(_LINK.where(links.c.id == old.id)).one()
    outcome.moved.append(_to_link(moved))


def _ids_by(
    conn: Connection, pair: str, column: Any, ids: Sequence[str]
) -> dict[str, tuple[int, str, str]]:
    """(row id, salesforce_type, salesforce_id) of existing links, keyed by `column`'s value."""
    found: dict[str, tuple[int, str, str]] = {}
    cols = ("id", "salesforce_type", "salesforce_id", column.name)
    for part in chunks(ids):
        rows = select_in(conn, links, cols, {"pair": pair}, column.name, part)
        for row_id, sf_type, sf_id, key in rows:
            found[key] = (row_id, sf_type, sf_id)
    return found


__all__ = [
    "LinkConflict",
    "LinkLike",
    "LinkRepository",
    "RelinkOutcome",
    "SalesforceMove",
    "StoredLink",
]
