"""Partial batch failures, crash between a create and its bookkeeping, the inclusion filter."""

from __future__ import annotations

from typing import Any

import pytest

from hubforce.store import IntentStatus
from hubforce.sync.model import Side
from tests.e2e.conftest import Harness

WORLD = {"people": 20, "companies": 6, "deals": 4}


def _new_contact(h: Harness, email: str, **props: str) -> str:
    body = h.call(
        Side.HUBSPOT,
        "POST",
        "/crm/v3/objects/contacts",
        {"properties": {"email": email, "lastname": "Tester", **props}},
    )
    return str(body["id"])


def _leads(h: Harness, email: str) -> list[dict[str, Any]]:
    return h.soql(f"SELECT Id, Phone FROM Lead WHERE Email = '{email}'")


def test_rejected_records_are_stored_and_the_rest_of_the_batch_syncs(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    # Salesforce's validation rule: a Lead being worked needs a phone.
    bad = [
        _new_contact(harness, f"bad{i}@worked.example", hs_lead_status="IN_PROGRESS")
        for i in range(2)
    ]
    good = _new_contact(harness, "good@worked.example", hs_lead_status="NEW")
    harness.reset_stats()

    report = harness.sync()

    assert len(_leads(harness, "good@worked.example")) == 1
    assert all(_leads(harness, f"bad{i}@worked.example") == [] for i in range(2))
    sf_routes = harness.stats(Side.SALESFORCE)["by_route"]
    assert sum(n for r, n in sf_routes.items() if r.startswith("POST") and "composite" in r) == 1
    contacts = next(p for p in report.pairs if p.pair == "contacts")
    assert contacts.failures == {"validation_rule": 2}
    groups = harness.store.failures.groups(pair="contacts")
    assert len(groups) == 1 and groups[0].count == 2
    stored = harness.store.failures.find(pair="contacts")
    assert {f.hubspot_id for f in stored} == set(bad)
    assert {f.api_code for f in stored} == {"FIELD_CUSTOM_VALIDATION_EXCEPTION"}
    assert all(f.remediation and f.category == "validation_rule" for f in stored)
    assert harness.link("contacts", Side.HUBSPOT, good) is not None
    # The cursor moved past the failed records: they wait in the failure store.
    cursor = harness.store.cursors.get("contacts", "hubspot")
    assert cursor is not None and '"contacts"' in cursor
    # Fixing the record lets the next cycle sync it and resolve its failure.
    harness.hs_patch("contacts", bad[0], {"phone": "+1 555 0100"})
    harness.sync()
    assert len(_leads(harness, "bad0@worked.example")) == 1
    assert {f.hubspot_id for f in harness.store.failures.find(pair="contacts")} == {bad[1]}


class Crash(RuntimeError):
    """The process dies between a write and its bookkeeping."""


@pytest.mark.parametrize("target", [Side.SALESFORCE, Side.HUBSPOT])
def test_crash_after_create_before_bookkeeping_never_duplicates(
    harness: Harness, target: Side
) -> None:
    harness.seed(**WORLD)
    harness.sync()
    email = "crash.test@resilience.example"
    if target is Side.SALESFORCE:
        source = _new_contact(harness, email)
    else:
        body = harness.call(
            Side.SALESFORCE,
            "POST",
            "/services/data/v62.0/sobjects/Lead",
            {"LastName": "Crash", "Company": "Resilience", "Email": email},
        )
        source = body["id"]

    def crash(pair: str, side: Side, kind: str, count: int) -> None:
        if pair == "contacts" and side is target and kind == "create":
            raise Crash("killed after the create was sent")

    with pytest.raises(Crash):
        harness.sync(after_write=crash)
    pending = harness.store.intents.unresolved("contacts")
    assert [i.source_id for i in pending] == [source]
    crashed = harness.store.runs.latest(kind="sync")
    assert crashed is not None and crashed.status == "failed"
    assert crashed.message == "contacts: interrupted by Crash"

    harness.sync()
    harness.sync()

    if target is Side.SALESFORCE:
        assert len(_leads(harness, email)) == 1
        link = harness.link("contacts", Side.HUBSPOT, source)
    else:
        twins = [
            c for c in harness.hs_all("contacts", "email") if c["properties"]["email"] == email
        ]
        assert len(twins) == 1
        link = harness.link("contacts", Side.SALESFORCE, source)
    assert link is not None
    intent = harness.store.intents.get_many("contacts", str(target), [source])[source]
    assert intent.status is IntentStatus.CREATED
    assert harness.store.intents.unresolved() == []


def test_inclusion_filter_keeps_excluded_contacts_out_of_salesforce(harness: Harness) -> None:
    def only_leads(data: dict[str, Any]) -> None:
        data["objects"]["contacts"]["inclusion"] = {
            "all": [{"property": "lifecyclestage", "operator": "in", "values": ["lead"]}]
        }

    harness.configure(only_leads)
    harness.seed(**WORLD)
    harness.sync()
    _new_contact(harness, "in@filter.example", lifecyclestage="lead")
    excluded = _new_contact(harness, "out@filter.example", lifecyclestage="subscriber")

    report = harness.sync()

    assert len(_leads(harness, "in@filter.example")) == 1
    assert _leads(harness, "out@filter.example") == []
    assert harness.link("contacts", Side.HUBSPOT, excluded) is None
    contacts = next(p for p in report.pairs if p.pair == "contacts")
    assert contacts.skipped.get("excluded by the inclusion filter", 0) >= 1


def test_parked_failure_is_retried_from_the_failure_store_after_a_fix(harness: Harness) -> None:
    def without_retail(data: dict[str, Any]) -> None:
        for field in data["objects"]["companies"]["fields"]:
            if field["hubspot"] == "industry":
                del field["picklist"]["RETAIL"]

    harness.configure(without_retail)
    harness.seed(**WORLD)
    harness.sync(overlap_ms=0)
    company = harness.call(
        Side.HUBSPOT,
        "POST",
        "/crm/v3/objects/companies",
        {
            "properties": {
                "name": "Parked Retail Ltd",
                "domain": "parked-retail.example",
                "industry": "RETAIL",
            }
        },
    )["id"]
    harness.sync(overlap_ms=0)
    [parked] = harness.store.failures.find("picklist", pair="companies")
    assert (parked.hubspot_id, parked.operation) == (company, "create")
    assert "RETAIL" in parked.message and parked.remediation

    harness.configure(lambda data: None)  # the user fixes the mapping...
    harness.sync(overlap_ms=0)
    accounts = "SELECT Id, Industry FROM Account WHERE Name = 'Parked Retail Ltd'"
    assert harness.soql(accounts) == []  # ...but an unchanged record is not read again
    harness.store.failures.request_retry("picklist", pair="companies")  # `hubforce retry`

    report = harness.sync(overlap_ms=0)

    assert [row["Industry"] for row in harness.soql(accounts)] == ["Retail"]
    assert next(p for p in report.pairs if p.pair == "companies").read["hubspot:retried"] == 1
    assert harness.store.failures.find(pair="companies") == []
    assert harness.link("companies", Side.HUBSPOT, company) is not None
