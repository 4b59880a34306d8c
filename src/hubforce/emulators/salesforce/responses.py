"""REST handlers: parse the request, call one Org method, return the wire shape.

Session, version and limits were already checked by `guard.SalesforceGuard`.
"""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from hubforce.emulators.salesforce.exceptions import (
    JsonParserError,
    NotFound,
    UnsupportedMediaType,
)
from hubforce.emulators.salesforce.guard import MAX_VERSION, MIN_VERSION
from hubforce.emulators.salesforce.models import Org
from hubforce.emulators.salesforce.schema import SObjectSchema
from hubforce.emulators.salesforce.wire import record_url, render_record

_RELEASES = {40: "Summer '17", 59: "Winter '24", 60: "Spring '24", 62: "Winter '25"}


def org_of(request: Request) -> Org:
    """The org behind this app."""
    org: Org = request.app.state.backend
    return org


def ctx(request: Request) -> tuple[Org, str, str]:
    """(org, acting user id, API version) of a guarded request."""
    return org_of(request), str(request.state.sf_user_id), str(request.state.sf_version)


async def read_json(request: Request) -> Any:
    """The JSON body; 415 for a non-JSON content type, JSON_PARSER_ERROR when malformed."""
    raw = await request.body()
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if raw and ctype not in ("application/json", "text/json", ""):
        raise UnsupportedMediaType(f"Content type '{ctype}' not supported")
    if not raw.strip():
        raise JsonParserError("No content to map due to end-of-input at [line:1, column:0]")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line, col = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
        raise JsonParserError(
            f"Unexpected character: malformed JSON at [line:{line}, column:{col}]"
        ) from exc


async def read_object(request: Request) -> dict[str, Any]:
    """A JSON object body (a record's field values)."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise JsonParserError(
            "Cannot deserialize instance of SObject out of START_ARRAY token at [line:1, column:1]"
        )
    return body


def assignment_of(request: Request, *, default: bool) -> bool | str:
    """Sforce-Auto-Assign: TRUE (default on create), FALSE, or an assignment rule id."""
    raw = request.headers.get("sforce-auto-assign")
    if raw is None:
        return default
    value = raw.strip()
    if value.upper() in ("TRUE", "1"):
        return True
    if value.upper() in ("FALSE", "0"):
        return False
    return value


def allow_save_of(request: Request) -> bool:
    """Sforce-Duplicate-Rule-Header: allowSave=true bypasses 'allow' duplicate rules."""
    raw = request.headers.get("sforce-duplicate-rule-header", "")
    parts = dict(p.strip().partition("=")[::2] for p in raw.split(";") if "=" in p)
    return parts.get("allowSave", "").strip().lower() == "true"


# -- metadata -------------------------------------------------------------------------------


async def versions(request: Request) -> Response:
    """GET /services/data: the supported API versions (not counted, no auth)."""
    return JSONResponse(
        [
            {
                "version": f"{v}.0",
                "url": f"/services/data/v{v}.0",
                "label": _RELEASES.get(v, f"Release {v}"),
            }
            for v in range(MIN_VERSION, MAX_VERSION + 1)
        ]
    )


async def resources(request: Request) -> dict[str, str]:
    """GET /services/data/vXX.X: the resources of a version."""
    _, _, version = ctx(request)
    base = f"/services/data/v{version}"
    names = ["sobjects", "query", "queryAll", "limits", "composite", "jobs"]
    return {name: f"{base}/{name}" for name in names}


def _sobject_summary(obj: SObjectSchema, version: str) -> dict[str, Any]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    writable = obj.name != "User"
    return {
        "name": obj.name,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "keyPrefix": obj.key_prefix,
        "custom": obj.custom,
        "createable": writable,
        "updateable": writable,
        "deletable": writable,
        "queryable": True,
        "retrieveable": True,
        "replicateable": True,
        "searchable": True,
        "layoutable": True,
        "mergeable": obj.name in ("Lead", "Contact", "Account"),
        "undeletable": writable,
        "triggerable": True,
        "feedEnabled": False,
        "activateable": False,
        "customSetting": False,
        "deprecatedAndHidden": False,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }


async def describe_global(request: Request) -> Any:
    """GET sobjects: describeGlobal (304 when unchanged since If-Modified-Since)."""
    org, _, version = ctx(request)
    since = request.headers.get("if-modified-since")
    if since:
        try:
            unchanged = parsedate_to_datetime(since) >= org.schema_changed_at
        except (TypeError, ValueError):
            unchanged = False
        if unchanged:
            return Response(status_code=304)
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [_sobject_summary(obj, version) for obj in org.schema.values()],
    }


async def describe(request: Request, sobject: str) -> dict[str, Any]:
    """GET sobjects/{Type}/describe: fields with types, lengths, picklists and references."""
    org, _, version = ctx(request)
    obj = org.sobject(sobject)
    fields = []
    for f in obj.fields.values():
        fields.append(
            {
                "name": f.name,
                "label": f.label,
                "type": f.type,
                "length": f.length,
                "byteLength": f.length * 3,
                "digits": 0,
                "precision": f.precision,
                "scale": f.scale,
                "nillable": f.nillable,
                "createable": f.createable,
                "updateable": f.updateable,
                "defaultedOnCreate": f.defaulted_on_create,
                "defaultValue": f.default_value,
                "calculated": f.calculated,
                "unique": f.unique,
                "caseSensitive": False,
                "externalId": f.external_id,
                "idLookup": f.name == "Id" or f.external_id,
                "nameField": f.name == "Name",
                "filterable": True,
                "sortable": f.type not in ("textarea", "multipicklist"),
                "groupable": f.type not in ("textarea", "double", "currency", "percent"),
                "custom": f.custom,
                "restrictedPicklist": f.restricted_picklist,
                "dependentPicklist": False,
                "picklistValues": [
                    {
                        "value": v,
                        "label": v,
                        "active": True,
                        "defaultValue": v == f.default_value,
                        "validFor": None,
                    }
                    for v in f.picklist_values
                ],
                "referenceTo": list(f.reference_to),
                "relationshipName": f.relationship_name,
                "soapType": "tns:ID" if f.type in ("id", "reference") else f"xsd:{f.type}",
            }
        )
    return {
        **_sobject_summary(obj, version),
        "fields": fields,
        "childRelationships": [],
        "recordTypeInfos": [],
    }


async def sobject_basic(request: Request, sobject: str) -> dict[str, Any]:
    """GET sobjects/{Type}: basic information and recent items."""
    org, _, version = ctx(request)
    obj = org.sobject(sobject)
    return {"objectDescribe": _sobject_summary(obj, version), "recentItems": []}


async def limits(request: Request) -> dict[str, Any]:
    """GET limits: the org's limits, DailyApiRequests from the live counter."""
    org, _, _ = ctx(request)
    usage = org.api_usage
    return {
        "DailyApiRequests": {"Max": usage.limit, "Remaining": usage.remaining()},
        "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
        "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
        "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        "DataStorageMB": {"Max": 1024, "Remaining": 1024},
        "FileStorageMB": {"Max": 1024, "Remaining": 1024},
        "SingleEmail": {"Max": 5000, "Remaining": 5000},
    }


# -- records --------------------------------------------------------------------------------


async def create(request: Request, sobject: str) -> Response:
    """POST sobjects/{Type}: 201 {id, success, errors}."""
    org, user, version = ctx(request)
    values = await read_object(request)
    rid = org.create(
        sobject,
        values,
        assignment=assignment_of(request, default=True),
        user_id=user,
        allow_save=allow_save_of(request),
    )
    return JSONResponse(
        {"id": rid, "success": True, "errors": []},
        status_code=201,
        headers={"Location": record_url(version, org.sobject(sobject).name, rid)},
    )


async def retrieve(request: Request, sobject: str, record_id: str) -> dict[str, Any]:
    """GET sobjects/{Type}/{Id}[?fields=A,B]."""
    org, _, version = ctx(request)
    obj = org.sobject(sobject)
    row = org.get(obj.name, record_id)
    fields = request.query_params.get("fields")
    names = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    return render_record(obj, row, version, names)


async def update(request: Request, sobject: str, record_id: str) -> Response:
    """PATCH sobjects/{Type}/{Id}: 204."""
    org, user, _ = ctx(request)
    values = await read_object(request)
    org.update(
        sobject,
        record_id,
        values,
        assignment=assignment_of(request, default=False),
        user_id=user,
        allow_save=allow_save_of(request),
    )
    return Response(status_code=204)


async def delete(request: Request, sobject: str, record_id: str) -> Response:
    """DELETE sobjects/{Type}/{Id}: 204."""
    org, user, _ = ctx(request)
    org.delete(sobject, record_id, user_id=user)
    return Response(status_code=204)


async def retrieve_by_external_id(
    request: Request, sobject: str, field: str, value: str
) -> Response:
    """GET sobjects/{Type}/{Field}/{value}: the record, 300 on several, 404 on none."""
    org, _, version = ctx(request)
    obj = org.sobject(sobject)
    ids = org.find_by_external_id(obj.name, field, value)
    if not ids:
        raise NotFound("The requested resource does not exist")
    if len(ids) > 1:
        return JSONResponse([record_url(version, obj.name, i) for i in ids], status_code=300)
    return JSONResponse(render_record(obj, org.get(obj.name, ids[0]), version))


async def upsert(request: Request, sobject: str, field: str, value: str) -> Response:
    """PATCH sobjects/{Type}/{Field}/{value}: 201 created / 200 created:false (v46+) / 204."""
    org, user, version = ctx(request)
    values = await read_object(request)
    if request.query_params.get("updateOnly", "").lower() == "true" and not (
        org.find_by_external_id(sobject, field, value)
    ):
        raise NotFound("The requested resource does not exist")
    rid, created = org.upsert(
        sobject,
        field,
        value,
        values,
        assignment=assignment_of(request, default=True),
        user_id=user,
        allow_save=allow_save_of(request),
    )
    body = {"id": rid, "success": True, "errors": [], "created": created}
    if created:
        return JSONResponse(body, status_code=201)
    if float(version) < 46.0:
        return Response(status_code=204)
    return JSONResponse(body, status_code=200)


async def updated(request: Request, sobject: str) -> dict[str, Any]:
    """GET sobjects/{Type}/updated?start&end."""
    org, _, _ = ctx(request)
    params = request.query_params
    return org.get_updated(sobject, params.get("start", ""), params.get("end", ""))


async def deleted(request: Request, sobject: str) -> dict[str, Any]:
    """GET sobjects/{Type}/deleted?start&end."""
    org, _, _ = ctx(request)
    params = request.query_params
    return org.get_deleted(sobject, params.get("start", ""), params.get("end", ""))
