"""Opening and migrating the store, units of work, and per-backend engine settings."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from hubforce.errors import StoreError
from hubforce.store import Store, create_store_engine, current_revision, open_store, upgrade
from hubforce.store.db import MIGRATIONS
from hubforce.store.tables import metadata
from hubforce.sync.model import Link, Side
from tests.unit.store.backends import PostgresBackend, SQLiteBackend


def _head_config() -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return config


# The newest migration: every store opened by the code must be at it (one head, no branches).
HEAD = ScriptDirectory.from_config(_head_config()).get_current_head()


def link(hubspot_id: str, salesforce_id: str) -> Link:
    return Link("contacts", hubspot_id, "Contact", salesforce_id)


class DatabaseContract:
    def test_migrated_schema_equals_the_table_metadata(self, store: Store) -> None:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)

        assert diff == []
        assert current_revision(store.engine) == HEAD

    def test_unit_of_work_commits_links_and_cursor_together(self, store: Store) -> None:
        with store.transaction() as uow:
            uow.links.upsert_many([link("1", "003000000000000001")])
            uow.cursors.set("contacts", Side.HUBSPOT, "cursor-1")

        assert store.links.count() == {"contacts": 1}
        assert store.cursors.get("contacts", Side.HUBSPOT) == "cursor-1"

    def test_unit_of_work_rolls_everything_back_when_the_batch_fails(self, store: Store) -> None:
        store.cursors.set("contacts", Side.HUBSPOT, "before")

        with pytest.raises(RuntimeError, match="crash"), store.transaction() as uow:
            uow.links.upsert_many([link("1", "003000000000000001")])
            uow.cursors.set("contacts", Side.HUBSPOT, "after")
            raise RuntimeError("crash between bookkeeping and commit")

        assert store.links.count() == {}
        assert store.cursors.get("contacts", Side.HUBSPOT) == "before"

    def test_store_calls_inside_a_transaction_join_it(self, store: Store) -> None:
        with pytest.raises(RuntimeError), store.transaction():
            store.links.upsert_many([link("1", "003000000000000001")])
            with store.transaction() as inner:  # nested: the same unit of work
                inner.cursors.set("contacts", Side.SALESFORCE, "x")
            assert store.links.count() == {"contacts": 1}  # sees its own uncommitted write
            raise RuntimeError

        assert store.links.count() == {}
        assert store.cursors.get("contacts", Side.SALESFORCE) is None

    def test_workers_opening_a_new_store_at_once_migrate_it_once(
        self, fresh_location: dict[str, Any]
    ) -> None:
        def open_and_write(n: int) -> str | None:
            with open_store(**fresh_location) as opened:
                opened.cursors.set("contacts", Side.HUBSPOT, f"worker-{n}")
                return current_revision(opened.engine)

        with ThreadPoolExecutor(max_workers=4) as pool:
            revisions = list(pool.map(open_and_write, range(4)))

        assert revisions == [HEAD] * 4
        with open_store(**fresh_location) as opened:
            assert opened.cursors.get("contacts", Side.HUBSPOT) in {f"worker-{n}" for n in range(4)}

    def test_calls_on_another_store_do_not_join_this_ones_transaction(
        self, store: Store, tmp_path: Path
    ) -> None:
        with open_store(tmp_path / "other.db") as other:
            with pytest.raises(RuntimeError), store.transaction():
                store.cursors.set("contacts", Side.HUBSPOT, "rolled back")
                other.cursors.set("contacts", Side.HUBSPOT, "committed")
                raise RuntimeError

            assert store.cursors.get("contacts", Side.HUBSPOT) is None
            assert other.cursors.get("contacts", Side.HUBSPOT) == "committed"


class TestDatabaseSQLite(DatabaseContract, SQLiteBackend):
    def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(self, store: Store) -> None:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000


class TestDatabasePostgres(DatabaseContract, PostgresBackend):
    def test_postgres_store_lives_in_its_own_schema(self, store: Store) -> None:
        with store.engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar()
            tables = conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"), {"s": schema}
            ).scalar()

        assert str(schema).startswith("hf_test_")
        assert tables == len(metadata.tables) + 1  # and alembic_version


def test_a_store_is_unmigrated_until_opened(tmp_path: Path) -> None:
    engine = create_store_engine(tmp_path / "raw.db")
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        upgrade(engine)  # idempotent
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_open_store_creates_the_directory_and_reopening_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "state.db"
    with open_store(path) as first:
        first.cursors.set("deals", Side.HUBSPOT, "c1")
    with open_store(f"sqlite:///{path}") as again:
        assert again.cursors.get("deals", Side.HUBSPOT) == "c1"
        assert current_revision(again.engine) == HEAD


def test_in_memory_sqlite_keeps_one_database_across_calls() -> None:
    with open_store("sqlite://") as store:
        store.cursors.set("deals", Side.HUBSPOT, "c1")
        assert store.cursors.get("deals", Side.HUBSPOT) == "c1"


def test_plain_postgresql_urls_use_the_psycopg_driver() -> None:
    engine = create_store_engine("postgresql://user:secret@localhost:1/db")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
    finally:
        engine.dispose()


def test_unsupported_backend_is_refused_with_a_hint() -> None:
    with pytest.raises(StoreError, match="unsupported state store backend 'mysql'") as exc:
        create_store_engine("mysql://localhost/db")
    assert "postgresql+psycopg://" in exc.value.hint


def test_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot open the state store") as exc:
        open_store("postgresql+psycopg://hub:s3cr3t-pw@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "s3cr3t-pw" not in str(exc.value)
    assert "connections.store.url" in exc.value.hint


def test_a_sqlite_path_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    with pytest.raises(StoreError, match="cannot create the folder") as exc:
        open_store(blocker / "state.db")
    assert "connections.store.url" in exc.value.hint


def test_schema_names_are_validated_and_sqlite_has_none(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="invalid schema name"):
        create_store_engine("postgresql+psycopg://localhost/db", schema='x"; DROP TABLE links')
    with pytest.raises(StoreError, match="only be chosen on PostgreSQL"):
        create_store_engine(tmp_path / "a.db", schema="s")
