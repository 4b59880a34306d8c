"""Inside a cycle: the next round is read while a round is written, both sides' reads run at
once, cursors move only with committed rounds, and an error stops the read ahead cleanly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hubforce.engine.cycle import run_cycle
from hubforce.engine.reading import Cursor
from hubforce.sync.model import Side
from tests.unit.engine.fakes import (
    T0,
    FakeHubSpot,
    FakeSalesforce,
    context,
    gate,
    hs_id,
    linked_store,
    sf_id,
)

PAIRS = range(300)


def test_the_next_round_is_read_while_a_round_is_written_never_two_ahead(
    tmp_path: Path,
) -> None:
    store = linked_store(tmp_path, PAIRS)
    hubspot = FakeHubSpot({n: f"new {n}" for n in PAIRS}, page_size=100)
    salesforce = FakeSalesforce()
    served_at_write: list[int] = []

    async def before_update(call: int) -> None:
        if call == 1:
            # Round 1's write can only finish once round 2 has been read: a cycle that reads
            # after writing would time out here.
            await gate(hubspot.served[2])
        served_at_write.append(hubspot.pages_served)

    salesforce.before_update = before_update

    options = {"round_size": 100, "read_ahead": 1}
    report = asyncio.run(run_cycle(context(store, hubspot, salesforce, **options)))

    assert report.writes == 300
    assert sorted(rid for rid, _ in salesforce.updated) == sorted(sf_id(n) for n in PAIRS)
    # While round n is written, round n + 1 may have been read, never round n + 2.
    assert served_at_write[0] == 2
    assert all(served <= n + 1 for n, served in enumerate(served_at_write, start=1))
    cursor = Cursor.loads(store.cursors.get("contacts", "hubspot"))
    assert cursor.changed["contacts"][1] == ""  # read to the signpost
    store.close()


@pytest.mark.parametrize("read_ahead", [1, 2, 4])
def test_reads_never_get_more_than_read_ahead_rounds_ahead_of_the_round_written(
    tmp_path: Path, read_ahead: int
) -> None:
    pairs = range(1000)  # ten rounds of one page each
    store = linked_store(tmp_path, pairs)
    hubspot = FakeHubSpot({n: f"new {n}" for n in pairs}, page_size=100)
    salesforce = FakeSalesforce()
    written: list[int] = []  # write calls finished
    ahead: list[int] = []  # per page read: rounds read ahead of the round in progress

    async def before_page(n: int) -> None:
        # Page n is round n; the round in progress is the first one not written yet.
        ahead.append(n - (len(written) + 1))

    async def before_update(call: int) -> None:
        if call == 1:
            # Hold round 1's write until the reader is read_ahead rounds ahead, then let it
            # run as far as it would (a few turns of the loop; the fakes never wait).
            await gate(hubspot.served[1 + read_ahead])
            for _ in range(20):
                await asyncio.sleep(0)

    hubspot.before_page = before_page
    salesforce.before_update = before_update

    def count_write(pair: str, side: Side, kind: str, count: int) -> None:
        written.append(count)

    options = {"round_size": 100, "read_ahead": read_ahead, "after_write": count_write}
    report = asyncio.run(run_cycle(context(store, hubspot, salesforce, **options)))

    assert report.writes == 1000
    assert max(ahead) == read_ahead  # reached the bound while round 1 was held ...
    assert ahead[read_ahead] == read_ahead  # ... with round 1 in progress
    assert len(ahead) == 10  # every round read once


def test_both_sides_of_a_round_are_read_at_the_same_time(tmp_path: Path) -> None:
    store = linked_store(tmp_path, range(3))
    hubspot = FakeHubSpot({0: "new"})
    salesforce = FakeSalesforce({1: "changed in Salesforce"})

    async def before_page(n: int) -> None:
        await gate(salesforce.queried)  # HubSpot's first page waits for Salesforce's query

    hubspot.before_page = before_page

    report = asyncio.run(run_cycle(context(store, hubspot, salesforce)))

    assert report.writes == 2
    assert [rid for rid, _ in salesforce.updated] == [sf_id(0)]
    assert [rid for rid, _ in hubspot.updated] == [hs_id(1)]
    store.close()


def test_a_failed_round_keeps_the_cursor_of_the_last_committed_round_and_stops_the_read_ahead(
    tmp_path: Path,
) -> None:
    store = linked_store(tmp_path, PAIRS)
    hubspot = FakeHubSpot({n: f"new {n}" for n in PAIRS}, page_size=100)
    salesforce = FakeSalesforce()
    stopped: list[int] = []
    never = asyncio.Event()

    async def before_page(n: int) -> None:
        if n == 3:
            try:
                await never.wait()  # round 3 is being read ahead when round 2 fails
            except asyncio.CancelledError:
                stopped.append(n)
                raise

    async def before_update(call: int) -> None:
        if call == 2:
            await gate(hubspot.served[2])
            await asyncio.sleep(0)  # let the read ahead of round 3 start
            raise RuntimeError("Salesforce went away")

    hubspot.before_page = before_page
    salesforce.before_update = before_update

    async def cycle() -> set[asyncio.Task[object]]:
        with pytest.raises(RuntimeError, match="went away"):
            await run_cycle(context(store, hubspot, salesforce, round_size=100))
        return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}

    left_running = asyncio.run(cycle())

    assert left_running == set()  # nothing left behind to be destroyed pending
    assert stopped == [3]  # the read ahead was cancelled, not abandoned
    cursor = Cursor.loads(store.cursors.get("contacts", "hubspot"))
    assert cursor.changed["contacts"] == (T0 + 99, hs_id(99))  # round 1 only
    assert len(salesforce.updated) == 100
    run = store.runs.latest(kind="sync")
    assert run is not None and run.status == "failed"
    store.close()


def test_a_twin_is_read_only_for_records_that_changed_against_their_snapshot(
    tmp_path: Path,
) -> None:
    store = linked_store(tmp_path, range(200))
    # HubSpot has more than a round to read (so it is not read to the end with round 1):
    # contacts 0-99 changed, 100-199 still hold the snapshot.
    hubspot = FakeHubSpot({n: "new" if n < 100 else "old" for n in range(200)}, page_size=100)
    # Salesforce: Leads 150-159 were touched but hold the snapshot; 160-164 changed.
    titles = {n: "old" for n in range(150, 160)} | {n: "sf new" for n in range(160, 165)}
    salesforce = FakeSalesforce(titles)

    report = asyncio.run(run_cycle(context(store, hubspot, salesforce, round_size=100)))

    # Only the changed Leads needed their HubSpot twins' current values.
    assert hubspot.read_ids == [hs_id(n) for n in range(160, 165)]
    assert sorted(rid for rid, _ in hubspot.updated) == [hs_id(n) for n in range(160, 165)]
    # Round 2 read those contacts ahead, before round 1 wrote them: their stale copies are
    # passed over instead of being taken for a change back to the old title.
    assert not {sf_id(n) for n in range(160, 165)} & {rid for rid, _ in salesforce.updated}
    assert report.writes == 105
    store.close()


def test_a_converted_lead_read_as_a_twin_is_still_followed_when_its_stream_copy_comes(
    tmp_path: Path,
) -> None:
    store = linked_store(tmp_path, range(300))
    hubspot = FakeHubSpot({0: "new"})  # contact 0 changed: its Lead is read as a twin
    # Salesforce has two pages: Lead 0, converted to a Contact, is on the second one.
    salesforce = FakeSalesforce({n: "old" for n in range(100, 200)}, page_size=100)
    contact = "003000000000123AAA"
    converted = {
        "attributes": {"type": "Lead"},
        "Id": sf_id(0),
        "SystemModstamp": "2023-11-14T23:00:00.000+0000",
        "LastModifiedDate": "2023-11-14T23:00:00.000+0000",
        "IsDeleted": False,
        "IsConverted": True,
        "ConvertedContactId": contact,
        "Title": "old",
    }
    salesforce.rows.append(converted)

    report = asyncio.run(run_cycle(context(store, hubspot, salesforce, round_size=100)))

    assert salesforce.read_ids == [sf_id(0)]  # the twin read of round 1
    link = store.links.get("contacts", "hubspot", hs_id(0))
    assert link is not None and (link.salesforce_type, link.salesforce_id) == ("Contact", contact)
    assert report.pairs[0].relinked == 1
    store.close()
