"""The Org backend: ids, validation, assignment, conversion, merge, tracking, rollback, sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.salesforce.config import default_config
from hubforce.emulators.salesforce.exceptions import (
    CannotUpdateConvertedLead,
    DuplicateValue,
    InvalidReplicationDate,
    InvalidSessionId,
    MalformedId,
    MultipleRecordsMatch,
)
from hubforce.emulators.salesforce.formula import Condition, FormulaError
from hubforce.emulators.salesforce.ids import checksum, make_id, to18
from hubforce.emulators.salesforce.models import Org
from hubforce.emulators.salesforce.sessions import SessionStore

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def org() -> Org:
    return Org(clock=EmulatorClock(START, frozen=True))


def test_checksums_match_published_samples() -> None:
    samples = {
        "00558000001N0Ke": "AAK",
        "001xx000003DGb2": "AAG",
        "003xx000004TmiQ": "AAS",
        "00Di0000000icUB": "EAY",
        "005i0000002MUqL": "AAW",
    }
    for id15, suffix in samples.items():
        assert checksum(id15) == suffix
        assert to18(id15) == id15 + suffix
    assert to18("001xx000003DGb2aag") == "001xx000003DGb2AAG"  # checksum is case-insensitive
    with pytest.raises(MalformedId):
        to18("001xx000003DGb2ZZZ")
    assert make_id("00Q", 61)[:15] == "00Q8H000000000z"


def test_create_applies_defaults_and_system_fields(org: Org) -> None:
    rid = org.create("lead", {"LastName": "Smith", "Company": "Acme"})
    row = org.records["Lead"][rid]
    assert row["Status"] == "Open - Not Contacted"
    assert row["IsDeleted"] is False and row["IsConverted"] is False
    assert row["CreatedDate"] == row["SystemModstamp"] == "2026-03-02T12:00:00.000+0000"
    assert row["CreatedById"] == org.integration_user_id


def test_unique_external_id_clash_is_duplicate_value(org: Org) -> None:
    org.create("Lead", {"LastName": "A", "Company": "B", "HubSpot_Id__c": "h1"})
    with pytest.raises(DuplicateValue) as exc:
        org.create("Lead", {"LastName": "C", "Company": "D", "HubSpot_Id__c": "H1"})
    assert exc.value.fields == ["HubSpot_Id__c"]


def test_assignment_round_robin_and_by_state(org: Org) -> None:
    config = default_config().model_copy(deep=True)
    config.assignment_rules[0].entries.insert(
        0,
        type(config.assignment_rules[0].entries[0])(criteria={"State": ["CA"]}, users=["b@x.io"]),
    )
    org = Org(config, clock=EmulatorClock(START, frozen=True))
    users = [
        org.insert_row(
            "User",
            {"Username": u, "Email": u, "LastName": u, "Alias": "a", "IsActive": True},
        )
        for u in ("a@x.io", "b@x.io", "c@x.io")
    ]
    owners = [
        org.records["Lead"][org.create("Lead", {"LastName": "L", "Company": "C"}, assignment=True)][
            "OwnerId"
        ]
        for _ in range(4)
    ]
    assert owners == [users[0], users[1], users[2], users[0]]
    ca = org.create("Lead", {"LastName": "L", "Company": "C", "State": "CA"}, assignment=True)
    assert org.records["Lead"][ca]["OwnerId"] == users[1]
    unassigned = org.create("Lead", {"LastName": "L", "Company": "C"}, assignment=False)
    assert org.records["Lead"][unassigned]["OwnerId"] == org.integration_user_id


def test_conversion_creates_account_contact_opportunity_and_locks_lead(org: Org) -> None:
    lead = org.create(
        "Lead", {"FirstName": "Ann", "LastName": "Lee", "Company": "Acme", "Email": "a@acme.io"}
    )
    result = org.convert_lead(lead)
    row = org.records["Lead"][lead]
    assert row["IsConverted"] is True and row["Status"] == "Closed - Converted"
    assert row["ConvertedContactId"] == result["contactId"]
    contact = org.get("Contact", result["contactId"])
    assert contact["Email"] == "a@acme.io" and contact["AccountId"] == result["accountId"]
    assert org.get("Account", result["accountId"])["Name"] == "Acme"
    assert org.get("Opportunity", result["opportunityId"])["AccountId"] == result["accountId"]
    with pytest.raises(CannotUpdateConvertedLead):
        org.update("Lead", lead, {"Title": "CEO"})


def test_merge_soft_deletes_losers_with_master_and_reparents(org: Org) -> None:
    master = org.create("Account", {"Name": "Acme"})
    loser = org.create("Account", {"Name": "Acme Inc"})
    contact = org.create("Contact", {"LastName": "X", "AccountId": loser})
    org.clock.advance(60)
    result = org.merge("Account", master, [loser])
    assert result["mergedRecordIds"] == [loser]
    assert org.records["Account"][loser]["IsDeleted"] is True
    assert org.records["Account"][loser]["MasterRecordId"] == master
    assert org.records["Contact"][contact]["AccountId"] == master
    assert org.records["Account"][master]["SystemModstamp"] == "2026-03-02T12:01:00.000+0000"


def test_updated_and_deleted_windows(org: Org) -> None:
    keep = org.create("Contact", {"LastName": "K"})
    gone = org.create("Contact", {"LastName": "G"})
    org.clock.advance(90)
    org.delete("Contact", gone)
    org.clock.advance(120)
    updated = org.get_updated("Contact", "2026-03-02T11:00:00Z", "2026-03-02T13:00:00+00:00")
    assert updated == {"ids": [keep], "latestDateCovered": "2026-03-02T12:03:00.000+0000"}
    deleted = org.get_deleted("Contact", "2026-03-02T11:00:00Z", "2026-03-02T12:02:00Z")
    assert deleted["deletedRecords"] == [
        {"id": gone, "deletedDate": "2026-03-02T12:01:30.000+0000"}
    ]
    with pytest.raises(InvalidReplicationDate):
        org.get_deleted("Contact", (START - timedelta(days=16)).isoformat(), START.isoformat())
    with pytest.raises(InvalidReplicationDate):
        org.get_updated("Contact", "2026-03-02T12:00:00Z", "2026-03-02T11:00:00Z")


def test_upsert_with_two_matches_and_rollback(org: Org) -> None:
    a = org.create("Lead", {"LastName": "A", "Company": "C"})
    org.begin()
    org.update("Lead", a, {"Title": "CEO"})
    org.create("Lead", {"LastName": "B", "Company": "C"})
    org.delete("Lead", a)
    org.rollback()
    assert list(org.records["Lead"]) == [a]
    assert org.records["Lead"][a]["Title"] is None and not org.records["Lead"][a]["IsDeleted"]
    assert org.deleted_log == []
    state = org.export_state()
    state["records"]["Lead"].append({**state["records"]["Lead"][0], "Id": make_id("00Q", 50)})
    for row in state["records"]["Lead"]:
        row["HubSpot_Id__c"] = "same"
    org.import_state(state)
    with pytest.raises(MultipleRecordsMatch) as exc:
        org.upsert("Lead", "HubSpot_Id__c", "same", {"Title": "X"})
    assert len(exc.value.urls) == 2


def test_sessions_expire_on_the_emulator_clock() -> None:
    clock = EmulatorClock(START, frozen=True)
    sessions = SessionStore(clock, make_id("00D", 1), "static", lifetime=60)
    token = sessions.issue("005x")
    assert sessions.user_of(token, "static-user") == "005x"
    assert sessions.user_of("static", "static-user") == "static-user"
    clock.advance(61)
    with pytest.raises(InvalidSessionId):
        sessions.user_of(token, "static-user")


def test_formula_conditions_are_parsed_not_evaluated_as_python() -> None:
    cond = Condition("AND(NOT(ISBLANK(Email)), LEN(Email) > 5) || Amount >= 10", str)
    assert cond.evaluate({"Email": "abcdef", "Amount": None}) is True
    assert cond.evaluate({"Email": "", "Amount": 10}) is True
    assert cond.evaluate({"Email": "ab", "Amount": 3}) is False
    with pytest.raises(FormulaError):
        Condition("__import__('os').system('x')", str)


def test_seed_is_deterministic_and_extra_leads_are_cheap() -> None:
    one, two = (
        Org(clock=EmulatorClock(START, frozen=True)),
        Org(clock=EmulatorClock(START, frozen=True)),
    )
    assert one.seed({"seed": 3}) == two.seed({"seed": 3})
    assert one.export_state() == two.export_state()
    emails = {r["Email"] for r in one.records["Lead"].values()} & {
        r["Email"] for r in one.records["Contact"].values()
    }
    assert emails, "the 'both' overlap gives Leads and Contacts sharing an email"
    before = len(one.records["Lead"])
    one.seed({"people": 0, "companies": 0, "deals": 0, "reps": 0, "extra_leads": 5000})
    assert len(one.records["Lead"]) == before + 5000
    with pytest.raises(ValueError):
        one.seed({"bogus": 1})


def test_rollback_leaves_other_tasks_writes_alone(org: Org) -> None:
    import asyncio

    async def transaction(started: asyncio.Event, other_done: asyncio.Event) -> None:
        org.begin()
        org.create("Lead", {"LastName": "In", "Company": "T"})
        started.set()
        await other_done.wait()
        org.rollback()

    async def other(started: asyncio.Event, other_done: asyncio.Event) -> str:
        await started.wait()
        rid = org.create("Lead", {"LastName": "Out", "Company": "T"})
        other_done.set()
        return rid

    async def main() -> str:
        started, other_done = asyncio.Event(), asyncio.Event()
        _, rid = await asyncio.gather(transaction(started, other_done), other(started, other_done))
        return rid

    survivor = asyncio.run(main())
    assert [r["LastName"] for r in org.records["Lead"].values()] == ["Out"]
    assert survivor in org.records["Lead"]
