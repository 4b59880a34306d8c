"""Read cursors: per object pair and side, the opaque position the next read starts from.

A cursor is written in the same unit of work as the batch's links, audit and failures, so it
only ever moves past changes that reached an end (invariant 2).
"""

from __future__ import annotations

from sqlalchemy import delete, select

from hubforce.store.bulk import upsert_one
from hubforce.store.session import Connect, now_ms
from hubforce.store.tables import cursors


class CursorRepository:
    """Get and set cursors; values are opaque strings owned by the connectors."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def get(self, pair: str, side: str) -> str | None:
        """The cursor of `pair` on `side`, or None before the first read."""
        stmt = select(cursors.c.value).where(cursors.c.pair == pair, cursors.c.side == str(side))
        with self._connect() as conn:
            return conn.execute(stmt).scalar_one_or_none()

    def get_all(self) -> dict[tuple[str, str], str]:
        """Every cursor, keyed by (pair, side)."""
        stmt = select(cursors.c.pair, cursors.c.side, cursors.c.value)
        with self._connect() as conn:
            return {(p, s): v for p, s, v in conn.execute(stmt)}

    def set(self, pair: str, side: str, value: str, *, now: int | None = None) -> None:
        """Move the cursor of `pair` on `side` to `value`."""
        row = {"pair": pair, "side": str(side), "value": value, "updated_at": now_ms(now)}
        with self._connect() as conn:
            upsert_one(conn, cursors, row, ("pair", "side"))

    def clear(self, pair: str | None = None) -> int:
        """Forget cursors (all, or one pair's) so the next cycle reads everything again."""
        stmt = delete(cursors) if pair is None else delete(cursors).where(cursors.c.pair == pair)
        with self._connect() as conn:
            return conn.execute(stmt).rowcount
