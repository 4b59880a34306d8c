"""Settling creates: the values a server filled in are planned against the fresh links.

Planner level (the sim world of tests/unit/sync): a server that fills fields on create, then
the settle's plan applied, leaves a world a full re-read plans nothing for. Engine level (fake
clients): which created records are read back and what follow-ups come out.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubforce.connectors.records import RemoteRecord
from hubforce.engine.fetching import holding_snapshot
from hubforce.engine.lookup import LinkLookup
from hubforce.engine.reading import to_changes
from hubforce.engine.settling import created_links, settle_creates
from hubforce.engine.writing import RecordOutcome
from hubforce.sync.model import Link, Side
from hubforce.sync.operations import Update
from hubforce.sync.plan import plan_changes
from tests.unit.engine.fakes import T0, FakeHubSpot, FakeSalesforce, context, linked_store
from tests.unit.sync.sim import FIELD_VALUES, SIM_MAPPING, World, records

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def unsynced_worlds(draw: st.DrawFn) -> World:
    world = World()
    for n in range(draw(st.integers(1, 4))):
        world.put(Side.HUBSPOT, f"ho{n}", draw(records()))
    for n in range(draw(st.integers(0, 3))):
        world.put(Side.SALESFORCE, f"so{n}", draw(records()))
    return world


def _created(world: World) -> list[tuple[Link, Side]]:
    """The links of records the first cycle created (the sim names new ids S…/H…)."""
    out: list[tuple[Link, Side]] = []
    for link in world.links.values():
        if link.salesforce_id.startswith("S"):
            out.append((link, Side.SALESFORCE))
        elif link.hubspot_id.startswith("H"):
            out.append((link, Side.HUBSPOT))
    return out


@SETTINGS
@given(unsynced_worlds(), st.data())
def test_settled_creates_leave_nothing_for_the_next_cycle(
    world: World, data: st.DataObject
) -> None:
    world.cycle(world.read_all())  # creates both ways
    made = _created(world)
    # The servers fill fields in on create (defaults, assignment rules, triggers).
    for link, side in made:
        filled = data.draw(st.sets(st.sampled_from(sorted(FIELD_VALUES)), max_size=3))
        values = {key: data.draw(FIELD_VALUES[key]) for key in sorted(filled)}
        if values:
            record_id = link.salesforce_id if side is Side.SALESFORCE else link.hubspot_id
            world.put(side, record_id, values)

    # The settle: the created records as stored, planned against their fresh links.
    stored = [
        world.read(side, link.salesforce_id if side is Side.SALESFORCE else link.hubspot_id)
        for link, side in made
    ]
    world.apply(plan_changes(SIM_MAPPING, stored, [link for link, _ in made]))

    again = world.cycle(world.read_all())
    assert again.operations() == [], again.operations()


@SETTINGS
@given(unsynced_worlds(), st.data())
def test_a_record_holding_its_snapshot_plans_nothing_on_its_own(
    world: World, data: st.DataObject
) -> None:
    world.cycle(world.read_all())
    links = list(world.links.values())
    # After a converged cycle every record holds its image: no twin would be read.
    everything = world.read_all()
    assert {(c.ref.side, c.ref.id) for c in everything} == holding_snapshot(
        SIM_MAPPING, links, everything
    )
    for link in data.draw(st.lists(st.sampled_from(links), max_size=3)) if links else []:
        side = data.draw(st.sampled_from([Side.HUBSPOT, Side.SALESFORCE]))
        world.put(
            side,
            link.hubspot_id if side is Side.HUBSPOT else link.salesforce_id,
            data.draw(records()),
        )
    changes = world.read_all()
    in_sync = holding_snapshot(SIM_MAPPING, links, changes)
    by_id = {
        (side, link.hubspot_id if side is Side.HUBSPOT else link.salesforce_id): link
        for link in links
        for side in Side
    }
    for change in changes:
        if (change.ref.side, change.ref.id) not in in_sync:
            continue
        # Planned without its twin, it asks for nothing: the twin was not needed.
        [record] = plan_changes(SIM_MAPPING, [change], links).records
        link = by_id[(change.ref.side, change.ref.id)]
        assert record.operations == [] and record.snapshot == link.snapshot, change


# -- engine level -----------------------------------------------------------------------------


def test_a_created_lead_is_read_back_and_its_default_status_planned_for_hubspot(
    tmp_path: Path,
) -> None:
    store = linked_store(tmp_path, range(0))
    salesforce = FakeSalesforce()
    ctx = context(store, FakeHubSpot({}), salesforce)
    mapping = ctx.mappings["contacts"]
    lookup = LinkLookup(store)
    source = RemoteRecord(
        "501",
        {"email": "new@x.test", "lastname": "New", "hs_lead_status": None, "jobtitle": None},
        T0,
        "contacts",
    )
    changes, _ = to_changes(mapping, Side.HUBSPOT, [source], lookup)
    plan = plan_changes(mapping, changes, [])
    created_id = "00Q000000000777AAA"
    outcomes = [RecordOutcome(created={Side.SALESFORCE: created_id})]
    # What Salesforce stored: the Status picklist's default, which was never sent.
    salesforce.rows = [
        {
            "attributes": {"type": "Lead"},
            "Id": created_id,
            "SystemModstamp": "2024-01-01T00:00:00.000+0000",
            "LastModifiedDate": "2024-01-01T00:00:00.000+0000",
            "Email": "new@x.test",
            "LastName": "New",
            "Company": "[not provided]",
            "Status": "Open - Not Contacted",
            "Title": None,
        }
    ]

    [(link, side, answer)] = created_links(mapping, plan.records, outcomes)
    settled = asyncio.run(settle_creates(ctx, mapping, lookup, plan.records, outcomes))

    assert (link.hubspot_id, link.salesforce_id, side, answer) == (
        "501",
        created_id,
        Side.SALESFORCE,
        None,
    )
    assert link.snapshot == plan.records[0].snapshot
    assert salesforce.read_ids == [created_id]
    assert settled.read_back == {Side.SALESFORCE: 1}
    [record] = settled.plan.records
    [update] = record.operations
    assert isinstance(update, Update)
    assert (update.target.side, update.target.id, update.values) == (
        Side.HUBSPOT,
        "501",
        {"hs_lead_status": "NEW"},
    )
    assert record.snapshot is not None and record.snapshot.hubspot["hs_lead_status"] == "NEW"
    store.close()


def test_a_hubspot_create_is_settled_from_its_answer_without_a_call(tmp_path: Path) -> None:
    store = linked_store(tmp_path, range(0))
    hubspot = FakeHubSpot({})
    ctx = context(store, hubspot, FakeSalesforce())
    mapping = ctx.mappings["contacts"]
    lookup = LinkLookup(store)
    lead = RemoteRecord(
        "00Q000000000888AAA",
        {"Email": "Lead@X.test", "LastName": "Lead", "Title": "CEO"},
        T0,
        "Lead",
    )
    changes, _ = to_changes(mapping, Side.SALESFORCE, [lead], lookup)
    plan = plan_changes(mapping, changes, [])
    answer = RemoteRecord("901", {"email": "lead@x.test", "lastname": "Lead"}, T0, "contacts")
    outcomes = [RecordOutcome(created={Side.HUBSPOT: "901"}, stored={Side.HUBSPOT: answer})]

    settled = asyncio.run(settle_creates(ctx, mapping, lookup, plan.records, outcomes))

    assert hubspot.calls.total == 0  # the answer said it all
    assert settled.read_back == {Side.HUBSPOT: 1}
    assert settled.plan.records == []  # stored as planned: nothing to follow up
    store.close()
