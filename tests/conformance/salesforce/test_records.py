"""CRUD, upsert, describe, limits and change tracking through unmodified simple-salesforce."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)


def test_create_get_update_delete_lead(sf: Salesforce) -> None:
    created = sf.Lead.create({"LastName": "Smith", "Company": "Acme", "Email": "s@acme.example"})
    assert created["success"] is True and created["id"].startswith("00Q")
    assert len(created["id"]) == 18
    lead = sf.Lead.get(created["id"])
    assert lead["attributes"]["type"] == "Lead"
    assert lead["Name"] == "Smith"
    assert lead["Status"] == "Open - Not Contacted"
    assert lead["SystemModstamp"].endswith(".000+0000")
    assert sf.Lead.update(created["id"], {"FirstName": "Jo"}) == 204
    assert sf.Lead.get(created["id"])["Name"] == "Jo Smith"
    assert sf.Lead.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Lead.get(created["id"])
    assert exc.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_upsert_creates_then_updates_by_external_id(sf: Salesforce) -> None:
    body = {"LastName": "Ext", "Company": "Acme"}
    assert sf.Lead.upsert("HubSpot_Id__c/hs-1", body) == 201
    assert sf.Lead.upsert("HubSpot_Id__c/hs-1", {"Title": "CTO"}) == 200
    lead = sf.Lead.get_by_custom_id("HubSpot_Id__c", "hs-1")
    assert lead["Title"] == "CTO" and lead["HubSpot_Id__c"] == "hs-1"
    raw = sf.Lead.upsert("HubSpot_Id__c/hs-1", {"Title": "CEO"}, raw_response=True)
    assert raw.json()["created"] is False


def test_upsert_returns_300_on_two_matches(sf: Salesforce, sf_control: httpx.Client) -> None:
    org = sf_control  # two Accounts holding the same non-unique external id, via state import
    a = sf.Account.create({"Name": "One"})["id"]
    b = sf.Account.create({"Name": "Two"})["id"]
    state = org.get("/__emulator__/state").json()
    for row in state["records"]["Account"]:
        if row["Id"] in (a, b):
            row["Domain__c"] = "same"
    # Domain__c is not an external id: make it one through a config-free path (HubSpot_Id__c is
    # unique, so Salesforce would never let two records share it; the importer does not check).
    for row in state["records"]["Account"]:
        if row["Id"] in (a, b):
            row["HubSpot_Id__c"] = "dup"
    assert org.put("/__emulator__/state", json=state).status_code == 200
    with pytest.raises(SalesforceMoreThanOneRecord) as exc:
        sf.Account.upsert("HubSpot_Id__c/dup", {"Phone": "1"})
    assert sorted(u.rsplit("/", 1)[-1] for u in exc.value.content) == sorted([a, b])


def test_upsert_on_a_field_that_is_not_an_external_id_is_404(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Lead.upsert("Company/Acme", {"LastName": "X"})
    assert exc.value.content[0]["errorCode"] == "NOT_FOUND"
    assert "Company" in exc.value.content[0]["message"]


def test_describe_reports_types_required_and_external_ids(sf: Salesforce) -> None:
    described = sf.Lead.describe()
    fields = {f["name"]: f for f in described["fields"]}
    assert described["keyPrefix"] == "00Q"
    assert fields["LastName"]["nillable"] is False and fields["LastName"]["length"] == 80
    assert fields["Status"]["restrictedPicklist"] is True
    assert "Working - Contacted" in [p["value"] for p in fields["Status"]["picklistValues"]]
    assert fields["HubSpot_Id__c"]["externalId"] is True
    assert fields["OwnerId"]["referenceTo"] == ["User"]
    names = [o["name"] for o in sf.describe()["sobjects"]]
    assert {"Lead", "Contact", "Account", "Opportunity", "User"} <= set(names)


def test_limits_and_api_usage_header(sf: Salesforce) -> None:
    limits = sf.restful("limits")
    assert limits["DailyApiRequests"]["Max"] == 110_000
    assert limits["DailyApiRequests"]["Remaining"] == 110_000 - 1
    usage = sf.api_usage["api-usage"]
    assert (usage.used, usage.total) == (1, 110_000)


def test_updated_and_deleted_windows(sf: Salesforce, sf_control: httpx.Client) -> None:
    now = datetime.fromisoformat(sf_control.get("/__emulator__/clock").json()["now"])
    start = now - timedelta(minutes=5)
    keep = sf.Contact.create({"LastName": "Keep"})["id"]
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(gone)
    sf_control.post("/__emulator__/clock", json={"advance_seconds": 120})
    end = now + timedelta(minutes=10)
    updated = sf.Contact.updated(start, end)
    assert updated["ids"] == [keep]
    deleted = sf.Contact.deleted(start, end)
    assert [d["id"] for d in deleted["deletedRecords"]] == [gone]
    assert deleted["latestDateCovered"].endswith(":00.000+0000")
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.updated(start - timedelta(days=31), end)
    assert exc.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_assignment_header_false_keeps_the_api_user_and_a_rule_id_assigns(
    sf: Salesforce, sf_control: httpx.Client
) -> None:
    sf_control.post("/__emulator__/seed", json={"seed": 5, "people": 0, "companies": 0,
                                                "deals": 0, "reps": 3})  # fmt: skip
    rule = sf_control.get("/__emulator__/assignment-rules").json()[0]
    api_user = sf.Lead.get(sf.Lead.create({"LastName": "A", "Company": "B"})["id"])["CreatedById"]
    kept = sf.Lead.create(
        {"LastName": "A", "Company": "B"}, headers={"Sforce-Auto-Assign": "FALSE"}
    )
    assert sf.Lead.get(kept["id"])["OwnerId"] == api_user
    by_rule = sf.Lead.create(
        {"LastName": "A", "Company": "B"}, headers={"Sforce-Auto-Assign": rule["id"]}
    )
    assert sf.Lead.get(by_rule["id"])["OwnerId"] != api_user


def test_collections_through_restful(sf: Salesforce) -> None:
    records = [
        {"attributes": {"type": "Account"}, "Name": "One"},
        {"attributes": {"type": "Account"}, "Name": "Two"},
    ]
    created = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
    )
    assert [r["success"] for r in created] == [True, True]
    ids = ",".join(r["id"] for r in created)
    fetched = sf.restful(f"composite/sobjects/Account?ids={ids}&fields=Name")
    assert [r["Name"] for r in fetched] == ["One", "Two"]
