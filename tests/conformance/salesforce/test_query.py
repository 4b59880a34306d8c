"""SOQL query endpoints through unmodified simple-salesforce: results, paging, queryAll, errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.salesforce.models import Org

BATCH_200 = {"Sforce-Query-Options": "batchSize=200"}


def org_of(server: BackgroundServer) -> Org:
    org: Org = server.app.state.backend
    return org


def add_leads(server: BackgroundServer, count: int, **extra: Any) -> list[str]:
    # Setup goes straight to the org (same process); the behaviour under test goes over HTTPS.
    org = org_of(server)
    return [
        org.create("Lead", {"LastName": f"Lead{i:04d}", "Company": "Acme", **extra})
        for i in range(count)
    ]


def test_query_returns_records_with_attributes_and_canonical_names(
    sf: Salesforce, sf_server: BackgroundServer
) -> None:
    (lead_id,) = add_leads(sf_server, 1, Email="ada@acme.test")
    result = sf.query("select id, lastname, EMAIL from lead where email = 'ADA@acme.test'")
    assert result["totalSize"] == 1
    assert result["done"] is True
    assert "nextRecordsUrl" not in result
    assert result["records"] == [
        {
            "attributes": {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{lead_id}"},
            "Id": lead_id,
            "LastName": "Lead0000",
            "Email": "ada@acme.test",
        }
    ]


def test_parent_paths_come_back_as_nested_objects(
    sf: Salesforce, sf_server: BackgroundServer
) -> None:
    org = org_of(sf_server)
    add_leads(sf_server, 1)
    owner = org.records["User"][org.integration_user_id]
    record = sf.query("SELECT Id, Owner.Email, Owner.Name FROM Lead")["records"][0]
    assert record["Owner"] == {
        "attributes": {
            "type": "User",
            "url": f"/services/data/v59.0/sobjects/User/{owner['Id']}",
        },
        "Email": owner["Email"],
        "Name": owner["Name"],
    }


def test_query_all_iter_follows_next_records_url_across_pages(
    sf: Salesforce, sf_server: BackgroundServer
) -> None:
    ids = add_leads(sf_server, 450)
    first = sf.query("SELECT Id FROM Lead ORDER BY LastName", headers=BATCH_200)
    assert (first["totalSize"], first["done"], len(first["records"])) == (450, False, 200)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-200")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True, headers=BATCH_200)
    assert (second["done"], len(second["records"])) == (False, 200)
    assert second["nextRecordsUrl"].endswith("-400")

    records = list(sf.query_all_iter("SELECT Id FROM Lead ORDER BY LastName", headers=BATCH_200))
    assert [r["Id"] for r in records] == ids


def test_default_batch_is_2000_records(sf: Salesforce, sf_server: BackgroundServer) -> None:
    add_leads(sf_server, 2001)
    first = sf.query("SELECT Id FROM Lead")
    assert (len(first["records"]), first["done"]) == (2000, False)
    rest = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert (len(rest["records"]), rest["done"]) == (1, True)
    assert "nextRecordsUrl" not in rest


def test_query_all_sees_deleted_rows_and_query_does_not(
    sf: Salesforce, sf_server: BackgroundServer
) -> None:
    keep, gone = add_leads(sf_server, 2)
    assert sf.Lead.delete(gone) == 204
    live = sf.query("SELECT Id FROM Lead")
    assert [r["Id"] for r in live["records"]] == [keep]
    everything = sf.query_all(
        "SELECT Id, IsDeleted FROM Lead ORDER BY LastName", include_deleted=True
    )
    assert [(r["Id"], r["IsDeleted"]) for r in everything["records"]] == [
        (keep, False),
        (gone, True),
    ]
    deleted = sf.query("SELECT Id FROM Lead WHERE IsDeleted = true", include_deleted=True)
    assert [r["Id"] for r in deleted["records"]] == [gone]


def test_count_query_reports_total_size(sf: Salesforce, sf_server: BackgroundServer) -> None:
    add_leads(sf_server, 3)
    add_leads(sf_server, 2, Status="Working - Contacted", Phone="555-0100")
    result = sf.query("SELECT COUNT() FROM Lead WHERE Status = 'Working - Contacted'")
    assert (result["totalSize"], result["done"], result["records"]) == (2, True, [])


def test_incremental_pull_by_system_modstamp(sf: Salesforce, sf_server: BackgroundServer) -> None:
    org = org_of(sf_server)
    old = add_leads(sf_server, 2)
    cutoff = org.now_wire()
    org.clock.advance(60)
    new = add_leads(sf_server, 2)
    soql = (
        "SELECT Id, SystemModstamp FROM Lead WHERE SystemModstamp > "
        f"{cutoff[:19]}Z ORDER BY SystemModstamp ASC LIMIT 2000"
    )
    records = sf.query(soql)["records"]
    assert [r["Id"] for r in records] == new
    assert all(r["SystemModstamp"].endswith(".000+0000") for r in records)
    assert old[0] not in {r["Id"] for r in records}


@pytest.mark.parametrize(
    ("soql", "code", "tail"),
    [
        ("SELECT Id FORM Lead", "MALFORMED_QUERY", "unexpected token: 'FORM'"),
        ("invalid", "MALFORMED_QUERY", "unexpected token: 'invalid'"),
        ("SELECT Id, Foo FROM Lead", "INVALID_FIELD", "No such column 'Foo' on entity 'Lead'."),
        ("SELECT Id FROM Leed", "INVALID_TYPE", "sObject type 'Leed' is not supported."),
        (
            "SELECT Id FROM Lead WHERE CreatedDate > 2024-01-01",
            "INVALID_FIELD",
            "must be of type dateTime and should not be enclosed in quotes",
        ),
    ],
)
def test_bad_queries_raise_malformed_request_with_the_error_code(
    sf: Salesforce, soql: str, code: str, tail: str
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query(soql)
    assert exc.value.status == 400
    assert exc.value.content[0]["errorCode"] == code
    assert tail in exc.value.content[0]["message"]


def test_unknown_locator_is_invalid_query_locator(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query_more("01g000000000099AAA-200")
    assert exc.value.content == [
        {"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}
    ]


def test_locator_expires_after_fifteen_idle_minutes(
    sf: Salesforce, sf_server: BackgroundServer
) -> None:
    add_leads(sf_server, 250)
    first = sf.query("SELECT Id FROM Lead", headers=BATCH_200)
    org_of(sf_server).clock.advance(16 * 60)
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert exc.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_reset_invalidates_open_locators(
    sf: Salesforce, sf_server: BackgroundServer, sf_control: httpx.Client
) -> None:
    add_leads(sf_server, 250)
    first = sf.query("SELECT Id FROM Lead", headers=BATCH_200)
    assert sf_control.post("/__emulator__/reset").status_code == 200
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert exc.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


@pytest.mark.parametrize(("asked", "served"), [("100", 200), ("5000", 2000), ("350", 350)])
def test_batch_size_is_kept_between_200_and_2000(
    sf: Salesforce, sf_server: BackgroundServer, asked: str, served: int
) -> None:
    add_leads(sf_server, 2100)
    first = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": f"batchSize={asked}"})
    assert len(first["records"]) == served
    assert first["nextRecordsUrl"].endswith(f"-{served}")


def test_query_all_pages_are_also_served_under_query_all(
    sf: Salesforce, sf_server: BackgroundServer
) -> None:
    add_leads(sf_server, 250)
    first = sf.query("SELECT Id FROM Lead", include_deleted=True, headers=BATCH_200)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    more_path = first["nextRecordsUrl"].replace("/query/", "/queryAll/")
    rest = sf.query_more(more_path, identifier_is_url=True)
    assert (len(rest["records"]), rest["done"]) == (50, True)
