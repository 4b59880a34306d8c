"""The URL table of the Salesforce emulator: one glance shows every vendor route.

Trailing slashes are stripped by the guard before routing, so each path is listed once.
Query (`/query`, `/queryAll`) and Bulk 2.0 (`/jobs/...`) live in query.py and bulk.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request

from hubforce.emulators.common.stats import CONTROL_PREFIX
from hubforce.emulators.salesforce import auth, composite, responses
from hubforce.emulators.salesforce.exceptions import SalesforceApiError
from hubforce.emulators.salesforce.responses import org_of

V = "/services/data/v{version}"


def build_rest_router() -> APIRouter:
    """Metadata, records, change tracking and composite resources."""
    r = APIRouter()
    r.add_api_route("/services/data", responses.versions, methods=["GET"])
    r.add_api_route(V, responses.resources, methods=["GET"])
    r.add_api_route(f"{V}/limits", responses.limits, methods=["GET"])
    r.add_api_route(f"{V}/sobjects", responses.describe_global, methods=["GET"])
    r.add_api_route(f"{V}/sobjects/{{sobject}}", responses.sobject_basic, methods=["GET"])
    r.add_api_route(f"{V}/sobjects/{{sobject}}", responses.create, methods=["POST"])
    r.add_api_route(f"{V}/sobjects/{{sobject}}/describe", responses.describe, methods=["GET"])
    r.add_api_route(f"{V}/sobjects/{{sobject}}/updated", responses.updated, methods=["GET"])
    r.add_api_route(f"{V}/sobjects/{{sobject}}/deleted", responses.deleted, methods=["GET"])
    one = f"{V}/sobjects/{{sobject}}/{{record_id}}"
    r.add_api_route(one, responses.retrieve, methods=["GET"])
    r.add_api_route(one, responses.update, methods=["PATCH"])
    r.add_api_route(one, responses.delete, methods=["DELETE"])
    ext = f"{V}/sobjects/{{sobject}}/{{field}}/{{value:path}}"
    r.add_api_route(ext, responses.retrieve_by_external_id, methods=["GET"])
    r.add_api_route(ext, responses.upsert, methods=["PATCH", "POST"])
    coll = f"{V}/composite/sobjects"
    r.add_api_route(coll, composite.collections_create, methods=["POST"])
    r.add_api_route(coll, composite.collections_update, methods=["PATCH"])
    r.add_api_route(coll, composite.collections_delete, methods=["DELETE"])
    r.add_api_route(f"{coll}/{{sobject}}", composite.collections_retrieve, methods=["GET", "POST"])
    r.add_api_route(
        f"{coll}/{{sobject}}/{{field}}", composite.collections_upsert, methods=["PATCH"]
    )
    r.add_api_route(f"{V}/composite", composite.composite, methods=["POST"])
    r.add_api_route(f"{V}/composite/batch", composite.composite_batch, methods=["POST"])
    return r


def build_auth_router() -> APIRouter:
    """OAuth 2.0 and SOAP endpoints (outside /services/data, not counted)."""
    r = APIRouter()
    r.add_api_route("/services/oauth2/token", auth.oauth_token, methods=["POST"])
    r.add_api_route("/services/oauth2/authorize", auth.authorize, methods=["GET"])
    r.add_api_route("/services/Soap/u/{version}", auth.soap, methods=["POST"])
    r.add_api_route("/services/Soap/u/{version}/{org_path}", auth.soap, methods=["POST"])
    return r


def build_control_extras() -> APIRouter:
    """Salesforce-only control verbs: convert-lead, merge, assignment-rules, expire-sessions,
    revoke-tokens (an admin revokes the connected app's OAuth grants, or one refresh token)."""
    r = APIRouter(prefix=CONTROL_PREFIX, tags=["emulator control"])

    @r.post("/convert-lead")
    async def convert_lead(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        options = {
            "converted_status": body.get("convertedStatus"),
            "account_id": body.get("accountId"),
            "contact_id": body.get("contactId"),
            "do_not_create_opportunity": bool(body.get("doNotCreateOpportunity", False)),
            "opportunity_name": body.get("opportunityName"),
            "owner_id": body.get("ownerId"),
        }
        try:
            return org_of(request).convert_lead(str(body.get("leadId", "")), **options)
        except SalesforceApiError as exc:
            raise HTTPException(exc.status, f"{exc.error_code}: {exc.message}") from exc

    @r.post("/merge")
    async def merge(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        try:
            return org_of(request).merge(
                str(body.get("sobject", "")),
                str(body.get("masterId", "")),
                [str(i) for i in body.get("mergeIds", [])],
            )
        except SalesforceApiError as exc:
            raise HTTPException(exc.status, f"{exc.error_code}: {exc.message}") from exc

    @r.get("/assignment-rules")
    async def assignment_rules(request: Request) -> list[dict[str, Any]]:
        rules = org_of(request).rules.assignment
        return [{"id": a.id, "name": a.name, "active": a.active} for a in rules]

    @r.post("/expire-sessions")
    async def expire_sessions(request: Request) -> dict[str, Any]:
        return {"expired": request.app.state.sessions.expire_all()}

    @r.post("/revoke-tokens")
    async def revoke_tokens(
        request: Request, body: dict[str, Any] = Body(default_factory=dict)
    ) -> dict[str, Any]:
        token = body.get("refresh_token")
        if token is not None and not isinstance(token, str):
            raise HTTPException(400, "refresh_token must be a string")
        return {"revoked": request.app.state.sessions.revoke(token)}

    return r


def build_routers() -> list[APIRouter]:
    """Every router except query and bulk (which sf-soql builds)."""
    return [build_rest_router(), build_auth_router(), build_control_extras()]
