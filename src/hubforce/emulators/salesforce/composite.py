"""sObject Collections (200 records, allOrNone) and `/composite` (25 subrequests, `@{ref}`).

Both count as one API call. allOrNone work runs inside an Org transaction and is rolled back
on the first failure, failed records keep their own error, the others report
ALL_OR_NONE_OPERATION_ROLLED_BACK (collections) or PROCESSING_HALTED (composite).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import Request
from starlette.responses import JSONResponse, Response

from hubforce.emulators.salesforce.exceptions import (
    InvalidField,
    InvalidType,
    JsonParserError,
    MalformedId,
    RequiredFieldMissing,
    SalesforceApiError,
)
from hubforce.emulators.salesforce.ids import to18
from hubforce.emulators.salesforce.models import Org
from hubforce.emulators.salesforce.responses import (
    allow_save_of,
    assignment_of,
    ctx,
    read_json,
)
from hubforce.emulators.salesforce.wire import record_error, render_record

MAX_RECORDS = 200
MAX_SUBREQUESTS = 25
INTERNAL_HEADER = "x-hubforce-composite"
_ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    "fields": [],
}
_REF_RE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])+)\}")


class TooManyRecords(SalesforceApiError):
    """More records or subrequests than one call takes."""

    error_code = "EXCEEDED_ID_LIMIT"


def _records_of(body: Any) -> tuple[list[Any], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise JsonParserError("Expected a JSON object with a `records` array")
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise TooManyRecords(
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call"
        )
    return records, bool(body.get("allOrNone", False))


def _run_all(
    org: Org, items: list[Any], all_or_none: bool, op: Callable[[Any], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Apply `op` to each item; per-item failures become results, allOrNone rolls back."""
    results: list[dict[str, Any]] = []
    failed = False
    if all_or_none:
        org.begin()
    try:
        for item in items:
            try:
                results.append(op(item))
            except SalesforceApiError as exc:
                failed = True
                results.append({"success": False, "errors": [record_error(exc)]})
    finally:
        if all_or_none and failed:
            org.rollback()
            results = [
                r if not r["success"] else {"success": False, "errors": [dict(_ROLLED_BACK)]}
                for r in results
            ]
        elif all_or_none:
            org.commit()
    return results


def _type_of(record: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(record, dict):
        raise JsonParserError("Each record must be a JSON object")
    attributes = record.get("attributes")
    sobject = attributes.get("type") if isinstance(attributes, dict) else None
    if not sobject:
        raise InvalidType("Must specify attributes.type for each record", [])
    return str(sobject), {k: v for k, v in record.items() if k != "attributes"}


async def collections_create(request: Request) -> Response:
    """POST composite/sobjects."""
    org, user, _ = ctx(request)
    records, all_or_none = _records_of(await read_json(request))
    assignment = assignment_of(request, default=True)
    allow_save = allow_save_of(request)

    def op(record: Any) -> dict[str, Any]:
        sobject, values = _type_of(record)
        if any(k.lower() == "id" for k in values):
            raise InvalidField("cannot specify Id in an insert call", ["Id"])
        rid = org.create(
            sobject, values, assignment=assignment, user_id=user, allow_save=allow_save
        )
        return {"id": rid, "success": True, "errors": []}

    return JSONResponse(_run_all(org, records, all_or_none, op))


async def collections_update(request: Request) -> Response:
    """PATCH composite/sobjects: each record carries attributes.type and id."""
    org, user, _ = ctx(request)
    records, all_or_none = _records_of(await read_json(request))
    allow_save = allow_save_of(request)

    def op(record: Any) -> dict[str, Any]:
        sobject, values = _type_of(record)
        key = next((k for k in values if k.lower() == "id"), None)
        if key is None or not values[key]:
            raise MalformedId("Id not specified in an update call", ["Id"])
        rid = str(values.pop(key))
        org.update(sobject, rid, values, user_id=user, allow_save=allow_save)
        return {"id": to18(rid), "success": True, "errors": []}

    return JSONResponse(_run_all(org, records, all_or_none, op))


async def collections_upsert(request: Request, sobject: str, field: str) -> Response:
    """PATCH composite/sobjects/{Type}/{ExtIdField}."""
    org, user, _ = ctx(request)
    records, all_or_none = _records_of(await read_json(request))
    ext = org.sobject(sobject).field(field)
    assignment = assignment_of(request, default=True)
    allow_save = allow_save_of(request)

    def op(record: Any) -> dict[str, Any]:
        _, values = _type_of(record)
        key = next((k for k in values if k.lower() == ext.name.lower()), None)
        if key is None or values[key] in (None, ""):
            raise RequiredFieldMissing(f"Required fields are missing: [{ext.name}]", [ext.name])
        rid, created = org.upsert(
            sobject,
            ext.name,
            str(values[key]),
            values,
            assignment=assignment,
            user_id=user,
            allow_save=allow_save,
        )
        return {"id": rid, "success": True, "errors": [], "created": created}

    return JSONResponse(_run_all(org, records, all_or_none, op))


async def collections_delete(request: Request) -> Response:
    """DELETE composite/sobjects?ids=a,b&allOrNone=false."""
    org, user, _ = ctx(request)
    ids = [i for i in request.query_params.get("ids", "").split(",") if i.strip()]
    if not ids:
        raise RequiredFieldMissing("At least 1 Id is required.")
    if len(ids) > MAX_RECORDS:
        raise TooManyRecords(f"cannot submit more than {MAX_RECORDS} ids into this call")
    all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"

    def op(raw: Any) -> dict[str, Any]:
        try:
            rid = to18(str(raw).strip())
        except MalformedId as exc:
            raise MalformedId(f"malformed id {raw}") from exc
        obj = org.sobject_of_id(rid)
        if obj is None:
            raise MalformedId(f"malformed id {raw}")
        org.delete(obj.name, rid, user_id=user)
        return {"id": rid, "success": True, "errors": []}

    return JSONResponse(_run_all(org, ids, all_or_none, op))


async def collections_retrieve(request: Request, sobject: str) -> Response:
    """GET (ids, fields in the query) or POST (in the body) composite/sobjects/{Type}."""
    org, _, version = ctx(request)
    obj = org.sobject(sobject)
    if request.method == "POST":
        body = await read_json(request)
        ids, fields = list(body.get("ids") or []), list(body.get("fields") or [])
    else:
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        fields = [f for f in request.query_params.get("fields", "").split(",") if f]
    if not ids:
        raise RequiredFieldMissing("At least 1 Id is required.")
    if not fields:
        raise RequiredFieldMissing("At least 1 field is required.", ["fields"])
    for f in fields:
        obj.field(f)
    out: list[dict[str, Any] | None] = []
    for raw in ids:
        try:
            out.append(render_record(obj, org.get(obj.name, str(raw)), version, ["Id", *fields]))
        except SalesforceApiError:
            out.append(None)
    return JSONResponse(out)


def _resolve(text: str, results: dict[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        ref, path = match.group(1), match.group(2)
        if ref not in results:
            raise InvalidField(f"Invalid reference specified. No value for {ref}{path} found")
        value: Any = results[ref]
        for part in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
            key, index = part
            value = value[int(index)] if index else value.get(key) if value else None
        return "" if value is None else str(value)

    return _REF_RE.sub(replace, text)


async def composite(request: Request) -> Response:
    """POST composite: subrequests replayed in process through the same app, as one call."""
    org, _, _ = ctx(request)
    body = await read_json(request)
    subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(subrequests, list) or not subrequests:
        raise JsonParserError("Expected a `compositeRequest` array")
    if len(subrequests) > MAX_SUBREQUESTS:
        raise TooManyRecords(f"Composite requests may have at most {MAX_SUBREQUESTS} subrequests")
    all_or_none = bool(body.get("allOrNone", False))
    headers = {
        "authorization": request.headers.get("authorization", ""),
        INTERNAL_HEADER: request.app.state.internal_key,
        "content-type": "application/json",
    }
    results: dict[str, Any] = {}
    responses: list[dict[str, Any]] = []
    failed_at: int | None = None
    transport = httpx.ASGITransport(app=request.app.state.internal_app)
    if all_or_none:
        org.begin()
    async with httpx.AsyncClient(transport=transport, base_url="http://composite") as client:
        for position, sub in enumerate(subrequests):
            ref = str(sub.get("referenceId", ""))
            try:
                url = _resolve(str(sub.get("url", "")), results)
                payload = sub.get("body")
                content = _resolve(json.dumps(payload), results) if payload is not None else None
            except SalesforceApiError as exc:
                responses.append(_sub(ref, 400, [record_error(exc)], {}))
                failed_at = position if failed_at is None else failed_at
                continue
            reply = await client.request(
                str(sub.get("method", "GET")).upper(), url, content=content, headers=headers
            )
            data = _json_or_none(reply)
            location = reply.headers.get("location")
            responses.append(
                _sub(ref, reply.status_code, data, {"Location": location} if location else {})
            )
            if reply.status_code < 300 and ref:
                results[ref] = data
            elif reply.status_code >= 400 and failed_at is None:
                failed_at = position
    if all_or_none and failed_at is not None:
        org.rollback()
        halted = [
            {
                "errorCode": "PROCESSING_HALTED",
                "message": "The transaction was rolled back since another operation in the same "
                "transaction failed.",
            }
        ]
        responses = [
            r if i == failed_at else _sub(r["referenceId"], 400, halted, {})
            for i, r in enumerate(responses)
        ]
    elif all_or_none:
        org.commit()
    return JSONResponse({"compositeResponse": responses})


def _json_or_none(reply: httpx.Response) -> Any:
    if not reply.content:
        return None
    try:
        return reply.json()
    except ValueError:
        return None


def _sub(ref: str, status: int, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    return {"body": body, "httpHeaders": headers, "httpStatusCode": status, "referenceId": ref}


async def composite_batch(request: Request) -> Response:
    """POST composite/batch: up to 25 independent subrequests, each an API call, no rollback."""
    body = await read_json(request)
    subrequests = body.get("batchRequests") if isinstance(body, dict) else None
    if not isinstance(subrequests, list) or not subrequests:
        raise JsonParserError("Expected a `batchRequests` array")
    if len(subrequests) > MAX_SUBREQUESTS:
        raise TooManyRecords(f"A batch may have at most {MAX_SUBREQUESTS} subrequests")
    halt = bool(body.get("haltOnError", False))
    headers = {
        "authorization": request.headers.get("authorization", ""),
        "content-type": "application/json",
    }
    results: list[dict[str, Any]] = []
    halted = False
    transport = httpx.ASGITransport(app=request.app.state.internal_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://batch") as client:
        for sub in subrequests:
            if halted:
                results.append(
                    {
                        "statusCode": 412,
                        "result": [
                            {
                                "errorCode": "BATCH_PROCESSING_HALTED",
                                "message": "Batch processing halted per request",
                            }
                        ],
                    }
                )
                continue
            url = "/services/data/" + str(sub.get("url", "")).lstrip("/")
            payload = sub.get("richInput")
            reply = await client.request(
                str(sub.get("method", "GET")).upper(),
                url,
                content=json.dumps(payload) if payload is not None else None,
                headers=headers,
            )
            results.append({"statusCode": reply.status_code, "result": _json_or_none(reply)})
            halted = halt and reply.status_code >= 400
    has_errors = any(r["statusCode"] >= 400 for r in results)
    return JSONResponse({"hasErrors": has_errors, "results": results})
