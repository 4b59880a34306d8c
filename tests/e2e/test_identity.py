"""Identity: Lead conversion followed, merges on both sides re-key links, delete policies."""

from __future__ import annotations

from typing import Any

import pytest

from hubforce.sync.model import Side
from tests.e2e.conftest import Harness, V

WORLD = {"people": 30, "companies": 8, "deals": 6}


def _linked(h: Harness, sobject: str, skip: int = 0) -> tuple[str, str]:
    found = 0
    for contact in h.hs_all("contacts", "email"):
        link = h.link("contacts", Side.HUBSPOT, contact["id"])
        if link is not None and link.salesforce_type == sobject:
            if found == skip:
                return contact["id"], link.salesforce_id
            found += 1
    raise AssertionError(f"no contact linked to a {sobject}")


def test_lead_conversion_relinks_to_the_converted_contact(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    hs_id, lead_id = _linked(harness, "Lead")
    hs_count = len(harness.hs_all("contacts", "email"))
    converted = harness.call(
        Side.SALESFORCE,
        "POST",
        "/__emulator__/convert-lead",
        {"leadId": lead_id, "doNotCreateOpportunity": True},
    )
    contact_id = converted["contactId"]

    report = harness.sync()

    link = harness.link("contacts", Side.HUBSPOT, hs_id)
    assert (link.salesforce_type, link.salesforce_id) == ("Contact", contact_id)
    assert next(p for p in report.pairs if p.pair == "contacts").relinked == 1
    assert len(harness.hs_all("contacts", "email")) == hs_count  # nothing duplicated
    # The converted Account is linked to a HubSpot company (matched or created).
    assert harness.link("companies", Side.SALESFORCE, converted["accountId"]) is not None
    # Later edits go to the Contact; the read-only converted Lead is left alone.
    harness.hs_patch("contacts", hs_id, {"jobtitle": "Converted Buyer"})
    harness.sync()
    rows = harness.soql(f"SELECT Title FROM Contact WHERE Id = '{contact_id}'")
    assert rows[0]["Title"] == "Converted Buyer"
    assert harness.store.failures.counts("contacts") == {}


def test_salesforce_merge_moves_the_link_to_the_master(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    hs_id, loser = _linked(harness, "Contact")
    email = harness.soql(f"SELECT Email FROM Contact WHERE Id = '{loser}'")[0]["Email"]
    master = harness.call(
        Side.SALESFORCE,
        "POST",
        f"{V}/sobjects/Contact",
        {"LastName": "Duplicate", "Email": email},
        headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"},
    )["id"]
    harness.call(
        Side.SALESFORCE,
        "POST",
        "/__emulator__/merge",
        {"sobject": "Contact", "masterId": master, "mergeIds": [loser]},
    )
    hs_count = len(harness.hs_all("contacts", "email"))

    harness.sync()

    link = harness.link("contacts", Side.HUBSPOT, hs_id)
    assert link.salesforce_id == master
    assert harness.link("contacts", Side.SALESFORCE, loser) is None
    assert len(harness.hs_all("contacts", "email")) == hs_count  # not deleted, not re-created


def test_hubspot_merge_rekeys_the_link_to_the_new_id(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    first, first_sf = _linked(harness, "Lead", 0)
    second, _ = _linked(harness, "Lead", 1)
    merged = harness.call(
        Side.HUBSPOT,
        "POST",
        "/__emulator__/merge",
        {"objectType": "contacts", "primaryObjectId": first, "objectIdToMerge": second},
    )
    new_id = merged["id"]
    assert new_id not in (first, second)
    harness.reset_stats()

    harness.sync()

    link = harness.link("contacts", Side.HUBSPOT, new_id)
    assert link is not None and link.salesforce_id == first_sf
    assert harness.link("contacts", Side.HUBSPOT, first) is None
    assert harness.link("contacts", Side.HUBSPOT, second) is None
    sf_routes = harness.stats(Side.SALESFORCE)["by_route"]
    assert not any(r.startswith("POST") and "composite" in r for r in sf_routes)  # no create


@pytest.mark.parametrize("policy", ["unlink", "archive", "ignore"])
def test_hubspot_delete_follows_the_delete_policy(harness: Harness, policy: str) -> None:
    def set_policy(data: dict[str, Any]) -> None:
        data["objects"]["contacts"]["delete_policy"] = policy

    harness.configure(set_policy)
    harness.seed(**WORLD)
    harness.sync()
    hs_id, sf_id = _linked(harness, "Contact")
    harness.call(Side.HUBSPOT, "DELETE", f"/crm/v3/objects/contacts/{hs_id}")

    harness.sync()

    alive = harness.soql(f"SELECT Id FROM Contact WHERE Id = '{sf_id}'")
    link = harness.link("contacts", Side.HUBSPOT, hs_id)
    if policy == "archive":
        assert alive == [] and link is None
    elif policy == "unlink":
        assert len(alive) == 1 and link is None
    else:
        assert len(alive) == 1 and link is not None
    # Whatever the policy, the deleted contact is not re-created from Salesforce.
    emails = [c["properties"]["email"] for c in harness.hs_all("contacts", "email")]
    assert len(emails) == len(set(emails))
    harness.reset_stats()
    harness.sync()
    assert harness.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}


def test_salesforce_delete_archives_in_hubspot_under_archive_policy(harness: Harness) -> None:
    def set_policy(data: dict[str, Any]) -> None:
        data["objects"]["contacts"]["delete_policy"] = "archive"

    harness.configure(set_policy)
    harness.seed(**WORLD)
    harness.sync()
    hs_id, sf_id = _linked(harness, "Lead")
    harness.call(Side.SALESFORCE, "DELETE", f"{V}/sobjects/Lead/{sf_id}")

    harness.sync()

    archived = harness.call(
        Side.HUBSPOT, "GET", f"/crm/v3/objects/contacts/{hs_id}", params={"archived": "true"}
    )
    assert archived["archived"] is True
    assert harness.link("contacts", Side.HUBSPOT, hs_id) is None
