"""Bulk API 2.0 job state: ingest and query jobs, their info bodies and their results.

Jobs run synchronously when their data is complete (an ingest job on `UploadComplete`, a query
job on creation), so a client's first poll already sees `JobComplete` or `Failed`. Data
problems surface the way the real service reports them: a job-level `Failed` with an
`errorMessage` for a bad header or malformed CSV, per-row `sf__Error` values for records the org
rejects.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from hubforce.emulators.salesforce.exceptions import SalesforceApiError

INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
QUERY_OPERATIONS = ("query", "queryAll")
DELIMITERS = {
    "COMMA": ",",
    "BACKQUOTE": "`",
    "CARET": "^",
    "PIPE": "|",
    "SEMICOLON": ";",
    "TAB": "\t",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
TERMINAL = ("JobComplete", "Failed", "Aborted")


class InvalidJob(SalesforceApiError):
    """A job request the service refuses (bad operation, object, state change...)."""

    error_code = "INVALIDJOB"


class JobNotComplete(SalesforceApiError):
    """Query results asked for before the job finished."""

    status = 412
    error_code = "JOB_NOT_COMPLETE"


class CsvProblem(ValueError):
    """Uploaded data the service cannot read; becomes the job's errorMessage."""


@dataclass
class Job:
    """What ingest and query jobs share: identity, format and lifecycle."""

    id: str
    operation: str
    sobject: str
    created_by: str
    created_date: str
    api_version: str
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"
    state: str = "Open"
    modstamp: str = ""
    error_message: str = ""
    processed: int = 0
    failed: int = 0

    job_type = "V2Ingest"

    def info(self, *, full: bool) -> dict[str, Any]:
        """The job info body: the short form on create/PATCH, the full one on GET."""
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.sobject,
            "createdById": self.created_by,
            "createdDate": self.created_date,
            "systemModstamp": self.modstamp or self.created_date,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
        }
        body.update(self.extra_info())
        if full:
            body.update(
                jobType=self.job_type,
                numberRecordsProcessed=self.processed,
                retries=0,
                totalProcessingTime=0,
            )
            body.update(self.full_info())
            if self.error_message:
                body["errorMessage"] = self.error_message
        return body

    def extra_info(self) -> dict[str, Any]:
        """Keys only one job type has, in both forms."""
        return {}

    def full_info(self) -> dict[str, Any]:
        """Keys only one job type has, in the GET form."""
        return {}

    def write_csv(self, header: list[str], rows: list[list[Any]], *, quoted_names: int) -> str:
        """CSV in the job's delimiter and line ending, every value quoted as the service does.

        The first `quoted_names` header names are quoted too: the service quotes its own
        columns (`"sf__Id"`, query columns) but echoes uploaded names as they were sent.
        """
        delimiter = DELIMITERS[self.column_delimiter]
        ending = LINE_ENDINGS[self.line_ending]
        names = [_quote(h) for h in header[:quoted_names]]
        names += [h if _plain_ok(h, delimiter) else _quote(h) for h in header[quoted_names:]]
        out = io.StringIO()
        out.write(delimiter.join(names) + ending)
        writer = csv.writer(out, delimiter=delimiter, lineterminator=ending, quoting=csv.QUOTE_ALL)
        writer.writerows([[csv_value(v) for v in row] for row in rows])
        return out.getvalue()


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _plain_ok(text: str, delimiter: str) -> bool:
    return not any(ch in text for ch in (delimiter, '"', "\n", "\r"))


@dataclass
class IngestJob(Job):
    """An ingest job: uploaded rows, then per-row outcomes."""

    external_id_field: str | None = None
    assignment_rule_id: str | None = None
    header: list[str] | None = None
    rows: list[list[str]] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)  # sf__Id, sf__Created, *row
    failures: list[list[str]] = field(default_factory=list)  # sf__Id, sf__Error, *row
    unprocessed: list[list[str]] = field(default_factory=list)

    def extra_info(self) -> dict[str, Any]:
        """Upsert jobs name their external id field; every ingest job has a contentUrl."""
        body: dict[str, Any] = {}
        if self.external_id_field:
            body["externalIdFieldName"] = self.external_id_field
        body["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        if self.assignment_rule_id:
            body["assignmentRuleId"] = self.assignment_rule_id
        return body

    def full_info(self) -> dict[str, Any]:
        """Failure count and the processing-time fields of an ingest job."""
        return {
            "numberRecordsFailed": self.failed,
            "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
        }

    def add_upload(self, text: str) -> None:
        """Append one uploaded CSV batch (its header must match earlier ones)."""
        header, rows = read_csv(text, self.column_delimiter, self.line_ending)
        if self.header is not None and [h.lower() for h in header] != [
            h.lower() for h in self.header
        ]:
            raise CsvProblem("InvalidBatch : All uploads of a job must share one header row")
        self.header = header
        self.rows.extend(rows)


@dataclass
class QueryJob(Job):
    """A query job: the result rows, cut into pages by `locator`."""

    query: str = ""
    columns: list[str] = field(default_factory=list)
    results: list[list[Any]] = field(default_factory=list)

    job_type = "V2Query"

    def extra_info(self) -> dict[str, Any]:
        """Query jobs echo their SOQL."""
        return {"query": self.query}

    def full_info(self) -> dict[str, Any]:
        """Query jobs are never PK-chunked here."""
        return {"isPkChunkingSupported": False}


def read_csv(text: str, delimiter: str, line_ending: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of an upload; CsvProblem with the service's wording when unreadable."""
    wrong_ending = "\r\n" in text if line_ending == "LF" else "\n" in text.replace("\r\n", "")
    if wrong_ending:
        raise CsvProblem(
            "ClientInputError : LineEnding is invalid on user data. "
            f"Current LineEnding setting is {line_ending}"
        )
    try:
        parsed = list(
            csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[delimiter], strict=True)
        )
    except csv.Error as exc:
        raise CsvProblem(f"ClientInputError : Invalid CSV data: {exc}") from None
    parsed = [row for row in parsed if row]
    if not parsed or not any(h.strip() for h in parsed[0]):
        raise CsvProblem("ClientInputError : No header row found in the uploaded data")
    header = [h.strip() for h in parsed[0]]
    for number, row in enumerate(parsed[1:], start=2):
        if len(row) != len(header):
            raise CsvProblem(
                f"ClientInputError : Row {number} has {len(row)} columns, the header has "
                f"{len(header)}"
            )
    return header, parsed[1:]


def csv_value(value: Any) -> str:
    """A stored value as Bulk CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and len(value) == 28 and value.endswith("+0000"):
        return value[:-5] + "Z"  # Bulk CSV writes dateTimes in Zulu form
    return str(value)
