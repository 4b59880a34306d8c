"""Lead conversion and record merges: the two state transitions a sync has to follow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubforce.emulators.salesforce.exceptions import (
    CannotUpdateConvertedLead,
    InvalidOperation,
    InvalidStatus,
)
from hubforce.emulators.salesforce.schema import LEAD_STATUSES

if TYPE_CHECKING:
    from hubforce.emulators.salesforce.models import Org

CONVERTED_STATUSES = (LEAD_STATUSES[2],)
_CONTACT_FROM_LEAD = {
    "FirstName": "FirstName",
    "LastName": "LastName",
    "Salutation": "Salutation",
    "Title": "Title",
    "Email": "Email",
    "Phone": "Phone",
    "MobilePhone": "MobilePhone",
    "LeadSource": "LeadSource",
    "Description": "Description",
    "HasOptedOutOfEmail": "HasOptedOutOfEmail",
    "DoNotCall": "DoNotCall",
    "Street": "MailingStreet",
    "City": "MailingCity",
    "State": "MailingState",
    "PostalCode": "MailingPostalCode",
    "Country": "MailingCountry",
}
_ACCOUNT_FROM_LEAD = {
    "Company": "Name",
    "Website": "Website",
    "Phone": "Phone",
    "Industry": "Industry",
    "NumberOfEmployees": "NumberOfEmployees",
    "AnnualRevenue": "AnnualRevenue",
    "Street": "BillingStreet",
    "City": "BillingCity",
    "State": "BillingState",
    "PostalCode": "BillingPostalCode",
    "Country": "BillingCountry",
}


def _fill_blanks(org: Org, sobject: str, rid: str, values: dict[str, Any]) -> None:
    row = org.get(sobject, rid)
    blanks = {k: v for k, v in values.items() if v is not None and row.get(k) in (None, "")}
    if blanks:
        org.update(sobject, rid, blanks, allow_save=True)


def convert_lead(
    org: Org,
    lead_id: str,
    *,
    converted_status: str | None = None,
    account_id: str | None = None,
    contact_id: str | None = None,
    do_not_create_opportunity: bool = False,
    opportunity_name: str | None = None,
    owner_id: str | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    """Convert a Lead into an Account, a Contact and (optionally) an Opportunity.

    Existing account/contact ids merge the Lead in by filling only their blank fields.
    """
    lead = org.get("Lead", lead_id)
    if lead["IsConverted"]:
        raise CannotUpdateConvertedLead("cannot reference converted lead", [])
    status = converted_status or CONVERTED_STATUSES[0]
    if status not in CONVERTED_STATUSES:
        raise InvalidStatus(f"invalid convertedStatus: {status}", ["Status"])
    owner = owner_id or lead["OwnerId"]
    account_values = {dst: lead[src] for src, dst in _ACCOUNT_FROM_LEAD.items()}
    if account_id:
        account = org.get("Account", account_id)["Id"]
        _fill_blanks(org, "Account", account, account_values)
    else:
        account_values["OwnerId"] = owner
        account = org.create(
            "Account",
            {k: v for k, v in account_values.items() if v is not None},
            allow_save=True,
            user_id=user_id,
        )
    contact_values = {dst: lead[src] for src, dst in _CONTACT_FROM_LEAD.items()}
    if contact_id:
        contact = org.get("Contact", contact_id)["Id"]
        _fill_blanks(org, "Contact", contact, {**contact_values, "AccountId": account})
    else:
        contact_values.update(AccountId=account, OwnerId=owner)
        contact = org.create(
            "Contact",
            {k: v for k, v in contact_values.items() if v is not None},
            allow_save=True,
            user_id=user_id,
        )
    opportunity: str | None = None
    if not do_not_create_opportunity:
        opportunity = org.create(
            "Opportunity",
            {
                "Name": opportunity_name or f"{lead['Company']}-",
                "AccountId": account,
                "StageName": "Prospecting",
                "CloseDate": org.today(),
                "OwnerId": owner,
                "LeadSource": lead["LeadSource"],
            },
            user_id=user_id,
        )
    row = org.records["Lead"][lead["Id"]]
    row.update(
        IsConverted=True,
        ConvertedDate=org.today(),
        ConvertedAccountId=account,
        ConvertedContactId=contact,
        ConvertedOpportunityId=opportunity,
        Status=status,
    )
    org.touch("Lead", row, user_id)
    return {
        "leadId": lead["Id"],
        "accountId": account,
        "contactId": contact,
        "opportunityId": opportunity,
        "success": True,
        "errors": [],
    }


_CHILDREN = {  # merged type -> (child type, reference field) to re-parent to the master
    "Account": [("Contact", "AccountId"), ("Opportunity", "AccountId"), ("Account", "ParentId")],
    "Contact": [("Opportunity", "ContactId")],
    "Lead": [],
}


def merge(org: Org, sobject: str, master_id: str, loser_ids: list[str]) -> dict[str, Any]:
    """Merge up to two records into a master: losers soft-deleted with MasterRecordId."""
    obj = org.sobject(sobject)
    if obj.name not in _CHILDREN:
        raise InvalidOperation(f"merge is not supported for {obj.name}")
    if not 1 <= len(loser_ids) <= 2:
        raise InvalidOperation("A merge needs a master and one or two records to merge into it")
    master = org.get(obj.name, master_id)["Id"]
    losers = [org.get(obj.name, rid)["Id"] for rid in loser_ids]
    if master in losers or len(set(losers)) != len(losers):
        raise InvalidOperation("The master record cannot also be merged into itself")
    reparented: list[str] = []
    for child_type, field in _CHILDREN[obj.name]:
        for row in org.records[child_type].values():
            if row[field] in losers and not row["IsDeleted"] and row["Id"] != master:
                row[field] = master
                org.touch(child_type, row)
                reparented.append(row["Id"])
    for rid in losers:
        org.soft_delete(obj.name, rid, master=master)
    org.touch(obj.name, org.records[obj.name][master])
    return {"id": master, "mergedRecordIds": losers, "updatedRelatedIds": reparented}
