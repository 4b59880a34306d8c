"""Cursors: opaque positions per pair and side."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from hubforce.store import Store
from hubforce.sync.model import Side
from tests.unit.store.backends import PostgresBackend, SQLiteBackend


class CursorsContract:
    def test_cursor_is_none_until_set_then_moves(self, store: Store) -> None:
        assert store.cursors.get("contacts", Side.HUBSPOT) is None

        store.cursors.set("contacts", Side.HUBSPOT, "1700000000000:101", now=1)
        store.cursors.set("contacts", Side.HUBSPOT, "1700000000500:204", now=2)
        store.cursors.set("contacts", Side.SALESFORCE, "2026-11-28T21:00:00.000Z", now=3)

        assert store.cursors.get("contacts", Side.HUBSPOT) == "1700000000500:204"
        assert store.cursors.get_all() == {
            ("contacts", "hubspot"): "1700000000500:204",
            ("contacts", "salesforce"): "2026-11-28T21:00:00.000Z",
        }

    def test_clear_forgets_one_pair_or_all(self, store: Store) -> None:
        for pair in ("contacts", "deals"):
            store.cursors.set(pair, Side.HUBSPOT, "x")

        assert store.cursors.clear("deals") == 1
        assert list(store.cursors.get_all()) == [("contacts", "hubspot")]
        assert store.cursors.clear() == 1
        assert store.cursors.get_all() == {}

    def test_concurrent_first_writes_of_one_cursor_never_collide(self, store: Store) -> None:
        def write(n: int) -> None:
            for round_ in range(10):
                store.cursors.set("deals", Side.SALESFORCE, f"{n}:{round_}")

        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(write, range(6)))  # re-raises any worker's error

        final = store.cursors.get("deals", Side.SALESFORCE)
        assert final is not None and final.endswith(":9")
        assert len(store.cursors.get_all()) == 1


class TestCursorsSQLite(CursorsContract, SQLiteBackend):
    pass


class TestCursorsPostgres(CursorsContract, PostgresBackend):
    pass
