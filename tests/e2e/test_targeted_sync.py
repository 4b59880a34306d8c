"""Targeted sync (`engine.targeted.sync_records`): given ids read by id, cursors untouched."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from hubforce.connectors.governor import hubspot_governor
from hubforce.connectors.http import RetryPolicy
from hubforce.engine.context import CycleOptions, CycleReport
from hubforce.engine.runner import sync_context
from hubforce.engine.targeted import NOT_FOUND, sync_records
from hubforce.errors import HubforceError
from hubforce.sync.model import Side
from tests.e2e.conftest import Harness, V

WORLD = {"people": 30, "companies": 8, "deals": 6}


async def _no_sleep(_seconds: float) -> None:
    return None


def targeted(
    h: Harness, pair: str, side: Side, ids: Sequence[str], object_type: str | None = None
) -> CycleReport:
    """One `sync_records` call with the harness's config, store and emulators."""

    async def run() -> CycleReport:
        async with sync_context(
            h.config,
            options=CycleOptions(),
            store=h.store,
            transports=h.transports,
            policy=RetryPolicy(sleep=_no_sleep),
            governors={Side.HUBSPOT: hubspot_governor(burst=100_000, search_per_second=100_000)},
        ) as ctx:
            return await sync_records(ctx, pair, side, ids, object_type=object_type)

    return h.run(run())


def _linked(h: Harness, sobject: str) -> tuple[str, str]:
    for contact in h.hs_all("contacts", "email"):
        link = h.link("contacts", Side.HUBSPOT, contact["id"])
        if link is not None and link.salesforce_type == sobject:
            return contact["id"], link.salesforce_id
    raise AssertionError(f"no contact linked to a {sobject}")


def _routes(h: Harness, side: Side) -> dict[str, int]:
    routes: dict[str, int] = h.stats(side)["by_route"]
    return {r: n for r, n in routes.items() if "/__emulator__" not in r and "oauth" not in r}


def _cursors(h: Harness) -> dict[str, str | None]:
    return {str(s): h.store.cursors.get("contacts", str(s)) for s in Side}


def _synced(h: Harness) -> tuple[dict[str, str | None], Any]:
    """Seed, run the first full cycle; the cursors and the latest run it left."""
    h.seed(**WORLD)
    h.sync()
    return _cursors(h), h.store.runs.latest()


def test_hubspot_edit_reaches_salesforce_by_id_reads_only(harness: Harness) -> None:
    cursors, _ = _synced(harness)
    hs_id, sf_id = _linked(harness, "Contact")
    harness.hs_patch("contacts", hs_id, {"jobtitle": "Head of Targeting"})
    harness.reset_stats()

    report = targeted(harness, "contacts", Side.HUBSPOT, [hs_id])

    rows = harness.soql(f"SELECT Title FROM Contact WHERE Id = '{sf_id}'")
    assert rows[0]["Title"] == "Head of Targeting"
    assert report.writes == 1 and report.pairs[0].updated == {"salesforce:Contact": 1}
    hs_routes, sf_routes = _routes(harness, Side.HUBSPOT), _routes(harness, Side.SALESFORCE)
    assert not [r for r in hs_routes if r.endswith("/search") or r.startswith("GET ")], hs_routes
    assert any(r.endswith("/batch/read") for r in hs_routes), hs_routes
    assert f"GET {V}/queryAll" not in sf_routes, sf_routes  # no SystemModstamp change read
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 1}
    assert _cursors(harness) == cursors
    run = harness.store.runs.latest()
    assert run is not None and run.kind == "targeted" and run.id == report.run_id

    harness.reset_stats()
    again = harness.sync()
    assert again.writes == 0
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}


def test_salesforce_edit_reaches_hubspot_without_a_cursor_read(harness: Harness) -> None:
    cursors, _ = _synced(harness)
    hs_id, sf_id = _linked(harness, "Lead")
    harness.sf_patch("Lead", sf_id, {"City": "Porto"})
    harness.reset_stats()

    report = targeted(harness, "contacts", Side.SALESFORCE, [sf_id])  # type from the prefix

    body = harness.call(
        Side.HUBSPOT, "GET", f"/crm/v3/objects/contacts/{hs_id}", params={"properties": "city"}
    )
    assert body["properties"]["city"] == "Porto"
    assert report.pairs[0].updated == {"hubspot:contacts": 1}
    hs_routes, sf_routes = _routes(harness, Side.HUBSPOT), _routes(harness, Side.SALESFORCE)
    assert not [r for r in hs_routes if r.endswith("/search")], hs_routes
    assert f"GET {V}/queryAll" not in sf_routes, sf_routes
    assert harness.writes() == {Side.HUBSPOT: 1, Side.SALESFORCE: 0}
    assert _cursors(harness) == cursors

    harness.reset_stats()
    assert harness.sync().writes == 0
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}


def test_new_hubspot_contact_is_created_in_salesforce(harness: Harness) -> None:
    _synced(harness)
    email = "targeted.newcomer@example.org"
    # With a lead status set, Salesforce's default Lead Status has nothing to back-fill, so
    # any write by the next cycle would be an echo (a cursor cycle behaves the same way).
    props = {"email": email, "firstname": "Tara", "lastname": "Geted", "hs_lead_status": "NEW"}
    created = harness.call(Side.HUBSPOT, "POST", "/crm/v3/objects/contacts", {"properties": props})

    report = targeted(harness, "contacts", Side.HUBSPOT, [created["id"]])

    link = harness.link("contacts", Side.HUBSPOT, created["id"])
    assert link is not None
    rows = harness.soql(
        f"SELECT Id, Email, LastName FROM {link.salesforce_type} WHERE Email = '{email}'"
    )
    assert [(r["Id"], r["LastName"]) for r in rows] == [(link.salesforce_id, "Geted")]
    assert sum(report.pairs[0].created.values()) == 1
    harness.reset_stats()
    assert harness.sync().writes == 0


def test_new_hubspot_contact_is_matched_to_an_unlinked_salesforce_contact(
    harness: Harness,
) -> None:
    _synced(harness)
    email = "already.there@example.org"
    sf = harness.call(
        Side.SALESFORCE,
        "POST",
        f"{V}/sobjects/Contact",
        {"LastName": "There", "FirstName": "Al", "Email": email},
    )
    created = harness.call(
        Side.HUBSPOT,
        "POST",
        "/crm/v3/objects/contacts",
        {"properties": {"email": email, "firstname": "Al", "lastname": "There"}},
    )

    report = targeted(harness, "contacts", Side.HUBSPOT, [created["id"]])

    link = harness.link("contacts", Side.HUBSPOT, created["id"])
    assert link is not None and link.salesforce_id == sf["id"]
    assert report.pairs[0].matched == 1 and report.pairs[0].created == {}
    assert len(harness.soql(f"SELECT Id FROM Contact WHERE Email = '{email}'")) == 1


def test_unknown_ids_are_reported_not_raised(harness: Harness) -> None:
    cursors, _ = _synced(harness)
    harness.reset_stats()

    hs = targeted(harness, "contacts", Side.HUBSPOT, ["987654321"])
    sf = targeted(harness, "contacts", Side.SALESFORCE, ["003000000000999AAA"])

    assert hs.pairs[0].skipped == {NOT_FOUND: 1} and hs.writes == 0
    assert sf.pairs[0].skipped == {NOT_FOUND: 1} and sf.writes == 0
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}
    assert _cursors(harness) == cursors
    run = harness.store.runs.latest()
    assert run is not None and run.status.value == "succeeded"


def test_owners_and_unknown_pairs_are_refused(harness: Harness) -> None:
    _synced(harness)
    with pytest.raises(HubforceError, match="owners are not synced by record id"):
        targeted(harness, "owners", Side.HUBSPOT, ["1"])
    with pytest.raises(HubforceError, match="unknown pair 'widgets'"):
        targeted(harness, "widgets", Side.HUBSPOT, ["1"])
    with pytest.raises(HubforceError, match="not part of pair 'contacts'"):
        targeted(harness, "contacts", Side.SALESFORCE, ["001000000000001AAA"], "Account")


def test_deleted_records_are_planned_as_deletes(harness: Harness) -> None:
    cursors, _ = _synced(harness)
    hs_id, _ = _linked(harness, "Contact")
    other_hs, sf_id = _linked(harness, "Lead")
    harness.call(Side.HUBSPOT, "DELETE", f"/crm/v3/objects/contacts/{hs_id}")
    harness.call(Side.SALESFORCE, "DELETE", f"{V}/sobjects/Lead/{sf_id}")

    archived = targeted(harness, "contacts", Side.HUBSPOT, [hs_id])
    recycled = targeted(harness, "contacts", Side.SALESFORCE, [sf_id])

    # The default delete policy is `unlink`: the twin stays, the link goes.
    assert (archived.pairs[0].unlinked, recycled.pairs[0].unlinked) == (1, 1)
    assert harness.link("contacts", Side.HUBSPOT, hs_id) is None
    assert harness.link("contacts", Side.HUBSPOT, other_hs) is None
    assert _cursors(harness) == cursors
    # The next cursor cycle reads both deletes again and finds nothing left to unlink. (It
    # does create a Lead for the HubSpot contact whose Lead was deleted, exactly as it does
    # after deletes handled by a cursor cycle: that is the unlink policy, not an echo.)
    again = harness.sync()
    contacts = next(p for p in again.pairs if p.pair == "contacts")
    assert contacts.unlinked == 0 and contacts.deleted == {} and contacts.updated == {}
