"""Bulk API 2.0 through unmodified simple-salesforce: ingest with failures, upsert, delete,
query paging, job deletion and malformed CSV."""

from __future__ import annotations

import csv
import io
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceOperationError

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.salesforce.models import Org

JOBS = "/services/data/v59.0/jobs"
AUTH = {"Authorization": "Bearer emulator-token"}


def org_of(server: BackgroundServer) -> Org:
    org: Org = server.app.state.backend
    return org


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def api(sf_server: BackgroundServer, sf_control: httpx.Client) -> Iterator[httpx.Client]:
    """Raw HTTPS access for what simple-salesforce cannot send (bad CSV, DELETE replies)."""
    assert sf_server.certs is not None
    with httpx.Client(
        base_url=sf_server.url,
        headers=AUTH,
        verify=ssl.create_default_context(cafile=str(sf_server.certs.ca_file)),
    ) as client:
        yield client


def test_insert_reports_successes_and_failed_rows(
    sf: Salesforce, sf_server: BackgroundServer
) -> None:
    records: list[dict[str, Any]] = [
        {"LastName": "Ada", "Company": "Acme", "Email": "ada@acme.test"},
        {"LastName": None, "Company": "NoName", "Email": "x@acme.test"},
        {"LastName": "Bob", "Company": "Acme", "Email": "not-an-email"},
        {"LastName": "Cy", "Company": "Acme", "Email": None},
    ]
    (result,) = sf.bulk2.Lead.insert(records=records, wait=0)
    assert result["numberRecordsProcessed"] == 4
    assert result["numberRecordsFailed"] == 2
    job_id = result["job_id"]

    ok = rows(sf.bulk2.Lead.get_successful_records(job_id))
    assert sorted(r["LastName"] for r in ok) == ["Ada", "Cy"]
    assert all(r["sf__Created"] == "true" and r["sf__Id"].startswith("00Q") for r in ok)
    stored = org_of(sf_server).records["Lead"]
    assert {stored[r["sf__Id"]]["LastName"] for r in ok} == {"Ada", "Cy"}

    failed = {r["Company"]: r for r in rows(sf.bulk2.Lead.get_failed_records(job_id))}
    assert failed["NoName"]["sf__Id"] == ""
    assert failed["NoName"]["sf__Error"].startswith(
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]"
    )
    assert failed["Acme"]["sf__Error"].startswith("INVALID_EMAIL_ADDRESS:")
    assert rows(sf.bulk2.Lead.get_unprocessed_records(job_id)) == []


def test_result_csv_quotes_sf_columns_and_echoes_uploaded_names(
    sf: Salesforce, sf_server: BackgroundServer
) -> None:
    (result,) = sf.bulk2.Lead.insert(records=[{"LastName": "Ada", "Company": "Acme"}], wait=0)
    text = sf.bulk2.Lead.get_successful_records(result["job_id"])
    header, line = text.splitlines()
    assert header.startswith('"sf__Id","sf__Created",')
    assert sorted(header.split(",")[2:]) == ["Company", "LastName"]
    assert line.startswith('"00Q') and '"true"' in line


def test_upsert_by_external_id_updates_and_creates(
    sf: Salesforce, sf_server: BackgroundServer
) -> None:
    org = org_of(sf_server)
    existing = org.create("Lead", {"LastName": "Old", "Company": "Acme", "HubSpot_Id__c": "hs-1"})
    (result,) = sf.bulk2.Lead.upsert(
        records=[
            {"HubSpot_Id__c": "hs-1", "LastName": "Renamed", "Company": "Acme"},
            {"HubSpot_Id__c": "hs-2", "LastName": "New", "Company": "Beta"},
        ],
        external_id_field="HubSpot_Id__c",
        wait=0,
    )
    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (2, 0)
    ok = {
        r["HubSpot_Id__c"]: r for r in rows(sf.bulk2.Lead.get_successful_records(result["job_id"]))
    }
    assert (ok["hs-1"]["sf__Id"], ok["hs-1"]["sf__Created"]) == (existing, "false")
    assert ok["hs-2"]["sf__Created"] == "true"
    assert org.records["Lead"][existing]["LastName"] == "Renamed"
    assert org.records["Lead"][ok["hs-2"]["sf__Id"]]["Company"] == "Beta"


def test_update_and_delete_with_a_missing_id(sf: Salesforce, sf_server: BackgroundServer) -> None:
    org = org_of(sf_server)
    a = org.create("Lead", {"LastName": "A", "Company": "Acme"})
    b = org.create("Lead", {"LastName": "B", "Company": "Acme"})
    missing = "00Q8H0000009999ZZZ"
    (updated,) = sf.bulk2.Lead.update(
        records=[{"Id": a, "Title": "CEO"}, {"Id": missing, "Title": "CTO"}], wait=0
    )
    assert (updated["numberRecordsProcessed"], updated["numberRecordsFailed"]) == (2, 1)
    assert org.records["Lead"][a]["Title"] == "CEO"
    (failure,) = rows(sf.bulk2.Lead.get_failed_records(updated["job_id"]))
    assert failure["sf__Id"] == missing
    assert failure["sf__Error"].startswith("INVALID_CROSS_REFERENCE_KEY:")

    (deleted,) = sf.bulk2.Lead.delete(records=[{"Id": b}], wait=0)
    assert (deleted["numberRecordsProcessed"], deleted["numberRecordsFailed"]) == (1, 0)
    live = sf.query("SELECT Id FROM Lead")["records"]
    assert [r["Id"] for r in live] == [a]
    gone = sf.query_all("SELECT Id FROM Lead WHERE IsDeleted = true", include_deleted=True)
    assert [r["Id"] for r in gone["records"]] == [b]


def test_query_job_pages_with_locator(sf: Salesforce, sf_server: BackgroundServer) -> None:
    org = org_of(sf_server)
    ids = [org.create("Lead", {"LastName": f"L{i}", "Company": "Acme"}) for i in range(5)]
    pages = list(
        sf.bulk2.Lead.query(
            "SELECT Id, LastName, Owner.Email FROM Lead ORDER BY LastName", max_records=2, wait=0
        )
    )
    assert len(pages) == 3
    assert all(page.startswith('"Id","LastName","Owner.Email"\n') for page in pages)
    found = [r for page in pages for r in rows(page)]
    assert [r["Id"] for r in found] == ids
    owner_email = org.records["User"][org.integration_user_id]["Email"]
    assert {r["Owner.Email"] for r in found} == {owner_email}


def test_query_results_headers(
    sf: Salesforce, api: httpx.Client, sf_server: BackgroundServer
) -> None:
    org = org_of(sf_server)
    for i in range(3):
        org.create("Lead", {"LastName": f"L{i}", "Company": "Acme"})
    job = api.post(f"{JOBS}/query", json={"operation": "query", "query": "SELECT Id FROM Lead"})
    assert job.status_code == 200
    assert job.json()["state"] == "UploadComplete"
    info = api.get(f"{JOBS}/query/{job.json()['id']}").json()
    assert (info["state"], info["jobType"], info["numberRecordsProcessed"]) == (
        "JobComplete",
        "V2Query",
        3,
    )
    first = api.get(f"{JOBS}/query/{info['id']}/results", params={"maxRecords": 2})
    assert first.headers["Sforce-NumberOfRecords"] == "2"
    assert first.headers["content-type"].startswith("text/csv")
    last = api.get(
        f"{JOBS}/query/{info['id']}/results",
        params={"maxRecords": 2, "locator": first.headers["Sforce-Locator"]},
    )
    assert (last.headers["Sforce-NumberOfRecords"], last.headers["Sforce-Locator"]) == ("1", "null")


def test_query_all_job_includes_deleted_rows(sf: Salesforce, sf_server: BackgroundServer) -> None:
    org = org_of(sf_server)
    gone = org.create("Lead", {"LastName": "Gone", "Company": "Acme"})
    org.delete("Lead", gone)
    live = [r for page in sf.bulk2.Lead.query("SELECT Id FROM Lead", wait=0) for r in rows(page)]
    everything = [
        r
        for page in sf.bulk2.Lead.query_all("SELECT Id, IsDeleted FROM Lead", wait=0)
        for r in rows(page)
    ]
    assert live == []
    assert everything == [{"Id": gone, "IsDeleted": "true"}]


def test_malformed_query_job_is_rejected(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        list(sf.bulk2.Lead.query("SELECT Id FROM Lead WHERE", wait=0))
    assert exc.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_unknown_column_fails_the_job(sf: Salesforce) -> None:
    with pytest.raises(SalesforceOperationError) as exc:
        sf.bulk2.Lead.insert(records=[{"LastName": "A", "Company": "B", "Nope__c": "x"}], wait=0)
    assert "InvalidBatch : Field name not found : Nope__c" in str(exc.value)


def _ingest(api: httpx.Client, body: dict[str, Any]) -> str:
    reply = api.post(f"{JOBS}/ingest", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["state"] == "Open"
    return str(reply.json()["id"])


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ('LastName,Company\n"Ada,Acme\n', "ClientInputError : Invalid CSV data"),
        ("LastName,Company\nAda,Acme,Extra\n", "Row 2 has 3 columns, the header has 2"),
        ("LastName,Company\r\nAda,Acme\r\n", "LineEnding is invalid on user data"),
    ],
)
def test_malformed_csv_fails_the_job_with_an_error_message(
    api: httpx.Client, csv_text: str, message: str
) -> None:
    job_id = _ingest(api, {"object": "Lead", "operation": "insert", "contentType": "CSV"})
    put = api.put(
        f"{JOBS}/ingest/{job_id}/batches",
        content=csv_text.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert put.status_code == 201
    closed = api.patch(f"{JOBS}/ingest/{job_id}", json={"state": "UploadComplete"})
    assert closed.json()["state"] == "UploadComplete"
    info = api.get(f"{JOBS}/ingest/{job_id}").json()
    assert info["state"] == "Failed"
    assert message in info["errorMessage"]
    unprocessed = api.get(f"{JOBS}/ingest/{job_id}/unprocessedrecords")
    assert unprocessed.status_code == 200


def test_job_requests_are_validated(api: httpx.Client) -> None:
    bad_object = api.post(f"{JOBS}/ingest", json={"object": "Nope", "operation": "insert"})
    assert bad_object.status_code == 400
    assert bad_object.json()[0]["errorCode"] == "INVALIDJOB"
    no_ext = api.post(f"{JOBS}/ingest", json={"object": "Lead", "operation": "upsert"})
    assert "External ID was blank for Lead" in no_ext.json()[0]["message"]
    job_id = _ingest(api, {"object": "Lead", "operation": "insert"})
    wrong_type = api.put(
        f"{JOBS}/ingest/{job_id}/batches",
        content=b"{}",
        headers={"Content-Type": "application/json"},
    )
    assert wrong_type.status_code == 415
    unknown = api.get(f"{JOBS}/ingest/7508H0000000999ZZZ")
    assert (unknown.status_code, unknown.json()[0]["errorCode"]) == (404, "NOT_FOUND")


def test_abort_leaves_rows_unprocessed(api: httpx.Client, sf_server: BackgroundServer) -> None:
    job_id = _ingest(api, {"object": "Lead", "operation": "insert"})
    api.put(
        f"{JOBS}/ingest/{job_id}/batches",
        content=b"LastName,Company\nAda,Acme\n",
        headers={"Content-Type": "text/csv"},
    )
    aborted = api.patch(f"{JOBS}/ingest/{job_id}", json={"state": "Aborted"})
    assert aborted.json()["state"] == "Aborted"
    unprocessed = api.get(f"{JOBS}/ingest/{job_id}/unprocessedrecords")
    assert unprocessed.text == 'LastName,Company\n"Ada","Acme"\n'
    assert org_of(sf_server).records["Lead"] == {}


def test_delete_job_answers_204_and_forgets_it(sf: Salesforce, api: httpx.Client) -> None:
    (result,) = sf.bulk2.Lead.insert(records=[{"LastName": "A", "Company": "B"}], wait=0)
    job_url = f"{JOBS}/ingest/{result['job_id']}"
    listed = api.get(f"{JOBS}/ingest").json()
    assert result["job_id"] in [j["id"] for j in listed["records"]]
    deleted = api.delete(job_url)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert api.get(job_url).status_code == 404
