"""First sync: matching before creating, creates both ways, no duplicates; then no echo."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from hubforce.sync.model import Side
from tests.e2e.conftest import Harness

PEOPLE = {"people": 60, "companies": 16, "deals": 10}
OWNERS = "/crm/v3/owners/"


def _emails_hs(h: Harness) -> Counter[str]:
    return Counter(c["properties"]["email"].lower() for c in h.hs_all("contacts", "email"))


def _emails_sf(h: Harness) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for sobject in ("Lead", "Contact"):
        where = " WHERE IsConverted = false" if sobject == "Lead" else ""
        for row in h.soql(f"SELECT Id, Email FROM {sobject}{where}"):
            if row["Email"]:
                found.setdefault(row["Email"].lower(), []).append(row["Id"])
    return found


def test_first_sync_matches_then_creates_both_ways_without_duplicates(harness: Harness) -> None:
    harness.seed(**PEOPLE)
    hs_before = _emails_hs(harness)
    sf_before = _emails_sf(harness)
    shared = set(hs_before) & set(sf_before)
    assert shared and set(hs_before) - set(sf_before) and set(sf_before) - set(hs_before)

    report = harness.sync()

    contacts = next(p for p in report.pairs if p.pair == "contacts")
    assert contacts.matched == len(shared)
    hs_after = _emails_hs(harness)
    sf_after = _emails_sf(harness)
    # Every person now exists on both sides, once in HubSpot; Salesforce gained exactly one
    # record per HubSpot-only person (its pre-existing Lead+Contact pairs stay as they were).
    assert set(hs_after) == set(sf_after) == set(hs_before) | set(sf_before)
    assert max(hs_after.values()) == 1
    for email, ids in sf_after.items():
        assert len(ids) == len(sf_before.get(email, [])) or len(ids) == 1, email
    assert contacts.created["salesforce:Lead"] == len(set(hs_before) - set(sf_before))
    assert contacts.created["hubspot:contacts"] == len(set(sf_before) - set(hs_before))
    # Every HubSpot contact is linked to one of the Salesforce records with its e-mail.
    for contact in harness.hs_all("contacts", "email"):
        link = harness.link("contacts", Side.HUBSPOT, contact["id"])
        assert link is not None
        assert link.salesforce_id in sf_after[contact["properties"]["email"].lower()]
    # Companies and deals were linked or created too, and owners matched by e-mail.
    by_pair = {p.pair: p for p in report.pairs}
    assert by_pair["owners"].matched == 5
    assert by_pair["companies"].matched > 0 and by_pair["deals"].matched > 0
    assert harness.store.links.count()["companies"] == len(harness.hs_all("companies", "name"))


def test_first_sync_costs_one_call_per_batch(harness: Harness) -> None:
    harness.seed(**PEOPLE)
    harness.reset_stats()
    report = harness.sync()
    contacts = next(p for p in report.pairs if p.pair == "contacts")
    sf_routes = harness.stats(Side.SALESFORCE)["by_route"]
    creates = sum(n for r, n in sf_routes.items() if r.startswith("POST") and "composite" in r)
    # One Collections call per type created (Account, Lead, Opportunity), never one per record.
    assert creates == 3
    assert sum(contacts.created.values()) > 20
    hs_routes = harness.stats(Side.HUBSPOT)["by_route"]
    assert hs_routes.get("POST /crm/v3/objects/{object_type}/batch/create") == 3
    # Matched records whose Salesforce lookup HubSpot lacks get their association (a value
    # fills a blank on a first match): one batch call per association type, never per record.
    assert hs_routes.get("POST /crm/v4/associations/{from_type}/{to_type}/batch/create", 0) <= 2


def test_second_cycle_after_converged_one_makes_zero_writes(harness: Harness) -> None:
    harness.seed(**PEOPLE)
    harness.sync()
    harness.reset_stats()

    report = harness.sync()

    assert report.writes == 0
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}
    # It still read: the change-detection reads are all a steady cycle costs.
    assert harness.stats(Side.HUBSPOT)["api_calls"] > 0
    assert harness.stats(Side.SALESFORCE)["api_calls"] > 0
    # And a third cycle, past the re-read overlap, is as quiet.
    harness.reset_stats()
    assert harness.sync().writes == 0
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}


def test_a_person_with_a_lead_and_a_contact_links_to_the_contact(harness: Harness) -> None:
    harness.seed(seed=1, **PEOPLE)  # seed 1: such people on both sides and in Salesforce only
    sf_before = _emails_sf(harness)
    doubles = {email for email, ids in sf_before.items() if len(ids) > 1}
    hs_before = _emails_hs(harness)
    assert doubles & set(hs_before) and doubles - set(hs_before)  # both kinds are seeded
    harness.reset_stats()

    report = harness.sync()

    for contact in harness.hs_all("contacts", "email"):
        email = contact["properties"]["email"].lower()
        if email in doubles:
            link = harness.link("contacts", Side.HUBSPOT, contact["id"])
            assert link.salesforce_type == "Contact", email  # Contact preferred over Lead
    # Salesforce-only people with two records became one HubSpot contact each.
    assert max(_emails_hs(harness).values()) == 1
    # Matching cost one query per page of keys and key kind, never one per record; records
    # created in Salesforce were read back once per type created (one round here).
    created_types = {k for p in report.pairs for k in p.created if k.startswith("salesforce:")}
    sf_reads = harness.stats(Side.SALESFORCE)["by_route"]
    queries = sum(
        n for route, n in sf_reads.items() if route.startswith("GET") and "query" in route
    )
    assert queries <= 16 + len(created_types)
    hs_reads = harness.stats(Side.HUBSPOT)["by_route"]
    assert sum(n for route, n in hs_reads.items() if route.endswith("/search")) <= 10


# -- values Salesforce fills in on create reach HubSpot in the same cycle --------------------

NEW_PEOPLE = [f"filled{i}@defaults.example" for i in range(5)]


def _new_hubspot_people(h: Harness) -> dict[str, str]:
    """HubSpot contacts with no owner and no lead status: Salesforce fills both on create."""
    ids: dict[str, str] = {}
    for n, email in enumerate(NEW_PEOPLE):
        body = h.call(
            Side.HUBSPOT,
            "POST",
            "/crm/v3/objects/contacts",
            {"properties": {"email": email, "firstname": f"Filled{n}", "lastname": "Default"}},
        )
        ids[email] = str(body["id"])
    return ids


def _assign_on_create(data: dict[str, Any]) -> None:
    data["objects"]["contacts"]["assign"] = True  # Lead assignment rules pick the owner


def test_values_salesforce_fills_on_create_reach_hubspot_in_the_same_cycle(
    harness: Harness,
) -> None:
    harness.configure(_assign_on_create)
    harness.seed(**PEOPLE)
    hs_ids = _new_hubspot_people(harness)
    owners = {
        o["email"].lower(): o["id"] for o in harness.call(Side.HUBSPOT, "GET", OWNERS)["results"]
    }
    users = {u["Id"]: u["Email"].lower() for u in harness.soql("SELECT Id, Email FROM User")}

    report = harness.sync()

    contacts = next(p for p in report.pairs if p.pair == "contacts")
    leads = {
        row["Email"]: row
        for row in harness.soql(
            "SELECT Email, Status, OwnerId FROM Lead WHERE Email LIKE 'filled%'"
        )
    }
    assert set(leads) == set(NEW_PEOPLE)
    for email, hs_id in hs_ids.items():
        lead = leads[email]
        assert lead["Status"] == "Open - Not Contacted"  # the picklist's default
        owner = owners[users[lead["OwnerId"]]]  # a rep picked by the round-robin rule
        props = harness.call(
            Side.HUBSPOT,
            "GET",
            f"/crm/v3/objects/contacts/{hs_id}",
            params={"properties": "hs_lead_status,hubspot_owner_id"},
        )["properties"]
        # Both reached HubSpot in this first cycle, not the next one.
        assert (props["hs_lead_status"], props["hubspot_owner_id"]) == ("NEW", owner), email
        audit = harness.store.audit.for_record("contacts", "hubspot", hs_id)
        assert {(a.field, a.new) for a in audit} >= {("hs_lead_status", "NEW")}
    # The created Salesforce records were read back (one query per 200 ids and type).
    assert contacts.read["salesforce:read_back"] == contacts.created["salesforce:Lead"]
    assert contacts.updated["hubspot:contacts"] >= len(NEW_PEOPLE)

    harness.reset_stats()
    again = harness.sync()

    assert again.writes == 0
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}


class Crash(RuntimeError):
    """The process dies between a write and its bookkeeping."""


@pytest.mark.parametrize(
    ("side", "kind"),
    [(Side.SALESFORCE, "create"), (Side.HUBSPOT, "update")],
    ids=["after-the-create", "after-the-follow-up"],
)
def test_a_crash_between_the_create_and_its_follow_up_converges_next_cycle(
    harness: Harness, side: Side, kind: str
) -> None:
    harness.configure(_assign_on_create)
    harness.seed(**PEOPLE)
    harness.sync()
    hs_ids = _new_hubspot_people(harness)

    def crash(pair: str, at: Side, what: str, count: int) -> None:
        # In this cycle the only HubSpot updates of contacts are the follow-ups.
        if pair == "contacts" and at is side and what == kind:
            raise Crash(f"killed after the {side} {kind} was answered")

    with pytest.raises(Crash):
        harness.sync(after_write=crash)
    assert {i.source_id for i in harness.store.intents.unresolved("contacts")} == set(
        hs_ids.values()
    )

    harness.sync()  # recovery links the Leads; the next plan compares both sides

    leads = harness.soql("SELECT Email, Status FROM Lead WHERE Email LIKE 'filled%'")
    assert sorted(row["Email"] for row in leads) == sorted(NEW_PEOPLE)  # no duplicate
    for hs_id in hs_ids.values():
        props = harness.call(
            Side.HUBSPOT,
            "GET",
            f"/crm/v3/objects/contacts/{hs_id}",
            params={"properties": "hs_lead_status,hubspot_owner_id"},
        )["properties"]
        assert props["hs_lead_status"] == "NEW" and props["hubspot_owner_id"]
    assert harness.store.intents.unresolved() == []
    harness.reset_stats()
    assert harness.sync().writes == 0
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}
