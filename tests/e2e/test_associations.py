"""Associations <-> lookups both ways, and Salesforce assignment rules only when asked."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hubforce.sync.model import Side
from tests.e2e.conftest import Harness

WORLD = {"people": 30, "companies": 8, "deals": 6}


def _linked_accounts(h: Harness) -> list[tuple[str, str]]:
    """(HubSpot company id, Account id) of every linked company, by HubSpot id."""
    pairs = [
        (lk.hubspot_id, lk.salesforce_id) for p in h.store.links.iter_pair("companies") for lk in p
    ]
    return sorted(pairs, key=lambda item: int(item[0]))


def _associated(h: Harness, from_type: str, record_id: str) -> list[str]:
    body = h.call(
        Side.HUBSPOT, "GET", f"/crm/v4/objects/{from_type}/{record_id}/associations/companies"
    )
    return [str(item["toObjectId"]) for item in body["results"]]


def test_contact_account_lookup_becomes_a_hubspot_association(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    contact = next(
        lk
        for p in harness.store.links.iter_pair("contacts")
        for lk in p
        if lk.salesforce_type == "Contact"
    )
    current = harness.soql(f"SELECT AccountId FROM Contact WHERE Id = '{contact.salesforce_id}'")
    company, account = next(
        pair for pair in _linked_accounts(harness) if pair[1] != current[0]["AccountId"]
    )
    for old in _associated(harness, "contacts", contact.hubspot_id):
        harness.call(
            Side.HUBSPOT,
            "DELETE",
            f"/crm/v4/objects/contacts/{contact.hubspot_id}/associations/companies/{old}",
        )
    harness.hs_patch("contacts", contact.hubspot_id, {"city": "Braga"})  # HubSpot edits too
    # The Salesforce edit is the newer one (its clock keeps seconds: move it on, and the
    # engine's with it), so it wins even if the contact is re-read within the overlap.
    harness.call(Side.SALESFORCE, "POST", "/__emulator__/clock", {"advance_seconds": 5})
    harness.sf_patch("Contact", contact.salesforce_id, {"AccountId": account})

    harness.sync(clock=lambda: int(time.time() * 1000) + 10_000)

    assert _associated(harness, "contacts", contact.hubspot_id) == [company]
    harness.reset_stats()
    assert harness.sync(clock=lambda: int(time.time() * 1000) + 10_000).writes == 0


def test_deal_company_association_becomes_the_opportunity_account(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    deal = next(lk for p in harness.store.links.iter_pair("deals") for lk in p)
    company, account = _linked_accounts(harness)[-1]
    for old in _associated(harness, "deals", deal.hubspot_id):
        harness.call(
            Side.HUBSPOT,
            "DELETE",
            f"/crm/v4/objects/deals/{deal.hubspot_id}/associations/companies/{old}",
        )
    harness.call(
        Side.HUBSPOT,
        "PUT",
        f"/crm/v4/objects/deals/{deal.hubspot_id}/associations/default/companies/{company}",
    )
    # Association changes do not move hs_lastmodifieddate: the edit that comes with it does.
    harness.hs_patch("deals", deal.hubspot_id, {"description": "moved to a new account"})

    harness.sync()

    rows = harness.soql(
        f"SELECT AccountId, Description FROM Opportunity WHERE Id = '{deal.salesforce_id}'"
    )
    assert (rows[0]["AccountId"], rows[0]["Description"]) == (account, "moved to a new account")


@pytest.mark.parametrize("assign", [False, True])
def test_assignment_rules_run_only_when_the_mapping_asks(harness: Harness, assign: bool) -> None:
    def set_assign(data: dict[str, Any]) -> None:
        data["objects"]["contacts"]["assign"] = assign

    harness.configure(set_assign)
    harness.seed(**WORLD)
    harness.sync()
    for i in range(4):
        harness.call(
            Side.HUBSPOT,
            "POST",
            "/crm/v3/objects/contacts",
            {"properties": {"email": f"assign{i}@rules.example", "lastname": f"Rule{i}"}},
        )

    harness.sync()

    owners = {
        r["OwnerId"] for r in harness.soql("SELECT OwnerId FROM Lead WHERE Email LIKE 'assign%'")
    }
    me = harness.soql("SELECT Id FROM User WHERE Username = 'admin@hubforce-emulator.example'")
    if assign:
        assert len(owners) > 1  # the round-robin rule spread them over the reps
    else:
        assert owners == {me[0]["Id"]}  # Sforce-Auto-Assign: FALSE kept the API user
