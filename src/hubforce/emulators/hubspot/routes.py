"""The URL table of the HubSpot emulator: every vendor and control route at a glance."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hubforce.emulators.hubspot import associations_api, batch, oauth, responses, schema
from hubforce.emulators.hubspot.models import Portal
from hubforce.emulators.hubspot.wire import render_record

OBJ = "/crm/v3/objects/{object_type}"
V4 = "/crm/v4/objects/{from_type}/{object_id}/associations"
V4_BATCH = "/crm/v4/associations/{from_type}/{to_type}/batch"


Handler = Callable[..., Awaitable[Any]]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A plain Starlette endpoint for `handler(request, **path_params)`.

    The handlers parse their own input (HubSpot's errors, not FastAPI's), so FastAPI's
    per-request dependency solving would only cost time on the hottest routes.
    """

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        result = await handler(request, **request.path_params)
        return result if isinstance(result, Response) else JSONResponse(result)

    return endpoint


def build_crm_router(portal: Portal) -> APIRouter:
    """CRM objects, search, batch, merges, properties, associations, owners, pipelines."""
    r = APIRouter()

    def add(path: str, handler: Handler, *, methods: list[str]) -> None:
        r.routes.append(Route(path, _endpoint(handler), methods=methods))

    # Hot routes first: the router tries candidates in order, and each try costs time.
    add(OBJ + "/{object_id}", responses.get_by_id, methods=["GET"])
    add(OBJ + "/search", responses.do_search, methods=["POST"])
    add(OBJ, responses.get_page, methods=["GET"])
    add(OBJ, responses.create, methods=["POST"])
    add("/crm/v3/objects/contacts/gdpr-delete", responses.gdpr_delete, methods=["POST"])
    add(OBJ + "/merge", responses.merge, methods=["POST"])
    add(OBJ + "/batch/read", batch.batch_read, methods=["POST"])
    add(OBJ + "/batch/create", batch.batch_create, methods=["POST"])
    add(OBJ + "/batch/update", batch.batch_update, methods=["POST"])
    add(OBJ + "/batch/upsert", batch.batch_upsert, methods=["POST"])
    add(OBJ + "/batch/archive", batch.batch_archive, methods=["POST"])
    add(OBJ + "/{object_id}", responses.update, methods=["PATCH"])
    add(OBJ + "/{object_id}", responses.archive, methods=["DELETE"])
    add("/crm/v3/properties/{object_type}", schema.get_properties, methods=["GET"])
    add("/crm/v3/properties/{object_type}", schema.create_property, methods=["POST"])
    add("/crm/v3/properties/{object_type}/{name}", schema.get_property, methods=["GET"])
    add("/crm/v3/properties/{object_type}/{name}", schema.update_property, methods=["PATCH"])
    add("/crm/v3/properties/{object_type}/{name}", schema.archive_property, methods=["DELETE"])
    add("/crm/v3/pipelines/{object_type}", schema.get_pipelines, methods=["GET"])
    add("/crm/v3/pipelines/{object_type}/{pipeline_id}", schema.get_pipeline, methods=["GET"])
    add("/crm/v3/pipelines/{object_type}/{pipeline_id}/stages", schema.get_stages, methods=["GET"])
    add("/crm/v3/owners/", schema.get_owners, methods=["GET"])
    add("/crm/v3/owners", schema.get_owners, methods=["GET"])
    add("/crm/v3/owners/{owner_id}", schema.get_owner, methods=["GET"])
    add(V4 + "/{to_type}", associations_api.get_page, methods=["GET"])
    add(V4 + "/default/{to_type}/{to_id}", associations_api.create_default, methods=["PUT"])
    add(V4 + "/{to_type}/{to_id}", associations_api.create, methods=["PUT"])
    add(V4 + "/{to_type}/{to_id}", associations_api.archive, methods=["DELETE"])
    add(V4_BATCH + "/read", associations_api.batch_read, methods=["POST"])
    add(V4_BATCH + "/create", associations_api.batch_create, methods=["POST"])
    add(V4_BATCH + "/associate/default", associations_api.batch_default, methods=["POST"])
    add(V4_BATCH + "/archive", associations_api.batch_archive, methods=["POST"])
    return r


def build_oauth_router(portal: Portal) -> APIRouter:
    """OAuth token endpoints and the local authorize page."""
    r = APIRouter()
    for path, handler, method in (
        ("/oauth/authorize", oauth.authorize, "GET"),
        ("/oauth/v1/token", oauth.token, "POST"),
        ("/oauth/v1/access-tokens/{token_value}", oauth.access_token_info, "GET"),
        ("/oauth/v1/refresh-tokens/{token_value}", oauth.refresh_token_info, "GET"),
        ("/oauth/v1/refresh-tokens/{token_value}", oauth.delete_refresh_token, "DELETE"),
    ):
        r.routes.append(Route(path, _endpoint(handler), methods=[method]))
    return r


def build_control_extras(portal: Portal) -> APIRouter:
    """HubSpot-only control routes under /__emulator__/: merge (as if done in the UI) and
    revoke-tokens (an admin uninstalls the app, or revokes one refresh token)."""
    r = APIRouter(prefix="/__emulator__")

    @r.post("/revoke-tokens")
    async def control_revoke(body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        token = body.get("refresh_token")
        if token is not None and not isinstance(token, str):
            raise HTTPException(400, "refresh_token must be a string")
        return {"revoked": portal.tokens.revoke(token)}

    @r.post("/merge")
    async def control_merge(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        object_type = portal.object_type(str(body.get("objectType", "contacts")))
        record = portal.merge_objects(
            object_type, str(body.get("primaryObjectId")), str(body.get("objectIdToMerge"))
        )
        return render_record(object_type, record)

    return r
