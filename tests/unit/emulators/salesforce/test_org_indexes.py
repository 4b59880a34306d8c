"""The Org keeps its sorted dateTime indexes in step with every write the SOQL engine reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.salesforce.models import Org
from hubforce.emulators.salesforce.query_engine import compile_for_org, run_for_org

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SYNC = "SELECT Id FROM Lead WHERE SystemModstamp > {since} "


@pytest.fixture
def org() -> Org:
    return Org(clock=EmulatorClock(START, frozen=True))


def ids(
    org: Org, order: str, *, include_deleted: bool = False, since: str = "2026-03-02T12:00:30Z"
) -> list[str]:
    """The sync query's ids through the index, after checking a full scan agrees."""
    compiled = compile_for_org(org, SYNC.format(since=since) + order)
    scanned = compiled.run(org.records["Lead"].values(), include_deleted=include_deleted)
    indexed = run_for_org(org, compiled, include_deleted=include_deleted)
    assert indexed == scanned
    return [r["Id"] for r in indexed]


def test_writes_move_rows_in_the_index(org: Org) -> None:
    leads = []
    for n in range(5):
        org.clock.advance(20)  # stamps 12:00:20, :40, 01:00, 01:20, 01:40
        leads.append(org.create("Lead", {"LastName": f"L{n}", "Company": "C"}))
    a, b, c, d, e = leads
    assert ids(org, "ORDER BY SystemModstamp LIMIT 2") == [b, c]  # builds the index
    org.clock.advance(20)
    org.update("Lead", a, {"Title": "CEO"})  # out of range -> newest
    org.delete("Lead", c)  # touched: newest, but deleted
    assert ids(org, "ORDER BY SystemModstamp") == [b, d, e, a]
    assert ids(org, "ORDER BY SystemModstamp DESC, Id", include_deleted=True) == [a, c, e, d, b]
    org.clock.advance(20)
    org.begin()
    org.update("Lead", b, {"Title": "X"})
    new = org.create("Lead", {"LastName": "N", "Company": "C"})
    org.rollback()  # b goes back to its old stamp, the new row disappears
    assert new not in org.records["Lead"]
    assert ids(org, "ORDER BY SystemModstamp LIMIT 3") == [b, d, e]
    org.convert_lead(d)
    assert ids(org, "ORDER BY SystemModstamp DESC LIMIT 1") == [d]


def test_imported_and_bulk_seeded_rows_are_indexed(org: Org) -> None:
    org.create("Lead", {"LastName": "Old", "Company": "C"})
    assert ids(org, "ORDER BY SystemModstamp") == []
    state = org.export_state()
    state["records"]["Lead"][0]["SystemModstamp"] = "2026-03-02T13:00:00.000+0000"
    org.import_state(state)
    imported = state["records"]["Lead"][0]["Id"]
    assert ids(org, "ORDER BY SystemModstamp") == [imported]
    org.seed({"people": 0, "companies": 0, "deals": 0, "reps": 0, "extra_leads": 300})
    # Seeded Leads are dated over the past 90 days, so they sort before the imported one.
    newest = ids(org, "ORDER BY SystemModstamp DESC LIMIT 50", since="2025-01-01T00:00:00Z")
    assert len(newest) == 50 and newest[0] == imported
