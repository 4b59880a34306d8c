"""Bulk API 2.0 job state: CSV reading and writing, value rendering and job info bodies."""

from __future__ import annotations

import pytest

from hubforce.emulators.salesforce.bulk_jobs import (
    CsvProblem,
    IngestJob,
    QueryJob,
    csv_value,
    read_csv,
)


def ingest(**kwargs: object) -> IngestJob:
    base: dict[str, object] = {
        "id": "7508H0000000001AAA",
        "operation": "insert",
        "sobject": "Lead",
        "created_by": "0058H0000000001AAA",
        "created_date": "2024-01-01T00:00:00.000+0000",
        "api_version": "59.0",
    }
    return IngestJob(**{**base, **kwargs})  # type: ignore[arg-type]


def test_read_csv_returns_header_and_rows() -> None:
    header, rows = read_csv('LastName,Company\nAda,"Acme, Inc."\n"O""Hara",Beta\n', "COMMA", "LF")
    assert header == ["LastName", "Company"]
    assert rows == [["Ada", "Acme, Inc."], ['O"Hara', "Beta"]]


@pytest.mark.parametrize(
    ("delimiter", "text"),
    [
        ("SEMICOLON", "LastName;Company\nAda;Acme\n"),
        ("PIPE", "LastName|Company\nAda|Acme\n"),
        ("TAB", "LastName\tCompany\nAda\tAcme\n"),
        ("BACKQUOTE", "LastName`Company\nAda`Acme\n"),
        ("CARET", "LastName^Company\nAda^Acme\n"),
    ],
)
def test_read_csv_honours_the_column_delimiter(delimiter: str, text: str) -> None:
    assert read_csv(text, delimiter, "LF") == (["LastName", "Company"], [["Ada", "Acme"]])


def test_read_csv_with_crlf_line_endings() -> None:
    assert read_csv("Id\r\n001\r\n", "COMMA", "CRLF") == (["Id"], [["001"]])


@pytest.mark.parametrize(
    ("text", "ending", "message"),
    [
        (
            "Id\r\n001\r\n",
            "LF",
            "LineEnding is invalid on user data. Current LineEnding setting is LF",
        ),
        ("Id\n001\n", "CRLF", "Current LineEnding setting is CRLF"),
        ('Id,Name\n001,"open\n', "LF", "ClientInputError : Invalid CSV data"),
        ("Id,Name\n001\n", "LF", "Row 2 has 1 columns, the header has 2"),
        ("\n\n", "LF", "No header row found"),
    ],
)
def test_read_csv_rejects_malformed_data(text: str, ending: str, message: str) -> None:
    with pytest.raises(CsvProblem) as exc:
        read_csv(text, "COMMA", ending)
    assert message in str(exc.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (12, "12"),
        (2.5, "2.5"),
        ("2024-01-02T03:04:05.000+0000", "2024-01-02T03:04:05.000Z"),
        ("2024-01-02", "2024-01-02"),
        ("plain", "plain"),
    ],
)
def test_csv_value(value: object, text: str) -> None:
    assert csv_value(value) == text


def test_uploads_must_share_a_header() -> None:
    job = ingest()
    job.add_upload("LastName,Company\nAda,Acme\n")
    job.add_upload("lastname,company\nBob,Beta\n")
    assert job.rows == [["Ada", "Acme"], ["Bob", "Beta"]]
    with pytest.raises(CsvProblem):
        job.add_upload("Company\nAcme\n")


def test_result_csv_quotes_service_columns_and_values() -> None:
    job = ingest(column_delimiter="SEMICOLON", line_ending="CRLF")
    text = job.write_csv(
        ["sf__Id", "sf__Created", "Last;Name", "Company"],
        [["00Q1", "true", "Ada", None]],
        quoted_names=2,
    )
    assert text == '"sf__Id";"sf__Created";"Last;Name";Company\r\n"00Q1";"true";"Ada";""\r\n'


def test_ingest_info_short_and_full_forms() -> None:
    job = ingest(operation="upsert", external_id_field="HubSpot_Id__c")
    short = job.info(full=False)
    assert short == {
        "id": "7508H0000000001AAA",
        "operation": "upsert",
        "object": "Lead",
        "createdById": "0058H0000000001AAA",
        "createdDate": "2024-01-01T00:00:00.000+0000",
        "systemModstamp": "2024-01-01T00:00:00.000+0000",
        "state": "Open",
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": 59.0,
        "lineEnding": "LF",
        "columnDelimiter": "COMMA",
        "externalIdFieldName": "HubSpot_Id__c",
        "contentUrl": "services/data/v59.0/jobs/ingest/7508H0000000001AAA/batches",
    }
    job.state, job.processed, job.failed, job.error_message = "Failed", 3, 1, "boom"
    full = job.info(full=True)
    assert (full["jobType"], full["numberRecordsProcessed"], full["numberRecordsFailed"]) == (
        "V2Ingest",
        3,
        1,
    )
    assert full["errorMessage"] == "boom"
    assert full["retries"] == 0


def test_query_job_info_echoes_the_query() -> None:
    job = QueryJob(
        id="7508H0000000002AAA",
        operation="queryAll",
        sobject="Lead",
        created_by="005",
        created_date="2024-01-01T00:00:00.000+0000",
        api_version="60.0",
        query="SELECT Id FROM Lead",
    )
    info = job.info(full=True)
    assert (info["query"], info["jobType"], info["apiVersion"]) == (
        "SELECT Id FROM Lead",
        "V2Query",
        60.0,
    )
    assert "errorMessage" not in info
    assert "contentUrl" not in info
