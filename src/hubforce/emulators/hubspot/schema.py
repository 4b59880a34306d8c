"""Handlers of the Properties, Pipelines and Owners APIs."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from hubforce.emulators.hubspot.exceptions import BadRequest, Conflict, ObjectNotFound
from hubforce.emulators.hubspot.parsing import json_object, portal_of, query_bool, query_int
from hubforce.emulators.hubspot.properties import FIELD_TYPES, VALUE_TYPES, PropertyDef, iso_ms

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
MAX_UNIQUE = 10


def render_property(prop: PropertyDef) -> dict[str, Any]:
    """A `Property` as the Properties API shows it."""
    body: dict[str, Any] = {
        "name": prop.name,
        "label": prop.label,
        "type": prop.type,
        "fieldType": prop.field_type,
        "groupName": prop.group_name,
        "description": prop.description,
        "displayOrder": prop.display_order,
        "options": [] if prop.external_options else prop.options,
        "hasUniqueValue": prop.has_unique_value,
        "hidden": False,
        "formField": not prop.read_only_value,
        "calculated": prop.calculated,
        "externalOptions": prop.external_options,
        "hubspotDefined": prop.hubspot_defined,
        "archived": False,
        "createdAt": prop.created_at,
        "updatedAt": prop.updated_at,
        "modificationMetadata": {
            "archivable": not prop.hubspot_defined,
            "readOnlyDefinition": prop.hubspot_defined,
            "readOnlyValue": prop.read_only_value,
        },
    }
    if prop.referenced_object_type:
        body["referencedObjectType"] = prop.referenced_object_type
    return body


async def get_properties(request: Request, object_type: str) -> dict[str, Any]:
    """GET /crm/v3/properties/{type}."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    if query_bool(request, "archived"):
        return {"results": []}
    return {"results": [render_property(p) for p in portal.catalogue[object_type].values()]}


async def get_property(request: Request, object_type: str, name: str) -> dict[str, Any]:
    """GET /crm/v3/properties/{type}/{name}."""
    portal = portal_of(request)
    prop = portal.catalogue[portal.object_type(object_type)].get(name)
    if prop is None:
        raise ObjectNotFound(f"Unable to find property {name} for object type {object_type}")
    return render_property(prop)


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be an integer, got {value!r}") from None


def _options(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BadRequest("options must be a list of {label, value}")
    options = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not item.get("value") or not item.get("label"):
            raise BadRequest(f"options[{i}] needs a label and a value")
        options.append(
            {
                "label": str(item["label"]),
                "value": str(item["value"]),
                "displayOrder": _int(item.get("displayOrder", i), f"options[{i}].displayOrder"),
                "hidden": bool(item.get("hidden", False)),
                **({"description": item["description"]} if "description" in item else {}),
            }
        )
    return options


async def create_property(request: Request, object_type: str) -> JSONResponse:
    """POST /crm/v3/properties/{type} -> 201; unique properties become usable as idProperty."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    body = await json_object(request)
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
    if missing:
        raise BadRequest(f"Missing required fields: {', '.join(missing)}")
    name = str(body["name"])
    if not NAME_RE.match(name):
        raise BadRequest(
            f"Property name {name!r} is invalid: use lowercase letters, digits and underscores, "
            "starting with a letter, at most 100 characters"
        )
    if body["type"] not in VALUE_TYPES:
        raise BadRequest(f"type must be one of {sorted(VALUE_TYPES)}, got {body['type']!r}")
    if body["fieldType"] not in FIELD_TYPES:
        raise BadRequest(
            f"fieldType must be one of {sorted(FIELD_TYPES)}, got {body['fieldType']!r}"
        )
    catalogue = portal.catalogue[object_type]
    if name in catalogue:
        raise Conflict(f"A property named '{name}' already exists for {object_type}.")
    options = _options(body.get("options"))
    if body["type"] == "enumeration" and not options:
        raise BadRequest("enumeration properties need at least one option")
    unique = bool(body.get("hasUniqueValue", False))
    store = portal.stores[object_type]
    if unique and len(store.unique) - (object_type == "contacts") >= MAX_UNIQUE:
        raise BadRequest(f"An object can have at most {MAX_UNIQUE} unique-value properties")
    now = iso_ms(portal.clock.now_ms())
    prop = PropertyDef(
        name=name,
        label=str(body["label"]),
        type=str(body["type"]),
        field_type=str(body["fieldType"]),
        group_name=str(body["groupName"]),
        description=str(body.get("description", "")),
        options=options,
        has_unique_value=unique,
        hubspot_defined=False,
        display_order=_int(body.get("displayOrder", -1), "displayOrder"),
        created_at=now,
        updated_at=now,
    )
    catalogue[name] = prop
    if unique:
        store.add_unique(name)
    return JSONResponse(render_property(prop), status_code=201)


async def update_property(request: Request, object_type: str, name: str) -> dict[str, Any]:
    """PATCH /crm/v3/properties/{type}/{name}: label, description, options, displayOrder."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    prop = portal.catalogue[object_type].get(name)
    if prop is None:
        raise ObjectNotFound(f"Unable to find property {name} for object type {object_type}")
    body = await json_object(request)
    if prop.hubspot_defined and set(body) - {"label", "description", "displayOrder"}:
        raise BadRequest(f"{name} is a HubSpot-defined property; only its label can change")
    if "type" in body and body["type"] not in VALUE_TYPES:
        raise BadRequest(f"type must be one of {sorted(VALUE_TYPES)}, got {body['type']!r}")
    if "hasUniqueValue" in body and bool(body["hasUniqueValue"]) != prop.has_unique_value:
        raise BadRequest("hasUniqueValue cannot be changed once a property is created")
    prop.label = str(body.get("label", prop.label))
    prop.description = str(body.get("description", prop.description))
    prop.display_order = _int(body.get("displayOrder", prop.display_order), "displayOrder")
    if "options" in body:
        prop.options = _options(body["options"])
    prop.updated_at = iso_ms(portal.clock.now_ms())
    return render_property(prop)


async def archive_property(request: Request, object_type: str, name: str) -> Response:
    """DELETE /crm/v3/properties/{type}/{name} -> 204; HubSpot-defined ones cannot go."""
    portal = portal_of(request)
    object_type = portal.object_type(object_type)
    prop = portal.catalogue[object_type].get(name)
    if prop is None:
        raise ObjectNotFound(f"Unable to find property {name} for object type {object_type}")
    if prop.hubspot_defined:
        raise BadRequest(f"{name} is a HubSpot-defined property and cannot be archived")
    del portal.catalogue[object_type][name]
    portal.stores[object_type].unique.pop(name, None)
    return Response(status_code=204)


async def get_pipelines(request: Request, object_type: str) -> dict[str, Any]:
    """GET /crm/v3/pipelines/deals."""
    portal = portal_of(request)
    if portal.object_type(object_type) != "deals":
        return {"results": []}
    return {"results": list(portal.pipelines.values())}


async def get_pipeline(request: Request, object_type: str, pipeline_id: str) -> dict[str, Any]:
    """GET /crm/v3/pipelines/deals/{pipelineId}."""
    pipeline = portal_of(request).pipelines.get(pipeline_id)
    if pipeline is None or portal_of(request).object_type(object_type) != "deals":
        raise ObjectNotFound(f"Unable to find pipeline {pipeline_id}")
    return pipeline


async def get_stages(request: Request, object_type: str, pipeline_id: str) -> dict[str, Any]:
    """GET /crm/v3/pipelines/deals/{pipelineId}/stages."""
    pipeline = await get_pipeline(request, object_type, pipeline_id)
    return {"results": pipeline["stages"]}


async def get_owners(request: Request) -> dict[str, Any]:
    """GET /crm/v3/owners/ with `email`, `limit`, `after`, `archived`."""
    portal = portal_of(request)
    limit = query_int(request, "limit", 100, low=1, high=500)
    after = query_int(request, "after", 0, low=0, high=1 << 62)
    email = (request.query_params.get("email") or "").lower()
    archived = query_bool(request, "archived")
    owners = [
        o
        for oid, o in sorted(portal.owners.items())
        if oid >= after and (not email or o["email"] == email) and o["archived"] == archived
    ]
    body: dict[str, Any] = {"results": owners[:limit]}
    if len(owners) > limit:
        body["paging"] = {"next": {"after": owners[limit]["id"]}}
    return body


async def get_owner(request: Request, owner_id: str) -> dict[str, Any]:
    """GET /crm/v3/owners/{ownerId} (idProperty id or userId)."""
    portal = portal_of(request)
    by_user = request.query_params.get("idProperty") == "userId"
    for owner in portal.owners.values():
        if (str(owner["userId"]) if by_user else owner["id"]) == owner_id:
            return owner
    raise ObjectNotFound(f"Unable to find owner {owner_id}")
