"""Mapping checks against schema documents (no API: the checks are pure functions)."""

from __future__ import annotations

from typing import Any

from hubforce.config import DEFAULT_CONFIG_YAML
from hubforce.config.load import parse_config
from hubforce.engine.runner import compile_mappings
from hubforce.engine.validate import check_hubspot, check_salesforce
from hubforce.sync.model import Side

ENV = {"HUBSPOT_TOKEN": "t", "SALESFORCE_CLIENT_SECRET": "s", "SALESFORCE_REFRESH_TOKEN": "r"}


def _field(name: str, type_: str, **kw: Any) -> dict[str, Any]:
    base = {"name": name, "type": type_, "createable": True, "updateable": True, "nillable": True}
    return {**base, **kw}


def _deals():  # type: ignore[no-untyped-def]
    return compile_mappings(parse_config(DEFAULT_CONFIG_YAML, env=ENV))["deals"]


def test_salesforce_problems_each_come_with_a_fix() -> None:
    fields = {
        "Name": _field("Name", "string", nillable=False),
        "Amount": _field("Amount", "boolean"),  # incompatible type
        "CloseDate": _field("CloseDate", "date", createable=False, updateable=False),
        "Description": _field("Description", "textarea"),
        "OwnerId": _field("OwnerId", "reference", nillable=False, defaultedOnCreate=True),
        "StageName": _field(
            "StageName",
            "picklist",
            nillable=False,
            restrictedPicklist=True,
            picklistValues=[{"value": "Prospecting", "active": True}],
        ),
        "AccountId": _field("AccountId", "reference"),
        "Secret__c": _field("Secret__c", "string", nillable=False),  # required, unmapped
    }
    found = check_salesforce(_deals(), "Opportunity", fields)

    def about(name: str) -> str:
        return " | ".join(f"{p.severity}: {p.message} -> {p.fix}" for p in found if p.field == name)

    assert "cannot hold a number value" in about("Amount")
    assert "read-only" in about("CloseDate")
    assert "restricted picklist refuses" in about("StageName") and "'Closed Won'" in about(
        "StageName"
    )
    assert "required on create but neither mapped nor defaulted" in about("Secret__c")
    assert about("Name").startswith("warning:")  # mapped, but blank names will fail
    assert about("Description") == "" and about("AccountId") == ""
    assert all(p.fix and p.side is Side.SALESFORCE for p in found)


def test_hubspot_unknown_property_and_read_only_target() -> None:
    props = {
        "dealname": {"name": "dealname", "type": "string"},
        "amount": {"name": "amount", "type": "number"},
        "closedate": {"name": "closedate", "type": "datetime"},
        "dealstage": {"name": "dealstage", "type": "enumeration", "externalOptions": True},
        "hubspot_owner_id": {
            "name": "hubspot_owner_id",
            "type": "enumeration",
            "modificationMetadata": {"readOnlyValue": True},
        },
    }
    problems = {p.field: p for p in check_hubspot(_deals(), props)}
    assert "no deals property 'description'" in problems["description"].message
    assert "read-only" in problems["hubspot_owner_id"].message
    assert set(problems) == {"description", "hubspot_owner_id"}
