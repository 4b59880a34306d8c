"""Planner properties over random worlds: idempotence, no echo, convergence, no lost update."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubforce.sync.mapping import fit
from hubforce.sync.model import CanonicalValue, Link, Side
from tests.unit.sync.sim import (
    HS_TYPE,
    SF_TYPE,
    SIM_MAPPING,
    SYNCED_KEYS,
    TWO_WAY_KEYS,
    World,
    records,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def worlds(draw: st.DrawFn) -> World:
    world = World()
    for n in range(draw(st.integers(0, 4))):  # matched pairs, never synced
        hs_id, sf_id = f"h{n}", f"s{n}"
        world.put(Side.HUBSPOT, hs_id, draw(records()), at=draw(st.integers(1, 50)) * 1000)
        world.put(Side.SALESFORCE, sf_id, draw(records()), at=draw(st.integers(1, 50)) * 1000)
        world.links[hs_id] = Link("contacts", hs_id, SF_TYPE, sf_id, None)
    for n in range(draw(st.integers(0, 3))):
        world.put(Side.HUBSPOT, f"ho{n}", draw(records()))
    for n in range(draw(st.integers(0, 3))):
        world.put(Side.SALESFORCE, f"so{n}", draw(records()))
    return world


def _value(world: World, side: Side, record_id: str, key: str) -> CanonicalValue:
    change = world.read(side, record_id)
    if key in change.values:
        return change.values[key]
    spec = SIM_MAPPING.spec(key)
    return fit(spec, side, HS_TYPE if side is Side.HUBSPOT else SF_TYPE, None)[0]


def _agree(world: World, link: Link, key: str) -> bool:
    spec = SIM_MAPPING.spec(key)
    hs = _value(world, Side.HUBSPOT, link.hubspot_id, key)
    sf = _value(world, Side.SALESFORCE, link.salesforce_id, key)
    return hs == sf or fit(spec, Side.SALESFORCE, SF_TYPE, hs)[0] == sf


@SETTINGS
@given(worlds())
def test_first_sync_then_nothing(world: World) -> None:
    """After one cycle every record is linked and a full re-read plans no operation."""
    unlinked = len(world.hubspot) + len(world.salesforce) - 2 * len(world.links)
    world.cycle(world.read_all())
    assert len(world.hubspot) == len(world.salesforce) == len(world.links)
    assert unlinked >= 0
    # No duplicates: the links are a one-to-one map between the two sides' records.
    assert set(world.links) == set(world.hubspot)
    assert {link.salesforce_id for link in world.links.values()} == set(world.salesforce)
    again = world.cycle(world.read_all())
    assert again.operations() == [], again.operations()


@SETTINGS
@given(worlds())
def test_first_sync_converges_every_synced_field(world: World) -> None:
    world.cycle(world.read_all())
    for link in world.links.values():
        for key in SYNCED_KEYS:
            assert _agree(world, link, key), (key, link)


@SETTINGS
@given(worlds(), st.data())
def test_edits_propagate_and_settle(world: World, data: st.DataObject) -> None:
    """Edits on both sides: changed records only are read; then convergence and no echo."""
    world.cycle(world.read_all())
    links = sorted(world.links.values(), key=lambda link: link.hubspot_id)
    if not links:
        return
    expected: dict[tuple[str, str], CanonicalValue] = {}
    edited: list[tuple[Side, str]] = []
    for link in data.draw(
        st.lists(st.sampled_from(links), max_size=4, unique_by=lambda link: link.hubspot_id)
    ):
        hs_edit = data.draw(records())
        sf_edit = data.draw(records())
        hs_first = data.draw(st.booleans())
        order = [(Side.HUBSPOT, hs_edit), (Side.SALESFORCE, sf_edit)]
        if not hs_first:
            order.reverse()
        for side, values in order:
            record_id = link.hubspot_id if side is Side.HUBSPOT else link.salesforce_id
            world.put(side, record_id, values)
            edited.append((side, record_id))
        snapshot = link.snapshot
        assert snapshot is not None
        hs_now = world.read(Side.HUBSPOT, link.hubspot_id).values
        sf_now = world.read(Side.SALESFORCE, link.salesforce_id).values
        for key in TWO_WAY_KEYS:  # the later of the sides that changed a two-way field wins
            changed = {
                Side.HUBSPOT: hs_now.get(key) != snapshot.hubspot.get(key),
                Side.SALESFORCE: sf_now.get(key) != snapshot.salesforce.get(key),
            }
            for side, _ in reversed(order):
                if changed[side]:
                    now = hs_now if side is Side.HUBSPOT else sf_now
                    expected[(link.hubspot_id, key)] = now.get(key)
                    break
    changes = [world.read(side, record_id) for side, record_id in edited]
    world.cycle(changes)
    for link in world.links.values():
        for key in SYNCED_KEYS:
            assert _agree(world, link, key), (key, link)
    for (hs_id, key), value in expected.items():
        spec = SIM_MAPPING.spec(key)
        got = _value(world, Side.HUBSPOT, hs_id, key)
        assert got == fit(spec, Side.HUBSPOT, HS_TYPE, value)[0] or (
            fit(spec, Side.SALESFORCE, SF_TYPE, got)[0]
            == fit(spec, Side.SALESFORCE, SF_TYPE, value)[0]
        ), (hs_id, key, got, value)
    again = world.cycle(world.read_all())
    assert again.operations() == [], again.operations()


@SETTINGS
@given(worlds())
def test_planning_is_deterministic(world: World) -> None:
    from hubforce.sync.plan import plan_changes

    changes = world.read_all()
    links = list(world.links.values())
    first = plan_changes(SIM_MAPPING, changes, links)
    second = plan_changes(SIM_MAPPING, changes, links)
    assert first == second
