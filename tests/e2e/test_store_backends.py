"""One end-to-end scenario on each store backend: SQLite always, PostgreSQL when
HUBFORCE_TEST_POSTGRES_URL is set (CI sets it; a fresh schema per test, dropped after)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hubforce.store import Store, open_store
from hubforce.sync.model import Side
from tests.e2e.conftest import Harness

POSTGRES_ENV = "HUBFORCE_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """A harness whose store is SQLite or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        h = Harness(tmp_path)
        yield h
        h.close()
        return
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL server to run on")
    schema = f"hf_e2e_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    store: Store = open_store(url, schema=schema)
    h = Harness(tmp_path, store=store)
    try:
        yield h
    finally:
        h.close()
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def test_sync_converges_and_recovers_on_every_store_backend(backend_harness: Harness) -> None:
    h = backend_harness
    h.seed(people=20, companies=6, deals=4)
    first = h.sync()
    assert first.writes > 0
    contact = next(
        c for c in h.hs_all("contacts", "email") if h.link("contacts", Side.HUBSPOT, c["id"])
    )
    h.hs_patch("contacts", contact["id"], {"jobtitle": "Backend Tester"})
    second = h.sync()
    assert second.writes == 1
    link = h.link("contacts", Side.HUBSPOT, contact["id"])
    rows = h.soql(f"SELECT Title FROM {link.salesforce_type} WHERE Id = '{link.salesforce_id}'")
    assert rows[0]["Title"] == "Backend Tester"
    h.reset_stats()
    assert h.sync().writes == 0
    assert h.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}
    assert h.store.links.count()["contacts"] == len(h.hs_all("contacts", "email"))
    assert h.store.runs.latest(kind="sync") is not None
