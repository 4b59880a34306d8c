"""OAuth 2.0 endpoints: a local authorize page, the v1 token endpoint and token metadata."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hubforce.emulators.hubspot.auth import OAuthError
from hubforce.emulators.hubspot.parsing import portal_of


async def authorize(request: Request) -> Response:
    """GET /oauth/authorize: a page whose button approves; `?approve=1` redirects with a code."""
    portal = portal_of(request)
    params = request.query_params
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    if client_id != portal.settings.client_id:
        return HTMLResponse("<h1>Unknown client_id</h1>", status_code=400)
    if not redirect_uri:
        return HTMLResponse("<h1>redirect_uri is required</h1>", status_code=400)
    scopes = [s for s in (params.get("scope") or "").split() if s]
    if params.get("approve") == "1":
        code = portal.tokens.create_code(redirect_uri, scopes)
        query = {"code": code, **({"state": params["state"]} if "state" in params else {})}
        joiner = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + joiner + urlencode(query), status_code=302)
    approve = html.escape(str(request.url.include_query_params(approve="1")))
    page = (
        "<!doctype html><title>Authorize app</title>"
        f"<h1>Connect to HubSpot emulator portal {portal.portal_id}</h1>"
        f"<p>Scopes: {html.escape(' '.join(scopes) or '(none)')}</p>"
        f'<p><a id="approve" href="{approve}">Approve</a></p>'
    )
    return HTMLResponse(page)


async def token(request: Request) -> dict[str, Any]:
    """POST /oauth/v1/token (form-encoded): authorization_code or refresh_token grants."""
    form = await request.form()
    fields = {k: str(v) for k, v in form.items()}
    return portal_of(request).tokens.exchange(fields)


async def access_token_info(request: Request, token_value: str) -> dict[str, Any]:
    """GET /oauth/v1/access-tokens/{token}."""
    return portal_of(request).tokens.access_token_info(token_value)


async def refresh_token_info(request: Request, token_value: str) -> dict[str, Any]:
    """GET /oauth/v1/refresh-tokens/{token}."""
    return portal_of(request).tokens.refresh_token_info(token_value)


async def delete_refresh_token(request: Request, token_value: str) -> Response:
    """DELETE /oauth/v1/refresh-tokens/{token} -> 204 (issued access tokens stay valid)."""
    tokens = portal_of(request).tokens
    if tokens.refresh.pop(token_value, None) is None:
        raise OAuthError("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
    return Response(status_code=204)
