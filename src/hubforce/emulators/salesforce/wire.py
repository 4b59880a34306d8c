"""Rendering to the Salesforce wire format: error arrays, records, faults and the 500 body."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from hubforce.emulators.salesforce.exceptions import (
    InvalidSessionId,
    MultipleRecordsMatch,
    RequestLimitExceeded,
    SalesforceApiError,
    ServerUnavailable,
    UnableToLockRow,
    UnknownException,
)
from hubforce.emulators.salesforce.schema import SObjectSchema

Row = dict[str, Any]


def error_body(exc: SalesforceApiError) -> list[dict[str, Any]]:
    """The REST error array for one exception."""
    entry: dict[str, Any] = {**exc.extra(), "message": exc.message, "errorCode": exc.error_code}
    if exc.fields:
        entry["fields"] = list(exc.fields)
    return [entry]


def record_error(exc: SalesforceApiError) -> dict[str, Any]:
    """A per-record error inside collections results (`statusCode`, not `errorCode`)."""
    entry: dict[str, Any] = {
        "statusCode": exc.error_code,
        "message": exc.message,
        "fields": list(exc.fields),
    }
    entry.update(exc.extra())
    return entry


def error_response(exc: SalesforceApiError) -> Response:
    """The HTTP response for an exception (300 upsert matches render as a URL list)."""
    if isinstance(exc, MultipleRecordsMatch):
        return JSONResponse(exc.urls, status_code=300)
    return JSONResponse(error_body(exc), status_code=exc.status)


async def handle_api_error(request: Request, exc: Exception) -> Response:
    """Exception handler registered once, on the base class."""
    assert isinstance(exc, SalesforceApiError)
    return error_response(exc)


async def handle_server_error(request: Request, exc: Exception) -> Response:
    """The vendor's 500 body for anything unexpected; never a traceback."""
    error_id = (
        f"{uuid.uuid4().int % 10**9}-{uuid.uuid4().int % 10**5} ({-uuid.uuid4().int % 10**9})"
    )
    return error_response(
        UnknownException(
            "An unexpected error occurred. Please include this ErrorId if you contact support: "
            + error_id
        )
    )


_UNEXPECTED = "An unexpected error occurred. Please include this ErrorId if you contact support: "


def render_fault(kind: str) -> Response | None:
    """A fault outcome in Salesforce's format; None for an unknown kind."""
    known: dict[str, SalesforceApiError] = {
        "500": UnknownException(_UNEXPECTED + "1-1 (-1)"),
        "503": ServerUnavailable("Server temporarily unavailable. Please try again later."),
        "unable_to_lock_row": UnableToLockRow(
            "unable to obtain exclusive access to this record or 1 records: 0018H0000000001QAA"
        ),
        "expired_session": InvalidSessionId("Session expired or invalid"),
        "request_limit_exceeded": RequestLimitExceeded("TotalRequests Limit exceeded."),
    }
    if kind in known:
        return error_response(known[kind])
    if kind.isdigit() and 400 <= int(kind) <= 599:
        exc = UnknownException(f"HTTP {kind}")
        return JSONResponse(error_body(exc), status_code=int(kind))
    return None


def record_url(version: str, sobject: str, rid: str) -> str:
    """The REST path of a record."""
    return f"/services/data/v{version}/sobjects/{sobject}/{rid}"


def render_record(
    obj: SObjectSchema, row: Row, version: str, fields: Iterable[str] | None = None
) -> dict[str, Any]:
    """A record as the REST API returns it, with `attributes` first."""
    out: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": record_url(version, obj.name, row["Id"])}
    }
    names = [obj.field(f).name for f in fields] if fields is not None else list(obj.fields)
    for name in names:
        out[name] = row.get(name)
    return out
