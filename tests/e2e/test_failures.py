"""Partial batch failures, crash between a create and its bookkeeping, the inclusion filter."""

from __future__ import annotations

from typing import Any

import pytest

from hubforce.emulators.salesforce.exceptions import UnableToLockRow
from hubforce.emulators.salesforce.formula import Condition
from hubforce.emulators.salesforce.rules import ValidationRule
from hubforce.errors import ConnectorError
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


# -- refused updates of linked records: retried, never lost --------------------------------

SF_COLLECTIONS = "/services/data/*/composite/sobjects*"


def _linked_contact(h: Harness) -> tuple[str, str]:
    """(HubSpot id, Salesforce Contact id) of a contact linked to a Salesforce Contact."""
    for contact in h.hs_all("contacts", "email"):
        link = h.link("contacts", Side.HUBSPOT, contact["id"])
        if link is not None and link.salesforce_type == "Contact" and link.snapshot is not None:
            return contact["id"], link.salesforce_id
    raise AssertionError("no contact linked to a Salesforce Contact")


def _refuse_titles(h: Harness, word: str) -> None:
    """Add a Salesforce validation rule (in the emulator's org) refusing a Contact whose Title
    contains `word`, as an admin would in Setup."""
    org = h.sf_app.state.backend
    contact = org.schema["Contact"]
    rule = ValidationRule(
        "Contact",
        "No_Refused_Titles",
        Condition(f"CONTAINS(Title, '{word}')", lambda name: contact.field(name).name),
        f"Title must not contain {word}",
        "Title",
    )
    org.rules.validation.setdefault("Contact", []).append(rule)


def _drop_rule(h: Harness) -> None:
    """The admin deactivates the rule again."""
    rules = h.sf_app.state.backend.rules.validation["Contact"]
    rules[:] = [r for r in rules if r.name != "No_Refused_Titles"]


def _contact_sf(h: Harness, sf_id: str) -> dict[str, Any]:
    [row] = h.soql(f"SELECT Title, MailingCity, Phone FROM Contact WHERE Id = '{sf_id}'")
    return row


def _contact_hs(h: Harness, hs_id: str) -> dict[str, Any]:
    body = h.call(
        Side.HUBSPOT,
        "GET",
        f"/crm/v3/objects/contacts/{hs_id}",
        params={"properties": "jobtitle,city,phone"},
    )
    props: dict[str, Any] = body["properties"]
    return props


def _assert_steady(h: Harness) -> None:
    """One more cycle writes nothing and leaves no failure: both sides agree."""
    h.reset_stats()
    h.sync(overlap_ms=0)
    assert h.writes() == {Side.HUBSPOT: 0, Side.SALESFORCE: 0}
    assert h.store.failures.find() == []


@pytest.mark.parametrize("other_fields", [False, True])
def test_refused_salesforce_update_is_written_by_the_retry_after_the_fix(
    harness: Harness, other_fields: bool
) -> None:
    harness.seed(**WORLD)
    harness.sync(overlap_ms=0)
    hs_id, sf_id = _linked_contact(harness)
    _refuse_titles(harness, "Refused")
    edit = {"jobtitle": "Refused Officer"}
    if other_fields:  # one bad field among several changed ones, on both sides
        edit["phone"] = "+1 555 0199"
        harness.sf_patch("Contact", sf_id, {"MailingCity": "Porto"})
    harness.hs_patch("contacts", hs_id, edit)

    harness.sync(overlap_ms=0)

    [failure] = harness.store.failures.find(pair="contacts")
    assert (failure.side, failure.operation, failure.category) == (
        Side.SALESFORCE,
        "update",
        "validation_rule",
    )
    assert _contact_sf(harness, sf_id)["Title"] != "Refused Officer"
    if other_fields:  # the accepted direction was written
        assert _contact_hs(harness, hs_id)["city"] == "Porto"
    harness.sync(overlap_ms=0)  # a cycle before the fix changes nothing
    assert len(harness.store.failures.find(pair="contacts")) == 1

    _drop_rule(harness)
    harness.store.failures.request_retry("validation_rule", pair="contacts")  # hubforce retry
    harness.sync(overlap_ms=0)

    row = _contact_sf(harness, sf_id)
    assert row["Title"] == "Refused Officer"
    if other_fields:
        assert (row["Phone"], row["MailingCity"]) == ("+1 555 0199", "Porto")
        assert _contact_hs(harness, hs_id)["city"] == "Porto"
    assert harness.store.failures.find(pair="contacts") == []
    _assert_steady(harness)


def test_update_refused_in_a_503_storm_is_sent_again_by_the_next_cycle(
    harness: Harness,
) -> None:
    harness.seed(**WORLD)
    harness.sync(overlap_ms=0)
    hs_id, sf_id = _linked_contact(harness)
    harness.hs_patch("contacts", hs_id, {"jobtitle": "Storm Chaser"})
    storm = {"route": SF_COLLECTIONS, "method": "PATCH", "fault": "503"}
    harness.call(Side.SALESFORCE, "POST", "/__emulator__/faults", {"rules": [storm]})

    # The storm outlasts the connector's retries: the cycle ends, its round is not recorded
    # and the cursor stays, so the next cycle reads the edit again.
    with pytest.raises(ConnectorError):
        harness.sync(overlap_ms=0)
    assert _contact_sf(harness, sf_id)["Title"] != "Storm Chaser"
    harness.call(Side.SALESFORCE, "DELETE", "/__emulator__/faults")
    harness.sync(overlap_ms=0)

    assert _contact_sf(harness, sf_id)["Title"] == "Storm Chaser"
    assert harness.store.failures.find(pair="contacts") == []
    _assert_steady(harness)


class _RowLocked:
    """A validation-rule condition that instead reports the row locked by another process:
    a per-record transient refusal inside an otherwise accepted collections request."""

    fields: set[str] = set()

    def __init__(self, record_id: str) -> None:
        self.record_id = record_id
        self.active = True

    def evaluate(self, row: dict[str, Any], old: dict[str, Any] | None) -> bool:
        if self.active and row.get("Id") == self.record_id:
            raise UnableToLockRow(f"unable to obtain exclusive access to this record: {row['Id']}")
        return False


def test_transient_refusal_of_an_update_is_retried_automatically(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync(overlap_ms=0)
    hs_id, sf_id = _linked_contact(harness)
    locked = _RowLocked(sf_id)
    rule = ValidationRule("Contact", "Row_Locked", locked, "", None)  # type: ignore[arg-type]
    harness.sf_app.state.backend.rules.validation.setdefault("Contact", []).append(rule)
    harness.hs_patch("contacts", hs_id, {"jobtitle": "Lock Picker", "city": "Braga"})

    harness.sync(overlap_ms=0)

    [failure] = harness.store.failures.find(pair="contacts")
    assert (failure.side, failure.category, failure.retryable) == (
        Side.SALESFORCE,
        "transient",
        True,
    )
    assert failure.next_attempt_at is not None
    harness.sync(overlap_ms=0)  # backoff not elapsed: still waiting, nothing lost
    assert [f.id for f in harness.store.failures.find(pair="contacts")] == [failure.id]

    locked.active = False  # the other process let go of the row
    # The backoff elapses (the engine's clock moved past it); no one runs `hubforce retry`.
    later = failure.next_attempt_at + 1
    report = harness.sync(overlap_ms=0, clock=lambda: later)

    assert next(p for p in report.pairs if p.pair == "contacts").read["hubspot:retried"] == 1
    row = _contact_sf(harness, sf_id)
    assert (row["Title"], row["MailingCity"]) == ("Lock Picker", "Braga")
    assert harness.store.failures.find(pair="contacts") == []
    _assert_steady(harness)


def test_refused_hubspot_update_is_written_by_the_retry_after_the_fix(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync(overlap_ms=0)
    account = next(
        row
        for row in harness.soql("SELECT Id, Industry FROM Account ORDER BY Id")
        if row["Industry"] != "Retail"
        and harness.link("companies", Side.SALESFORCE, row["Id"]) is not None
    )
    hs_id = harness.link("companies", Side.SALESFORCE, account["Id"]).hubspot_id
    # A HubSpot admin removes the RETAIL option (a HubSpot-defined property, so in the
    # emulator's portal as the UI would): HubSpot then refuses industry=RETAIL.
    industry = harness.hs_app.state.portal.catalogue["companies"]["industry"]
    options = list(industry.options)
    industry.options = [o for o in options if o["value"] != "RETAIL"]
    harness.sf_patch("Account", account["Id"], {"Industry": "Retail", "Phone": "+1 555 0142"})

    harness.sync(overlap_ms=0)

    [failure] = harness.store.failures.find(pair="companies")
    assert (failure.side, failure.operation) == (Side.HUBSPOT, "update")
    harness.sync(overlap_ms=0)

    industry.options = options  # the option is back
    harness.store.failures.request_retry(pair="companies")
    harness.sync(overlap_ms=0)

    body = harness.call(
        Side.HUBSPOT,
        "GET",
        f"/crm/v3/objects/companies/{hs_id}",
        params={"properties": "industry,phone"},
    )
    assert (body["properties"]["industry"], body["properties"]["phone"]) == (
        "RETAIL",
        "+1 555 0142",
    )
    assert harness.store.failures.find(pair="companies") == []
    _assert_steady(harness)
