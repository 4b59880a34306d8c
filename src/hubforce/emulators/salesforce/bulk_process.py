"""Running Bulk API 2.0 jobs against the org: each ingest row through the same Org methods
the REST API uses (so validation, rules and stamps match), and query jobs through the SOQL engine.
"""

from __future__ import annotations

from typing import Any

from hubforce.emulators.salesforce.bulk_jobs import IngestJob, InvalidJob, QueryJob
from hubforce.emulators.salesforce.exceptions import (
    EntityIsDeleted,
    MalformedId,
    MultipleRecordsMatch,
    NotFound,
    SalesforceApiError,
)
from hubforce.emulators.salesforce.ids import to18
from hubforce.emulators.salesforce.models import Org
from hubforce.emulators.salesforce.query_engine import compile_for_org, run_for_org
from hubforce.emulators.salesforce.schema import FieldSchema, SObjectSchema

NULL_MARKER = "#N/A"  # a Bulk CSV cell that sets the field to null
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


class RowFailure(Exception):
    """A row the org rejects, already in `sf__Error` form."""


def process_ingest(org: Org, job: IngestJob, user_id: str) -> None:
    """Apply every uploaded row; fill successes/failures, or fail the job on a bad header."""
    obj = org.sobject_for_query(job.sobject)
    header = job.header or []
    fields: list[FieldSchema] = []
    for name in header:
        found = obj.find_field(name)
        if found is None:
            job.state, job.error_message = "Failed", f"InvalidBatch : Field name not found : {name}"
            job.unprocessed = list(job.rows)
            return
        fields.append(found)
    for row in job.rows:
        try:
            record_id, created = _apply(org, job, obj, fields, row, user_id)
        except RowFailure as exc:
            failed_id = _cell(fields, row, "Id") if job.operation != "insert" else ""
            job.failures.append([failed_id, str(exc), *row])
        else:
            job.successes.append([record_id, "true" if created else "false", *row])
    job.processed = len(job.rows)
    job.failed = len(job.failures)
    job.state = "JobComplete"


def _cell(fields: list[FieldSchema], row: list[str], name: str) -> str:
    for fs, value in zip(fields, row, strict=True):
        if fs.name == name:
            return value
    return ""


def _values(fields: list[FieldSchema], row: list[str], skip: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for fs, raw in zip(fields, row, strict=True):
        if fs.name in skip or raw == "":
            continue  # an empty cell leaves the field alone
        values[fs.name] = None if raw == NULL_MARKER else _typed(fs, raw)
    return values


def _typed(fs: FieldSchema, raw: str) -> Any:
    if fs.type == "boolean":
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return raw  # the org coerces and validates text, numbers and dates itself


def _apply(
    org: Org,
    job: IngestJob,
    obj: SObjectSchema,
    fields: list[FieldSchema],
    row: list[str],
    user_id: str,
) -> tuple[str, bool]:
    assignment: bool | str = job.assignment_rule_id or False
    try:
        if job.operation == "insert":
            values = _values(fields, row, set())
            return org.create(obj.name, values, assignment=assignment, user_id=user_id), True
        if job.operation == "upsert":
            ext = obj.field(job.external_id_field or "Id").name
            key = _cell(fields, row, ext)
            if not key:
                raise RowFailure(f"MISSING_ARGUMENT:{ext} not specified:--")
            values = _values(fields, row, {ext})
            return org.upsert(obj.name, ext, key, values, assignment=assignment, user_id=user_id)
        record_id = _cell(fields, row, "Id")
        if not record_id:
            raise RowFailure(f"MISSING_ARGUMENT:Id not specified in an {job.operation} call:--")
        if job.operation == "update":
            values = _values(fields, row, {"Id"})
            org.update(obj.name, record_id, values, assignment=assignment, user_id=user_id)
            return to18(record_id), False
        org.delete(obj.name, record_id, user_id=user_id)
        return to18(record_id), False
    except MultipleRecordsMatch as exc:
        ids = ", ".join(url.rsplit("/", 1)[-1] for url in exc.urls)
        raise RowFailure(
            f"DUPLICATE_EXTERNAL_ID:{job.external_id_field}: more than one record found for "
            f"external id field: [{ids}]:--"
        ) from None
    except (NotFound, MalformedId):
        raise RowFailure("INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--") from None
    except EntityIsDeleted:
        raise RowFailure("ENTITY_IS_DELETED:entity is deleted:--") from None
    except SalesforceApiError as exc:
        fields_part = "".join(f"{f} " for f in exc.fields)
        raise RowFailure(f"{exc.error_code}:{exc.message}:{fields_part}--") from None


def run_query_job(org: Org, job: QueryJob) -> None:
    """Run the job's SOQL now; the rows wait for `results` requests."""
    compiled = compile_for_org(org, job.query)
    if compiled.count or compiled.offset:
        raise InvalidJob("Bulk API 2.0 query jobs do not support COUNT() or OFFSET")
    job.sobject = compiled.sobject
    job.columns = [c.header for c in compiled.columns]
    rows = run_for_org(org, compiled, include_deleted=job.operation == "queryAll")
    job.results = [compiled.flat(r) for r in rows]
    job.processed = len(job.results)
    job.state = "JobComplete"
