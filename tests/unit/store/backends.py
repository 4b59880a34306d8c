"""The two backends every store contract runs on: a SQLite file and a PostgreSQL schema.

A contract is a plain class of tests using the `store` fixture; `test_<module>.py` subclasses
it once per backend (`class TestLinksSQLite(LinksContract, SQLiteBackend)`).

SQLite: the migrated database is built once per class and copied for each test (migrations
run once, every test starts from an empty store). PostgreSQL: one fresh schema per class and
process (names carry the pid and a random suffix, so xdist workers never collide), emptied
before each test and dropped after the class; skipped when HUBFORCE_TEST_POSTGRES_URL is unset.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from hubforce.store import Store, open_store
from hubforce.store.tables import metadata

POSTGRES_ENV = "HUBFORCE_TEST_POSTGRES_URL"


class SQLiteBackend:
    """Runs a contract on a fresh SQLite file per test."""

    backend = "sqlite"

    @pytest.fixture(scope="class")
    @classmethod
    def _template(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        path = tmp_path_factory.mktemp("store-template") / "state.db"
        open_store(path).close()  # migrate once; dispose checkpoints the WAL into the file
        return path

    @pytest.fixture
    def fresh_location(self, tmp_path: Path) -> dict[str, Any]:
        """open_store arguments for a new, never migrated store."""
        return {"url": tmp_path / "fresh" / "state.db"}

    @pytest.fixture
    def store(self, _template: Path, tmp_path: Path) -> Iterator[Store]:
        path = tmp_path / "state.db"
        shutil.copyfile(_template, path)
        opened = open_store(path)
        yield opened
        opened.close()


def postgres_url() -> str:
    """The test server's URL, or skip with the reason."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        pytest.skip(
            f"{POSTGRES_ENV} is not set: the PostgreSQL store tests need a server "
            "(CI sets it to postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    return url


def fresh_schema_name() -> str:
    """A schema name unique to this process and call."""
    return f"hf_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def drop_schema(url: str, schema: str) -> None:
    """Drop a test schema and everything in it."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


@pytest.mark.postgres
class PostgresBackend:
    """Runs a contract in one fresh PostgreSQL schema per class, emptied before each test."""

    backend = "postgresql"

    @pytest.fixture(scope="class")
    @classmethod
    def _class_store(cls) -> Iterator[Store]:
        url = postgres_url()
        schema = fresh_schema_name()
        opened = open_store(url, schema=schema)
        try:
            yield opened
        finally:
            opened.close()
            drop_schema(url, schema)

    @pytest.fixture
    def fresh_location(self) -> Iterator[dict[str, Any]]:
        """open_store arguments for a new, never migrated store (a schema dropped after)."""
        url, schema = postgres_url(), fresh_schema_name()
        try:
            yield {"url": url, "schema": schema}
        finally:
            drop_schema(url, schema)

    @pytest.fixture
    def store(self, _class_store: Store) -> Store:
        names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
        with _class_store.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return _class_store
