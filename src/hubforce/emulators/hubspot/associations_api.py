"""Handlers of the associations v4 API (single and batch)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from hubforce.emulators.hubspot import associations as assoc
from hubforce.emulators.hubspot.batch import batch_body, item_error
from hubforce.emulators.hubspot.exceptions import BadRequest, HubSpotApiError, ObjectNotFound
from hubforce.emulators.hubspot.models import Portal
from hubforce.emulators.hubspot.parsing import (
    inputs_of,
    json_body,
    json_object,
    portal_of,
    query_int,
)
from hubforce.emulators.hubspot.properties import OBJECT_TYPES


def _pair(portal: Portal, from_type: str, to_type: str) -> tuple[str, str]:
    pair = (portal.object_type(from_type), portal.object_type(to_type))
    if pair not in assoc.TYPE_IDS:
        raise BadRequest(f"No associations are defined from {pair[0]} to {pair[1]}")
    return pair


def _record_id(portal: Portal, object_type: str, object_id: str) -> int:
    return portal.get_object(object_type, object_id).id


def label_types(type_ids: set[int]) -> list[dict[str, Any]]:
    """`associationTypes` entries, primary first."""
    return [
        {"category": "HUBSPOT_DEFINED", "typeId": t, "label": assoc.TYPE_INFO[t][2]}
        for t in sorted(type_ids, key=lambda t: (not assoc.TYPE_INFO[t][3], t))
    ]


def _targets(portal: Portal, f: str, fid: int, t: str) -> list[dict[str, Any]]:
    links = portal.associations.targets(f, fid, t)
    return [
        {"toObjectId": str(to_id), "associationTypes": label_types(links[to_id])}
        for to_id in sorted(links)
    ]


async def get_page(
    request: Request, from_type: str, object_id: str, to_type: str
) -> dict[str, Any]:
    """GET /crm/v4/objects/{type}/{id}/associations/{toType}."""
    portal = portal_of(request)
    f, t = _pair(portal, from_type, to_type)
    fid = _record_id(portal, f, object_id)
    limit = query_int(request, "limit", 500, low=1, high=500)
    after = query_int(request, "after", 0, low=0, high=1 << 62)
    rows = [r for r in _targets(portal, f, fid, t) if int(r["toObjectId"]) >= after]
    body: dict[str, Any] = {"results": rows[:limit]}
    if len(rows) > limit:
        body["paging"] = {"next": {"after": str(rows[limit]["toObjectId"])}}
    return body


async def create_default(
    request: Request, from_type: str, object_id: str, to_type: str, to_id: str
) -> dict[str, Any]:
    """PUT …/associations/default/{toType}/{toId} -> 200 BatchResponsePublicDefaultAssociation."""
    portal = portal_of(request)
    started = portal.clock.now_ms()
    f, t = _pair(portal, from_type, to_type)
    fid, tid = _record_id(portal, f, object_id), _record_id(portal, t, to_id)
    portal.associate(f, fid, t, tid)
    plain = assoc.TYPE_IDS[(f, t)][0]
    result = {
        "from": {"id": str(fid)},
        "to": {"id": str(tid)},
        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": plain},
    }
    return batch_body(portal, started, [result], [])


def _specs(raw: Any) -> list[int]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest("expected a list of {associationCategory, associationTypeId}")
    try:
        return [int(item["associationTypeId"]) for item in raw]
    except (KeyError, TypeError, ValueError):
        raise BadRequest("each association spec needs an integer associationTypeId") from None


async def create(
    request: Request, from_type: str, object_id: str, to_type: str, to_id: str
) -> JSONResponse:
    """PUT /crm/v4/objects/{type}/{id}/associations/{toType}/{toId} with labels -> 201."""
    portal = portal_of(request)
    f, t = _pair(portal, from_type, to_type)
    fid, tid = _record_id(portal, f, object_id), _record_id(portal, t, to_id)
    types: list[int] = []
    for type_id in _specs(await json_body(request)):
        types = portal.associate(f, fid, t, tid, type_id)
    body = {
        "fromObjectTypeId": OBJECT_TYPES[f],
        "fromObjectId": str(fid),
        "toObjectTypeId": OBJECT_TYPES[t],
        "toObjectId": str(tid),
        "labels": [assoc.TYPE_INFO[x][2] for x in types if assoc.TYPE_INFO[x][2]],
    }
    return JSONResponse(body, status_code=201)


async def archive(
    request: Request, from_type: str, object_id: str, to_type: str, to_id: str
) -> Response:
    """DELETE /crm/v4/objects/{type}/{id}/associations/{toType}/{toId} -> 204."""
    portal = portal_of(request)
    f, t = _pair(portal, from_type, to_type)
    portal.dissociate(f, _record_id(portal, f, object_id), t, _record_id(portal, t, to_id))
    return Response(status_code=204)


def _id(item: Any, key: str) -> str:
    try:
        return str(item[key]["id"])
    except (KeyError, TypeError):
        raise BadRequest(f"each input needs {key}.id") from None


async def batch_read(request: Request, from_type: str, to_type: str) -> JSONResponse:
    """POST /crm/v4/associations/{from}/{to}/batch/read -> 200 (207 for unknown ids)."""
    portal = portal_of(request)
    started = portal.clock.now_ms()
    f, t = _pair(portal, from_type, to_type)
    results, errors = [], []
    for item in inputs_of(await json_object(request), limit=1000):
        object_id = str(item.get("id", "")) if isinstance(item, dict) else ""
        try:
            fid = _record_id(portal, f, object_id)
        except ObjectNotFound as exc:
            errors.append(item_error(exc, {"fromObjectId": [object_id]}))
            continue
        results.append({"from": {"id": str(fid)}, "to": _targets(portal, f, fid, t)})
    return JSONResponse(batch_body(portal, started, results, errors), 207 if errors else 200)


async def batch_create(request: Request, from_type: str, to_type: str) -> JSONResponse:
    """POST …/batch/create with labels -> 201 (207 with per-input errors)."""
    portal = portal_of(request)
    started = portal.clock.now_ms()
    f, t = _pair(portal, from_type, to_type)
    results, errors = [], []
    for item in inputs_of(await json_object(request)):
        fid_raw, tid_raw = _id(item, "from"), _id(item, "to")
        try:
            fid, tid = _record_id(portal, f, fid_raw), _record_id(portal, t, tid_raw)
            types: list[int] = []
            for type_id in _specs(item.get("types")):
                types = portal.associate(f, fid, t, tid, type_id)
        except HubSpotApiError as exc:
            errors.append(item_error(exc, {"fromObjectId": [fid_raw], "toObjectId": [tid_raw]}))
            continue
        results.append(
            {
                "fromObjectTypeId": OBJECT_TYPES[f],
                "fromObjectId": str(fid),
                "toObjectTypeId": OBJECT_TYPES[t],
                "toObjectId": str(tid),
                "labels": [assoc.TYPE_INFO[x][2] for x in types if assoc.TYPE_INFO[x][2]],
            }
        )
    return JSONResponse(batch_body(portal, started, results, errors), 207 if errors else 201)


async def batch_default(request: Request, from_type: str, to_type: str) -> JSONResponse:
    """POST …/batch/associate/default -> 200 (207 with per-input errors)."""
    portal = portal_of(request)
    started = portal.clock.now_ms()
    f, t = _pair(portal, from_type, to_type)
    plain = assoc.TYPE_IDS[(f, t)][0]
    results, errors = [], []
    for item in inputs_of(await json_object(request)):
        fid_raw, tid_raw = _id(item, "from"), _id(item, "to")
        try:
            fid, tid = _record_id(portal, f, fid_raw), _record_id(portal, t, tid_raw)
            portal.associate(f, fid, t, tid)
        except HubSpotApiError as exc:
            errors.append(item_error(exc, {"fromObjectId": [fid_raw], "toObjectId": [tid_raw]}))
            continue
        spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": plain}
        results.append({"from": {"id": str(fid)}, "to": {"id": str(tid)}, "associationSpec": spec})
    return JSONResponse(batch_body(portal, started, results, errors), 207 if errors else 200)


async def batch_archive(request: Request, from_type: str, to_type: str) -> Response:
    """POST …/batch/archive -> 204 (unknown records are ignored)."""
    portal = portal_of(request)
    f, t = _pair(portal, from_type, to_type)
    for item in inputs_of(await json_object(request)):
        fid_raw = _id(item, "from")
        targets = item.get("to") if isinstance(item, dict) else None
        if not isinstance(targets, list):
            raise BadRequest("each input needs a `to` list of {id}")
        for target in targets:
            tid_raw = str(target.get("id", "")) if isinstance(target, dict) else ""
            if fid_raw.isdigit() and tid_raw.isdigit():
                portal.dissociate(f, int(fid_raw), t, int(tid_raw))
    return Response(status_code=204)
