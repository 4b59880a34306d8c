"""Running ingest and query jobs against an in-memory org: per-row outcomes and job failures."""

from __future__ import annotations

import pytest

from hubforce.emulators.salesforce.bulk_jobs import IngestJob, InvalidJob, QueryJob
from hubforce.emulators.salesforce.bulk_process import process_ingest, run_query_job
from hubforce.emulators.salesforce.config import default_config
from hubforce.emulators.salesforce.exceptions import InvalidField
from hubforce.emulators.salesforce.models import Org


@pytest.fixture
def org() -> Org:
    return Org(default_config())


def job(operation: str, csv_text: str, **kwargs: object) -> IngestJob:
    made = IngestJob(
        id="7508H0000000001AAA",
        operation=operation,
        sobject="Lead",
        created_by="005",
        created_date="2024-01-01T00:00:00.000+0000",
        api_version="59.0",
        **kwargs,  # type: ignore[arg-type]
    )
    made.add_upload(csv_text)
    return made


def test_insert_types_cells_and_treats_empty_as_unset(org: Org) -> None:
    ran = job("insert", "LastName,Company,DoNotCall,NumberOfEmployees,Title\nAda,Acme,true,12,\n")
    process_ingest(org, ran, org.integration_user_id)
    ((lead_id, created, *_),) = ran.successes
    row = org.records["Lead"][lead_id]
    assert (created, row["DoNotCall"], row["NumberOfEmployees"], row["Title"]) == (
        "true",
        True,
        12,
        None,
    )
    assert (ran.state, ran.processed, ran.failed) == ("JobComplete", 1, 0)


def test_update_with_na_marker_sets_null(org: Org) -> None:
    lead = org.create("Lead", {"LastName": "Ada", "Company": "Acme", "Title": "CEO"})
    ran = job("update", f"Id,Title\n{lead},#N/A\n{lead[:15]},\n")
    process_ingest(org, ran, org.integration_user_id)
    assert [s[:2] for s in ran.successes] == [[lead, "false"], [lead, "false"]]
    assert org.records["Lead"][lead]["Title"] is None


def test_rows_without_ids_or_keys_fail_with_missing_argument(org: Org) -> None:
    update = job("update", "Id,Title\n,CEO\n")
    process_ingest(org, update, org.integration_user_id)
    assert update.failures == [
        ["", "MISSING_ARGUMENT:Id not specified in an update call:--", "", "CEO"]
    ]
    upsert = job(
        "upsert", "HubSpot_Id__c,LastName,Company\n,Ada,Acme\n", external_id_field="HubSpot_Id__c"
    )
    process_ingest(org, upsert, org.integration_user_id)
    assert upsert.failures[0][1] == "MISSING_ARGUMENT:HubSpot_Id__c not specified:--"


def test_validation_errors_keep_code_message_and_fields(org: Org) -> None:
    ran = job("insert", "LastName,Company,Email\nAda,Acme,nope\n")
    process_ingest(org, ran, org.integration_user_id)
    ((sf_id, error, *row),) = ran.failures
    assert sf_id == ""
    assert error == "INVALID_EMAIL_ADDRESS:Email: invalid email address: nope:Email --"
    assert row == ["Ada", "Acme", "nope"]


def test_delete_of_a_deleted_record_fails(org: Org) -> None:
    lead = org.create("Lead", {"LastName": "Ada", "Company": "Acme"})
    ran = job("delete", f"Id\n{lead}\n{lead}\n")
    process_ingest(org, ran, org.integration_user_id)
    assert ran.successes == [[lead, "false", lead]]
    assert ran.failures == [[lead, "ENTITY_IS_DELETED:entity is deleted:--", lead]]
    assert org.records["Lead"][lead]["IsDeleted"] is True


def test_unknown_header_fails_the_whole_job(org: Org) -> None:
    ran = job("insert", "LastName,Bogus\nAda,x\n")
    process_ingest(org, ran, org.integration_user_id)
    assert (ran.state, ran.error_message) == (
        "Failed",
        "InvalidBatch : Field name not found : Bogus",
    )
    assert ran.unprocessed == [["Ada", "x"]]
    assert org.records["Lead"] == {}


def query_job(soql: str, operation: str = "query") -> QueryJob:
    return QueryJob(
        id="7508H0000000002AAA",
        operation=operation,
        sobject="",
        created_by="005",
        created_date="2024-01-01T00:00:00.000+0000",
        api_version="59.0",
        query=soql,
    )


def test_query_job_keeps_flat_rows_and_headers(org: Org) -> None:
    lead = org.create("Lead", {"LastName": "Ada", "Company": "Acme"})
    ran = query_job("select lastname, owner.email, isdeleted from lead")
    run_query_job(org, ran)
    owner_email = org.records["User"][org.integration_user_id]["Email"]
    assert (ran.sobject, ran.columns, ran.state) == (
        "Lead",
        ["LastName", "Owner.Email", "IsDeleted"],
        "JobComplete",
    )
    assert ran.results == [["Ada", owner_email, False]]
    assert lead in org.records["Lead"]


def test_query_job_rejects_count_and_bad_fields(org: Org) -> None:
    with pytest.raises(InvalidJob):
        run_query_job(org, query_job("SELECT COUNT() FROM Lead"))
    with pytest.raises(InvalidField):
        run_query_job(org, query_job("SELECT Nope FROM Lead"))
