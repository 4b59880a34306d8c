"""Batch endpoints: read, create, update, upsert, archive (100 inputs, 200/201/207 semantics).

Partial success (207 with per-input `errors`) follows the documented rule: when every input
carries an `objectWriteTraceId`, good inputs are written and bad ones reported; otherwise one bad
input fails the whole batch with its own error and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from hubforce.emulators.hubspot.exceptions import BadRequest, HubSpotApiError, ObjectNotFound
from hubforce.emulators.hubspot.models import Portal
from hubforce.emulators.hubspot.parsing import inputs_of, json_object, portal_of, query_bool
from hubforce.emulators.hubspot.properties import SINGULAR, iso_ms
from hubforce.emulators.hubspot.responses import parse_associations, render
from hubforce.emulators.hubspot.store import Record
from hubforce.emulators.hubspot.wire import render_record


def item_error(exc: HubSpotApiError, context: dict[str, list[str]]) -> dict[str, Any]:
    """One `StandardError` of a 207 answer."""
    return {
        "status": "error",
        "category": exc.category,
        "message": exc.message,
        "context": {**(exc.context or {}), **context},
        "errors": exc.errors or [],
        "links": {},
    }


def batch_body(
    portal: Portal, started: int, results: list[Any], errors: list[Any]
) -> dict[str, Any]:
    """`BatchResponse...` with `numErrors`/`errors` when there are any."""
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso_ms(started),
        "completedAt": iso_ms(portal.clock.now_ms()),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return body


async def batch_read(request: Request, object_type: str) -> JSONResponse:
    """POST …/batch/read: found records, missing ids in one OBJECT_NOT_FOUND error (207)."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    started = portal.clock.now_ms()
    body = await json_object(request)
    history = body.get("propertiesWithHistory") or None
    inputs = inputs_of(body, limit=50 if history else 100)
    options = {
        "properties": body.get("properties") or None,
        "with_history": history,
        "associations": None,
    }
    archived = query_bool(request, "archived")
    id_property = body.get("idProperty")
    results, missing = [], []
    for item in inputs:
        object_id = str(item.get("id", "")) if isinstance(item, dict) else ""
        try:
            record = portal.get_object(
                object_type, object_id, id_property=id_property, archived=archived
            )
        except ObjectNotFound:
            missing.append(object_id)
            continue
        results.append(render(portal, object_type, record, options))
    errors = []
    if missing:
        kind = SINGULAR[object_type].upper()
        errors.append(
            item_error(
                ObjectNotFound(
                    f"Could not get some {kind} objects, they may be deleted or not exist. "
                    "Check that ids are valid."
                ),
                {"ids": missing},
            )
        )
    return JSONResponse(batch_body(portal, started, results, errors), 207 if errors else 200)


Step = Callable[[], tuple[Record, bool]]


def _run(
    portal: Portal,
    object_type: str,
    inputs: list[Any],
    plan: Callable[[dict[str, Any]], Step],
    success: int,
    with_new: bool = False,
) -> JSONResponse:
    """Validate every input, then write (all, or the good ones when every input is traced)."""
    started = portal.clock.now_ms()
    traced = bool(inputs) and all(
        isinstance(i, dict) and i.get("objectWriteTraceId") for i in inputs
    )
    steps: list[tuple[int, Step]] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(inputs):
        if not isinstance(item, dict):
            raise BadRequest(f"inputs[{index}] must be an object")
        try:
            steps.append((index, plan(item)))
        except HubSpotApiError as exc:
            if not traced:
                raise
            errors.append(
                item_error(exc, {"objectWriteTraceId": [str(item["objectWriteTraceId"])]})
            )
    results = []
    for index, step in steps:
        try:
            record, new = step()
        except HubSpotApiError as exc:  # e.g. two inputs with one email
            if not traced:
                raise
            trace = str(inputs[index]["objectWriteTraceId"])
            errors.append(item_error(exc, {"objectWriteTraceId": [trace]}))
            continue
        rendered = render_record(object_type, record)
        if with_new:
            rendered["new"] = new
        if traced:
            rendered["objectWriteTraceId"] = str(inputs[index]["objectWriteTraceId"])
        results.append(rendered)
    status = 207 if errors else success
    return JSONResponse(batch_body(portal, started, results, errors), status)


async def batch_create(request: Request, object_type: str) -> JSONResponse:
    """POST …/batch/create -> 201 (207 with per-input errors)."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    inputs = inputs_of(await json_object(request))
    seen: set[str] = set()

    def plan(item: dict[str, Any]) -> Step:
        props = portal.validate_properties(object_type, item.get("properties") or {})
        portal.check_unique(object_type, props, None)
        email = props.get("email")
        if object_type == "contacts" and email:
            if email in seen:
                raise BadRequest(f"Duplicate email {email} in the same batch")
            seen.add(email)
        links = parse_associations(portal, object_type, item.get("associations"))
        raw = item.get("properties") or {}
        return lambda: (portal.create_object(object_type, raw, associations=links), True)

    return _run(portal, object_type, inputs, plan, 201)


async def batch_update(request: Request, object_type: str) -> JSONResponse:
    """POST …/batch/update -> 200 (207 with per-input errors)."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    inputs = inputs_of(await json_object(request))

    def plan(item: dict[str, Any]) -> Step:
        object_id = str(item.get("id", ""))
        id_property = item.get("idProperty")
        record = portal.get_object(object_type, object_id, id_property=id_property)
        raw = item.get("properties") or {}
        props = portal.validate_properties(object_type, raw)
        portal.check_unique(object_type, props, record.id)
        return lambda: (portal.update_object(object_type, str(record.id), raw), False)

    return _run(portal, object_type, inputs, plan, 200)


async def batch_upsert(request: Request, object_type: str) -> JSONResponse:
    """POST …/batch/upsert by a unique `idProperty`; results carry `new`."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    inputs = inputs_of(await json_object(request))

    def plan(item: dict[str, Any]) -> Step:
        key = str(item.get("id", ""))
        id_property = item.get("idProperty")
        if not id_property or id_property not in portal.stores[object_type].unique:
            raise BadRequest(
                f"upsert needs idProperty naming a unique property of {object_type}, "
                f"got {id_property!r}"
            )
        raw = dict(item.get("properties") or {})
        try:
            record = portal.get_object(object_type, key, id_property=id_property)
        except ObjectNotFound:
            raw.setdefault(id_property, key)
            props = portal.validate_properties(object_type, raw)
            portal.check_unique(object_type, props, None)
            return lambda: (portal.create_object(object_type, raw), True)
        portal.validate_properties(object_type, raw)
        return lambda: (portal.update_object(object_type, str(record.id), raw), False)

    return _run(portal, object_type, inputs, plan, 200, with_new=True)


async def batch_archive(request: Request, object_type: str) -> Response:
    """POST …/batch/archive -> 204 (absent ids are ignored)."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    for item in inputs_of(await json_object(request)):
        if isinstance(item, dict) and item.get("id") is not None:
            portal.archive_object(object_type, str(item["id"]))
    return Response(status_code=204)
