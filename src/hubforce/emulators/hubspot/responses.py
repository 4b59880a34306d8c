"""Handlers of the CRM objects API: parse the request, call the portal, return the wire dict."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from hubforce.emulators.hubspot.exceptions import BadRequest
from hubforce.emulators.hubspot.models import Portal
from hubforce.emulators.hubspot.parsing import (
    json_object,
    portal_of,
    query_bool,
    query_int,
    query_list,
)
from hubforce.emulators.hubspot.properties import OBJECT_TYPES
from hubforce.emulators.hubspot.search import parse_request, run_search
from hubforce.emulators.hubspot.store import Record
from hubforce.emulators.hubspot.wire import render_record, v3_associations


def _associations(
    portal: Portal, object_type: str, record: Record, wanted: list[str] | None
) -> dict[str, list[dict[str, str]]] | None:
    if not wanted:
        return None
    found: dict[str, list[dict[str, str]]] = {}
    for name in wanted:
        try:
            to_type = portal.object_type(name)
        except BadRequest:
            continue  # unknown names are ignored, like unknown properties
        links = portal.associations.targets(object_type, record.id, to_type)
        if links:
            found[to_type] = v3_associations(links, object_type, to_type)
    return found


def read_options(request: Request) -> dict[str, list[str] | None]:
    """properties / propertiesWithHistory / associations from the query string."""
    return {
        "properties": query_list(request, "properties"),
        "with_history": query_list(request, "propertiesWithHistory"),
        "associations": query_list(request, "associations"),
    }


def known(portal: Portal, object_type: str, names: Any) -> list[str] | None:
    """The requested property names that exist (HubSpot ignores unknown ones); None: defaults."""
    if not names or not isinstance(names, list):
        return None
    catalogue = portal.catalogue[object_type]
    return [str(n) for n in names if n in catalogue]


def render(
    portal: Portal, object_type: str, record: Record, options: dict[str, list[str] | None]
) -> dict[str, Any]:
    """A record with the options a read asked for."""
    return render_record(
        object_type,
        record,
        properties=known(portal, object_type, options.get("properties")),
        with_history=known(portal, object_type, options.get("with_history")),
        associations=_associations(portal, object_type, record, options.get("associations")),
    )


async def get_page(request: Request, object_type: str) -> dict[str, Any]:
    """GET /crm/v3/objects/{type}: a page in id order with an opaque `after` cursor."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    options = read_options(request)
    cap = 50 if options["with_history"] else 100
    limit = query_int(request, "limit", 10, low=1, high=cap)
    archived = query_bool(request, "archived")
    after_raw = request.query_params.get("after") or "0"
    if not after_raw.isdigit():
        raise BadRequest(f"after must be a cursor from a previous page, got {after_raw!r}")
    after = int(after_raw)
    results: list[Record] = []
    more = False
    for record in portal.stores[object_type].records.values():  # insertion order = id order
        if record.id < after or record.archived != archived:
            continue
        if len(results) == limit:
            more = True
            break
        results.append(record)
    body: dict[str, Any] = {"results": [render(portal, object_type, r, options) for r in results]}
    if more:
        nxt = str(results[-1].id + 1)
        link = str(request.url.include_query_params(after=nxt))
        body["paging"] = {"next": {"after": nxt, "link": link}}
    return body


async def get_by_id(request: Request, object_type: str, object_id: str) -> dict[str, Any]:
    """GET /crm/v3/objects/{type}/{id} (merged ids resolve to the survivor)."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    record = portal.get_object(
        object_type,
        object_id,
        id_property=request.query_params.get("idProperty"),
        archived=query_bool(request, "archived"),
    )
    return render(portal, object_type, record, read_options(request))


def parse_associations(portal: Portal, object_type: str, raw: Any) -> list[tuple[str, int, int]]:
    """Inline `associations` of a create: (to type, to id, type id) triples."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BadRequest("associations must be a list")
    links = []
    for item in raw:
        try:
            to_id = int(item["to"]["id"])
            types = [int(t["associationTypeId"]) for t in item["types"]]
        except (KeyError, TypeError, ValueError):
            raise BadRequest("each association needs to.id and types[].associationTypeId") from None
        for type_id in types:
            from hubforce.emulators.hubspot.associations import TYPE_INFO

            info = TYPE_INFO.get(type_id)
            if info is None or info[0] != object_type:
                raise BadRequest(f"{type_id} is not a valid association type id from {object_type}")
            links.append((info[1], to_id, type_id))
    return links


async def create(request: Request, object_type: str) -> JSONResponse:
    """POST /crm/v3/objects/{type} -> 201."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    body = await json_object(request)
    record = portal.create_object(
        object_type,
        body.get("properties") or {},
        associations=parse_associations(portal, object_type, body.get("associations")),
    )
    return JSONResponse(render_record(object_type, record), status_code=201)


async def update(request: Request, object_type: str, object_id: str) -> dict[str, Any]:
    """PATCH /crm/v3/objects/{type}/{id}."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    body = await json_object(request)
    record = portal.update_object(
        object_type,
        object_id,
        body.get("properties") or {},
        id_property=request.query_params.get("idProperty"),
    )
    return render_record(object_type, record)


async def archive(request: Request, object_type: str, object_id: str) -> Response:
    """DELETE /crm/v3/objects/{type}/{id} -> 204."""
    portal_of(request).archive_object(object_type, object_id)
    return Response(status_code=204)


async def do_search(request: Request, object_type: str) -> dict[str, Any]:
    """POST /crm/v3/objects/{type}/search."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    req = parse_request(await json_object(request))
    total, page = run_search(portal, object_type, req)
    properties = known(portal, object_type, req.properties)
    body: dict[str, Any] = {
        "total": total,
        "results": [render_record(object_type, r, properties=properties) for r in page],
    }
    end = req.after + len(page)
    if page and end < total:
        body["paging"] = {"next": {"after": str(end)}}
    return body


async def merge(request: Request, object_type: str) -> dict[str, Any]:
    """POST /crm/v3/objects/{type}/merge."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    body = await json_object(request)
    primary, other = body.get("primaryObjectId"), body.get("objectIdToMerge")
    if primary is None or other is None:
        raise BadRequest("primaryObjectId and objectIdToMerge are required")
    return render_record(object_type, portal.merge_objects(object_type, str(primary), str(other)))


async def gdpr_delete(request: Request) -> Response:
    """POST /crm/v3/objects/contacts/gdpr-delete -> 204."""
    body = await json_object(request)
    if body.get("objectId") is None:
        raise BadRequest("objectId is required")
    portal_of(request).gdpr_delete(str(body["objectId"]), body.get("idProperty"))
    return Response(status_code=204)


OBJECT_TYPE_PATTERN = "^(" + "|".join([*OBJECT_TYPES, *OBJECT_TYPES.values()]) + ")$"
