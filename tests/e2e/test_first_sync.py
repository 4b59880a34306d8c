"""First sync: matching before creating, creates both ways, no duplicates; then no echo."""

from __future__ import annotations

from collections import Counter

from hubforce.sync.model import Side
from tests.e2e.conftest import Harness

PEOPLE = {"people": 60, "companies": 16, "deals": 10}


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
    assert sum(n for r, n in hs_routes.items() if r.endswith("/batch/create")) == 3


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

    harness.sync()

    for contact in harness.hs_all("contacts", "email"):
        email = contact["properties"]["email"].lower()
        if email in doubles:
            link = harness.link("contacts", Side.HUBSPOT, contact["id"])
            assert link.salesforce_type == "Contact", email  # Contact preferred over Lead
    # Salesforce-only people with two records became one HubSpot contact each.
    assert max(_emails_hs(harness).values()) == 1
    # Matching cost one query per page of keys and key kind, never one per record.
    sf_reads = harness.stats(Side.SALESFORCE)["by_route"]
    queries = sum(
        n for route, n in sf_reads.items() if route.startswith("GET") and "query" in route
    )
    assert queries <= 16
    hs_reads = harness.stats(Side.HUBSPOT)["by_route"]
    assert sum(n for route, n in hs_reads.items() if route.endswith("/search")) <= 10
