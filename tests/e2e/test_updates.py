"""Updates each way, conflicts under every rule, conversions, dry run."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hubforce.sync.model import Side
from tests.e2e.conftest import Harness

WORLD = {"people": 30, "companies": 8, "deals": 6}


def _linked_pair(h: Harness, sobject: str = "Contact") -> tuple[str, str]:
    """(HubSpot contact id, Salesforce id) of a contact linked to a `sobject`."""
    for contact in h.hs_all("contacts", "email"):
        link = h.link("contacts", Side.HUBSPOT, contact["id"])
        if link is not None and link.salesforce_type == sobject:
            return contact["id"], link.salesforce_id
    raise AssertionError(f"no contact linked to a {sobject}")


def _sf(h: Harness, sobject: str, record_id: str, fields: str) -> dict[str, Any]:
    rows = h.soql(f"SELECT {fields} FROM {sobject} WHERE Id = '{record_id}'")
    assert len(rows) == 1
    return rows[0]


def _hs(h: Harness, object_type: str, record_id: str, props: str) -> dict[str, Any]:
    body = h.call(
        Side.HUBSPOT,
        "GET",
        f"/crm/v3/objects/{object_type}/{record_id}",
        params={"properties": props},
    )
    props_: dict[str, Any] = body["properties"]
    return props_


def test_hubspot_edit_reaches_salesforce_with_an_audit_row(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    hs_id, sf_id = _linked_pair(harness)
    harness.hs_patch("contacts", hs_id, {"jobtitle": "Chief Sync Officer"})
    harness.reset_stats()

    report = harness.sync()

    assert _sf(harness, "Contact", sf_id, "Title")["Title"] == "Chief Sync Officer"
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 1}
    assert report.writes == 1
    audit = harness.store.audit.for_record("contacts", "salesforce", sf_id)
    assert [(a.field, a.new, a.rule) for a in audit][-1] == (
        "jobtitle",
        "Chief Sync Officer",
        "two_way",
    )


def test_salesforce_edit_reaches_hubspot(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    hs_id, sf_id = _linked_pair(harness, "Lead")
    harness.sf_patch("Lead", sf_id, {"City": "Lisbon", "MobilePhone": "+351 555 0101"})
    harness.reset_stats()

    harness.sync()

    props = _hs(harness, "contacts", hs_id, "city,mobilephone")
    assert (props["city"], props["mobilephone"]) == ("Lisbon", "+351 555 0101")
    assert harness.writes() == {Side.HUBSPOT: 1, Side.SALESFORCE: 0}


RULE_CASES = [
    ("two_way", "salesforce"),  # Salesforce edited later: newest wins
    ("always_salesforce", "salesforce"),
    ("always_hubspot", "hubspot"),
    ("prefer_salesforce_unless_blank", "salesforce"),
    ("prefer_hubspot_unless_blank", "hubspot"),
]


@pytest.mark.parametrize(("rule", "winner"), RULE_CASES)
def test_conflict_is_decided_by_the_field_rule_and_audited(
    harness: Harness, rule: str, winner: str
) -> None:
    def set_rule(data: dict[str, Any]) -> None:
        for field in data["objects"]["contacts"]["fields"]:
            if field["hubspot"] == "jobtitle":
                field["rule"] = rule

    harness.configure(set_rule)
    harness.seed(**WORLD)
    harness.sync()
    hs_id, sf_id = _linked_pair(harness)
    harness.hs_patch("contacts", hs_id, {"jobtitle": "From HubSpot"})
    # Salesforce keeps seconds only: move its clock on so its edit is clearly the newer one,
    # and the engine's clock with it so the cycle reads up to that time.
    harness.call(Side.SALESFORCE, "POST", "/__emulator__/clock", {"advance_seconds": 5})
    harness.sf_patch("Contact", sf_id, {"Title": "From Salesforce"})

    report = harness.sync(clock=lambda: int(time.time() * 1000) + 10_000)

    expected = "From Salesforce" if winner == "salesforce" else "From HubSpot"
    assert _sf(harness, "Contact", sf_id, "Title")["Title"] == expected
    assert _hs(harness, "contacts", hs_id, "jobtitle")["jobtitle"] == expected
    contacts = next(p for p in report.pairs if p.pair == "contacts")
    assert contacts.conflicts == {f"{rule}:conflict": 1}
    loser_side, loser_id = ("hubspot", hs_id) if winner == "salesforce" else ("salesforce", sf_id)
    audit = harness.store.audit.for_record("contacts", loser_side, loser_id)
    assert (audit[-1].field, audit[-1].new, audit[-1].rule) == ("jobtitle", expected, rule)


def test_picklist_number_and_date_conversions_both_ways(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    deal = next(
        d
        for d in harness.hs_all("deals", "dealname")
        if harness.link("deals", Side.HUBSPOT, d["id"]) is not None
    )
    opp_id = harness.link("deals", Side.HUBSPOT, deal["id"]).salesforce_id
    harness.hs_patch(
        "deals",
        deal["id"],
        {"dealstage": "contractsent", "amount": "1500.50", "closedate": "2027-03-15T00:00:00Z"},
    )
    harness.sync()
    opp = _sf(harness, "Opportunity", opp_id, "StageName, Amount, CloseDate")
    assert (opp["StageName"], opp["Amount"], opp["CloseDate"]) == (
        "Negotiation/Review",
        1500.5,
        "2027-03-15",
    )
    # And back: a Salesforce picklist value arrives as the HubSpot option value.
    harness.sf_patch("Opportunity", opp_id, {"StageName": "Closed Won"})
    harness.sync()
    assert _hs(harness, "deals", deal["id"], "dealstage")["dealstage"] == "closedwon"
    # A converged state: nothing more to write.
    harness.reset_stats()
    assert harness.sync().writes == 0


def test_new_hubspot_contact_gets_required_field_defaults_in_salesforce(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    created = harness.call(
        Side.HUBSPOT,
        "POST",
        "/crm/v3/objects/contacts",
        {"properties": {"email": "solo.person@nocompany.example", "firstname": "Solo"}},
    )
    harness.sync()
    lead = harness.soql(
        "SELECT Id, Company, LastName, FirstName, HubSpot_Id__c FROM Lead "
        "WHERE Email = 'solo.person@nocompany.example'"
    )
    assert len(lead) == 1
    assert (lead[0]["Company"], lead[0]["LastName"], lead[0]["FirstName"]) == (
        "[not provided]",
        "[not provided]",
        "Solo",
    )
    assert lead[0]["HubSpot_Id__c"] == created["id"]


def test_dry_run_prints_the_plan_and_writes_nothing(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    hs_id, sf_id = _linked_pair(harness)
    harness.hs_patch("contacts", hs_id, {"jobtitle": "Planned Title"})
    links_before = harness.store.links.count()
    cursors_before = harness.store.cursors.get_all()
    harness.reset_stats()

    report = harness.sync(dry_run=True)

    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}
    assert _sf(harness, "Contact", sf_id, "Title")["Title"] != "Planned Title"
    assert harness.store.links.count() == links_before
    assert harness.store.cursors.get_all() == cursors_before
    contacts = next(p for p in report.pairs if p.pair == "contacts")
    assert contacts.updated == {"salesforce:Contact": 1}
    assert any("Planned Title" in line and sf_id in line for line in contacts.planned)
    # The real cycle then does exactly what was planned.
    assert harness.sync().writes == 1
    assert _sf(harness, "Contact", sf_id, "Title")["Title"] == "Planned Title"


def test_two_way_uses_each_hubspot_property_time_not_the_record_time(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    hs_id, sf_id = _linked_pair(harness)
    harness.hs_patch("contacts", hs_id, {"jobtitle": "Older HubSpot title"})
    harness.call(Side.SALESFORCE, "POST", "/__emulator__/clock", {"advance_seconds": 5})
    harness.sf_patch("Contact", sf_id, {"Title": "Newer Salesforce title"})
    # A later, unrelated HubSpot edit makes the record newer than the Salesforce edit...
    harness.call(Side.HUBSPOT, "POST", "/__emulator__/clock", {"advance_seconds": 10})
    harness.hs_patch("contacts", hs_id, {"city": "Porto"})
    harness.reset_stats()

    report = harness.sync(clock=lambda: int(time.time() * 1000) + 20_000)

    # ...but the title's own change times decide: Salesforce's title is the newer one.
    assert _hs(harness, "contacts", hs_id, "jobtitle")["jobtitle"] == "Newer Salesforce title"
    assert _sf(harness, "Contact", sf_id, "Title, MailingCity") == {
        "attributes": {"type": "Contact", "url": f"/services/data/v62.0/sobjects/Contact/{sf_id}"},
        "Title": "Newer Salesforce title",
        "MailingCity": "Porto",
    }
    contacts = next(p for p in report.pairs if p.pair == "contacts")
    assert contacts.conflicts == {"two_way:conflict": 1}
    routes = harness.stats(Side.HUBSPOT)["by_route"]
    assert routes.get("POST /crm/v3/objects/{object_type}/batch/read") == 1  # the history read
