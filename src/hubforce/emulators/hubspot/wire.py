"""HubSpot wire formats: records, collections and error bodies, rendered in one place."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from hubforce.emulators.hubspot import associations as assoc
from hubforce.emulators.hubspot.exceptions import HubSpotApiError
from hubforce.emulators.hubspot.properties import DEFAULT_PROPERTIES, MODIFIED_PROPERTY, iso_ms
from hubforce.emulators.hubspot.store import Record

ALWAYS = ("createdate", "hs_object_id", "lastmodifieddate", "hs_lastmodifieddate")


def error_body(exc: HubSpotApiError, correlation_id: str | None = None) -> dict[str, Any]:
    """`{"status":"error","message":...,"correlationId":...,"category":...}` plus details."""
    body: dict[str, Any] = {
        "status": "error",
        "message": exc.message,
        "correlationId": correlation_id or str(uuid.uuid4()),
    }
    if exc.category:
        body["category"] = exc.category
    if exc.errors is not None:
        body["errors"] = exc.errors
    if exc.context is not None:
        body["context"] = exc.context
    body.update(exc.extra)
    return body


def error_response(exc: HubSpotApiError, correlation_id: str | None = None) -> JSONResponse:
    """The JSON response for an API error, with its status and headers."""
    return JSONResponse(error_body(exc, correlation_id), exc.status, headers=exc.headers)


async def handle_api_error(request: Request, exc: Exception) -> Response:
    """Exception handler registered once for `HubSpotApiError` (found through the MRO)."""
    assert isinstance(exc, HubSpotApiError)
    return error_response(exc, request.scope.get("hubspot.correlation_id"))


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own parameter errors, in HubSpot's 400 shape."""
    assert isinstance(exc, RequestValidationError)
    details = [
        {"message": str(e.get("msg", "invalid")), "in": ".".join(str(p) for p in e.get("loc", ()))}
        for e in exc.errors()
    ]
    text = "; ".join(f"{d['in']}: {d['message']}" for d in details)
    err = HubSpotApiError(f"Invalid input: {text}", errors=details)
    return error_response(err, request.scope.get("hubspot.correlation_id"))


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """404/405 from routing, in HubSpot's shape."""
    assert isinstance(exc, StarletteHTTPException)
    category = "OBJECT_NOT_FOUND" if exc.status_code == 404 else "VALIDATION_ERROR"
    err = HubSpotApiError(str(exc.detail), status=exc.status_code, category=category)
    return error_response(err, request.scope.get("hubspot.correlation_id"))


def render_fault(outcome: str) -> Response | None:
    """Fault outcomes ('500', '503', '429', ...) in HubSpot's format."""
    if outcome == "429":
        body = HubSpotApiError(
            "You have reached your ten_secondly_rolling limit.",
            status=429,
            category="RATE_LIMITS",
            extra={"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"},
        )
        return error_response(body)
    if outcome == "423":
        return error_response(
            HubSpotApiError(
                "The record is locked; try again in 2 seconds", status=423, category="LOCKED"
            )
        )
    if outcome.isdigit() and 400 <= int(outcome) <= 599:
        status = int(outcome)
        message = "internal error" if status == 500 else f"HTTP {status}"
        category = "INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR"
        return error_response(HubSpotApiError(message, status=status, category=category))
    return None


async def handle_server_error(request: Request, exc: Exception) -> Response:
    """HubSpot's 500 body; never a traceback."""
    err = HubSpotApiError("internal error", status=500, category="INTERNAL_ERROR")
    return error_response(err, request.scope.get("hubspot.correlation_id"))


def selected_properties(
    object_type: str, record: Record, requested: list[str] | None
) -> dict[str, str | None]:
    """The `properties` object: the defaults, or the requested names (null when unset).

    `requested` must already be limited to known properties (unknown names are ignored).
    """
    if requested is None:
        names: Iterable[str] = DEFAULT_PROPERTIES[object_type]
    else:
        names = [*requested, *(n for n in ALWAYS if n in record.properties)]
    return {name: record.properties.get(name) for name in names}


def render_record(
    object_type: str,
    record: Record,
    *,
    properties: list[str] | None = None,
    with_history: list[str] | None = None,
    associations: dict[str, list[dict[str, str]]] | None = None,
) -> dict[str, Any]:
    """A `SimplePublicObject` (with history and associations when asked)."""
    body: dict[str, Any] = {
        "id": str(record.id),
        "properties": selected_properties(object_type, record, properties),
        # The stored timestamp properties hold the same strings; formatting is the costly part
        # of rendering a 200-record search page.
        "createdAt": record.properties.get("createdate") or iso_ms(record.created_ms),
        "updatedAt": record.properties.get(MODIFIED_PROPERTY[object_type])
        or iso_ms(record.updated_ms),
        "archived": record.archived,
    }
    if record.archived and record.archived_ms is not None:
        body["archivedAt"] = iso_ms(record.archived_ms)
    if with_history:
        body["propertiesWithHistory"] = {
            name: [
                {
                    "value": h.value,
                    "timestamp": iso_ms(h.timestamp),
                    "sourceType": h.source_type,
                    **({"sourceId": h.source_id} if h.source_id else {}),
                }
                for h in record.history.get(name, [])
            ]
            for name in with_history
        }
    if associations:
        body["associations"] = {k: {"results": v} for k, v in associations.items()}
    return body


def v3_associations(
    links: dict[int, set[int]], from_type: str, to_type: str
) -> list[dict[str, str]]:
    """`[{"id": "900", "type": "contact_to_company"}, ...]`, one entry per label."""
    return [
        {"id": str(to_id), "type": assoc.v3_type_name(from_type, to_type, type_id)}
        for to_id in sorted(links)
        for type_id in sorted(links[to_id], key=lambda t: not assoc.TYPE_INFO[t][3])
    ]
