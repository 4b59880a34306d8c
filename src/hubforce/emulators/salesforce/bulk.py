"""Bulk API 2.0 endpoints: ingest jobs (CSV upload, close, results) and query jobs.

Session, version and limits are checked by the guard in front of every `/services/data/` route.
Job state and its rules live in `bulk_jobs.py`; running jobs against the org in
`bulk_process.py`. Handlers here parse the request, call one of those and render the answer.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from hubforce.emulators.salesforce.bulk_jobs import (
    DELIMITERS,
    INGEST_OPERATIONS,
    LINE_ENDINGS,
    QUERY_OPERATIONS,
    TERMINAL,
    CsvProblem,
    IngestJob,
    InvalidJob,
    Job,
    JobNotComplete,
    QueryJob,
)
from hubforce.emulators.salesforce.bulk_process import process_ingest, run_query_job
from hubforce.emulators.salesforce.exceptions import (
    InvalidQueryLocator,
    InvalidType,
    NotFound,
    UnsupportedMediaType,
)
from hubforce.emulators.salesforce.ids import make_id
from hubforce.emulators.salesforce.models import Org
from hubforce.emulators.salesforce.responses import read_object

CSV_TYPE = "text/csv"


class BulkJobs:
    """All Bulk API 2.0 jobs of one app, by id."""

    def __init__(self, records: object, counter: int = 0) -> None:
        self.records = records  # the org tables these jobs ran against
        self.jobs: dict[str, Job] = {}
        self.counter = counter  # carried over a reset, so ids are never reused

    def new_id(self) -> str:
        """The next `750...` job id."""
        self.counter += 1
        return make_id("750", self.counter)

    def get(self, job_id: str, kind: type[Job]) -> Job:
        """The job of that kind; NOT_FOUND otherwise (an ingest id on /jobs/query too)."""
        job = self.jobs.get(job_id)
        if job is None or not isinstance(job, kind):
            raise NotFound("The requested resource does not exist")
        return job


def _jobs(request: Request) -> BulkJobs:
    jobs: BulkJobs | None = getattr(request.app.state, "bulk_jobs", None)
    records = request.app.state.backend.records
    if jobs is None or jobs.records is not records:
        # A reset or state import replaces the org's tables; its jobs go with them.
        jobs = BulkJobs(records, jobs.counter if jobs else 0)
        request.app.state.bulk_jobs = jobs
    return jobs


def _context(request: Request) -> tuple[Org, str, str]:
    org: Org = request.app.state.backend
    return org, str(request.state.sf_user_id), str(request.state.sf_version)


def _format(body: dict[str, Any]) -> tuple[str, str]:
    delimiter = str(body.get("columnDelimiter") or "COMMA")
    ending = str(body.get("lineEnding") or "LF")
    if delimiter not in DELIMITERS:
        raise InvalidJob(f"InvalidJob : Invalid column delimiter: {delimiter}")
    if ending not in LINE_ENDINGS:
        raise InvalidJob(f"InvalidJob : Invalid line ending: {ending}")
    if str(body.get("contentType") or "CSV") != "CSV":
        raise InvalidJob(f"InvalidJob : Unsupported content type: {body.get('contentType')}")
    return delimiter, ending


async def create_ingest_job(request: Request, version: str) -> JSONResponse:
    """POST /jobs/ingest: a new job in state Open."""
    org, user, version = _context(request)
    body = await read_object(request)
    operation = str(body.get("operation") or "")
    if operation not in INGEST_OPERATIONS:
        raise InvalidJob(f"InvalidJob : Invalid operation: {operation or 'null'}")
    try:
        obj = org.sobject_for_query(str(body.get("object") or ""))
    except InvalidType:
        raise InvalidJob(f"InvalidJob : Unable to find object: {body.get('object')}") from None
    external = body.get("externalIdFieldName")
    if operation == "upsert":
        fs = obj.find_field(str(external or ""))
        if not external:
            raise InvalidJob(
                f"InvalidJob : External ID was blank for {obj.name}. An External ID must be "
                "specified for upsert."
            )
        if fs is None or not (fs.external_id or fs.name == "Id"):
            raise InvalidJob(
                f"InvalidJob : Field name provided, {external} does not match an External ID, "
                f"Salesforce Id, or indexed field for {obj.name}"
            )
        external = fs.name
    delimiter, ending = _format(body)
    now = org.now_wire()
    job = IngestJob(
        id=_jobs(request).new_id(),
        operation=operation,
        sobject=obj.name,
        created_by=user,
        created_date=now,
        api_version=version,
        column_delimiter=delimiter,
        line_ending=ending,
        external_id_field=str(external) if operation == "upsert" else None,
        assignment_rule_id=body.get("assignmentRuleId"),
    )
    _jobs(request).jobs[job.id] = job
    return JSONResponse(job.info(full=False))


async def upload_job_data(request: Request, version: str, job_id: str) -> Response:
    """PUT /jobs/ingest/{id}/batches: CSV rows for an Open job (201)."""
    job = _jobs(request).get(job_id, IngestJob)
    assert isinstance(job, IngestJob)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != CSV_TYPE:
        raise UnsupportedMediaType(f"Unsupported Content-Type: {ctype or 'none'}")
    if job.state != "Open":
        raise InvalidJob(f"InvalidJob : Job {job.id} is not in state Open")
    raw = await request.body()
    try:
        job.add_upload(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        job.error_message = "ClientInputError : Uploaded data is not valid UTF-8"
    except CsvProblem as exc:
        # As in the real service, data problems show when the job runs, not on upload.
        job.error_message = str(exc)
    return Response(status_code=201)


async def patch_ingest_job(request: Request, version: str, job_id: str) -> JSONResponse:
    """PATCH /jobs/ingest/{id}: UploadComplete runs the job; Aborted stops it."""
    org, user, _ = _context(request)
    job = _jobs(request).get(job_id, IngestJob)
    assert isinstance(job, IngestJob)
    wanted = str((await read_object(request)).get("state") or "")
    if wanted not in ("UploadComplete", "Aborted") or job.state != "Open":
        raise InvalidJob(f"InvalidJob : Invalid state transition from {job.state} to {wanted}")
    job.modstamp = org.now_wire()
    if wanted == "Aborted":
        job.state, job.unprocessed = "Aborted", list(job.rows)
        return JSONResponse(job.info(full=False))
    job.state = "UploadComplete"
    reply = job.info(full=False)
    if job.error_message:
        job.state, job.unprocessed = "Failed", list(job.rows)
    else:
        process_ingest(org, job, user)
    return JSONResponse(reply)


def _csv(text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text, media_type=CSV_TYPE, headers=headers)


async def successful_results(request: Request, version: str, job_id: str) -> Response:
    """GET /jobs/ingest/{id}/successfulResults."""
    job = _jobs(request).get(job_id, IngestJob)
    assert isinstance(job, IngestJob)
    header = ["sf__Id", "sf__Created", *(job.header or [])]
    return _csv(job.write_csv(header, job.successes, quoted_names=2))


async def failed_results(request: Request, version: str, job_id: str) -> Response:
    """GET /jobs/ingest/{id}/failedResults."""
    job = _jobs(request).get(job_id, IngestJob)
    assert isinstance(job, IngestJob)
    header = ["sf__Id", "sf__Error", *(job.header or [])]
    return _csv(job.write_csv(header, job.failures, quoted_names=2))


async def unprocessed_records(request: Request, version: str, job_id: str) -> Response:
    """GET /jobs/ingest/{id}/unprocessedrecords."""
    job = _jobs(request).get(job_id, IngestJob)
    assert isinstance(job, IngestJob)
    return _csv(job.write_csv(job.header or [], job.unprocessed, quoted_names=0))


async def create_query_job(request: Request, version: str) -> JSONResponse:
    """POST /jobs/query: runs the SOQL at once; the first poll sees JobComplete."""
    org, user, version = _context(request)
    body = await read_object(request)
    operation = str(body.get("operation") or "")
    if operation not in QUERY_OPERATIONS:
        raise InvalidJob(f"InvalidJob : Invalid operation: {operation or 'null'}")
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidJob("InvalidJob : The query is required for a query job")
    delimiter, ending = _format(body)
    now = org.now_wire()
    job = QueryJob(
        id=_jobs(request).new_id(),
        operation=operation,
        sobject="",
        created_by=user,
        created_date=now,
        api_version=version,
        column_delimiter=delimiter,
        line_ending=ending,
        query=query,
    )
    run_query_job(org, job)  # raises the query's MALFORMED_QUERY / INVALID_FIELD / ...
    _jobs(request).jobs[job.id] = job
    job.state = "UploadComplete"
    reply = job.info(full=False)
    job.state = "JobComplete"
    return JSONResponse(reply)


def _offset_of(locator: str | None) -> int:
    if not locator:
        return 0
    try:
        padded = locator + "=" * (-len(locator) % 4)
        return int(base64.b64decode(padded, validate=True).decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidQueryLocator(f"Invalid locator: {locator}") from None


def _locator_of(offset: int) -> str:
    # Opaque to clients; the real service's look like base64 of the offset, e.g. MTAwMDA.
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


async def query_results(request: Request, version: str, job_id: str) -> Response:
    """GET /jobs/query/{id}/results?locator=&maxRecords=: one CSV page."""
    job = _jobs(request).get(job_id, QueryJob)
    assert isinstance(job, QueryJob)
    if job.state != "JobComplete":
        raise JobNotComplete(f"Job {job.id} is not complete; its state is {job.state}")
    start = _offset_of(request.query_params.get("locator"))
    raw_max = request.query_params.get("maxRecords")
    if raw_max is not None and (not raw_max.isdigit() or int(raw_max) < 1):
        raise InvalidJob(f"InvalidJob : maxRecords must be a positive integer: {raw_max}")
    end = min(len(job.results), start + int(raw_max)) if raw_max else len(job.results)
    if start > len(job.results):
        raise InvalidQueryLocator(f"Invalid locator: {request.query_params.get('locator')}")
    page = job.results[start:end]
    text = job.write_csv(job.columns, page, quoted_names=len(job.columns))
    headers = {
        "Sforce-Locator": _locator_of(end) if end < len(job.results) else "null",
        "Sforce-NumberOfRecords": str(len(page)),
    }
    return _csv(text, headers)


def _job_routes(kind: type[Job]) -> tuple[Any, Any, Any, Any]:
    async def get_job(request: Request, version: str, job_id: str) -> JSONResponse:
        return JSONResponse(_jobs(request).get(job_id, kind).info(full=True))

    async def list_jobs(request: Request, version: str) -> JSONResponse:
        jobs = [j.info(full=False) for j in _jobs(request).jobs.values() if isinstance(j, kind)]
        return JSONResponse({"done": True, "records": jobs, "nextRecordsUrl": None})

    async def delete_job(request: Request, version: str, job_id: str) -> Response:
        job = _jobs(request).get(job_id, kind)
        if job.state not in (*TERMINAL, "Open", "UploadComplete"):
            raise InvalidJob(f"InvalidJob : Job {job.id} cannot be deleted in state {job.state}")
        del _jobs(request).jobs[job.id]
        return Response(status_code=204)

    async def abort_job(request: Request, version: str, job_id: str) -> JSONResponse:
        job = _jobs(request).get(job_id, kind)
        wanted = str((await read_object(request)).get("state") or "")
        if wanted != "Aborted" or job.state in TERMINAL:
            raise InvalidJob(f"InvalidJob : Invalid state transition from {job.state} to {wanted}")
        job.state = "Aborted"
        return JSONResponse(job.info(full=False))

    return get_job, list_jobs, delete_job, abort_job


def build_bulk_router() -> APIRouter:
    """Return the router serving /jobs/ingest and /jobs/query."""
    router = APIRouter()
    ingest = "/services/data/v{version}/jobs/ingest"
    get_ingest, list_ingest, delete_ingest, _ = _job_routes(IngestJob)
    router.add_api_route(ingest, create_ingest_job, methods=["POST"])
    router.add_api_route(ingest, list_ingest, methods=["GET"])
    router.add_api_route(ingest + "/{job_id}", get_ingest, methods=["GET"])
    router.add_api_route(ingest + "/{job_id}", patch_ingest_job, methods=["PATCH"])
    router.add_api_route(ingest + "/{job_id}", delete_ingest, methods=["DELETE"])
    router.add_api_route(ingest + "/{job_id}/batches", upload_job_data, methods=["PUT"])
    router.add_api_route(
        ingest + "/{job_id}/successfulResults", successful_results, methods=["GET"]
    )
    router.add_api_route(ingest + "/{job_id}/failedResults", failed_results, methods=["GET"])
    for spelling in ("unprocessedrecords", "unprocessedRecords"):  # docs vs simple-salesforce
        router.add_api_route(ingest + "/{job_id}/" + spelling, unprocessed_records, methods=["GET"])
    query = "/services/data/v{version}/jobs/query"
    get_query, list_query, delete_query, abort_query = _job_routes(QueryJob)
    router.add_api_route(query, create_query_job, methods=["POST"])
    router.add_api_route(query, list_query, methods=["GET"])
    router.add_api_route(query + "/{job_id}", get_query, methods=["GET"])
    router.add_api_route(query + "/{job_id}", abort_query, methods=["PATCH"])
    router.add_api_route(query + "/{job_id}", delete_query, methods=["DELETE"])
    router.add_api_route(query + "/{job_id}/results", query_results, methods=["GET"])
    return router
