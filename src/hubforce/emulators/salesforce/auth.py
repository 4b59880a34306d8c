"""Logins: the OAuth 2.0 token endpoint, the authorize page, and SOAP login / convertLead."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import time
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import jwt
from fastapi import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from hubforce.emulators.salesforce.exceptions import SalesforceApiError
from hubforce.emulators.salesforce.models import Org
from hubforce.emulators.salesforce.responses import org_of
from hubforce.emulators.salesforce.sessions import SessionStore

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"


def _sessions(request: Request) -> SessionStore:
    sessions: SessionStore = request.app.state.sessions
    return sessions


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _user_by_username(org: Org, username: str) -> str | None:
    for user in org.records["User"].values():
        if str(user["Username"]).lower() == username.lower() and user["IsActive"]:
            return str(user["Id"])
    return None


def _token_body(
    request: Request, user_id: str, *, refresh: str | None = None, grant: str | None = None
) -> dict[str, Any]:
    org = org_of(request)
    sessions = _sessions(request)
    base = str(request.base_url).rstrip("/")
    identity = f"{base}/id/{org.org_id}/{user_id}"
    issued = str(int(org.clock.now().timestamp() * 1000))
    secret = org.config.credentials.consumer_secret.encode()
    signature = base64.b64encode(
        hmac.new(secret, (identity + issued).encode(), hashlib.sha256).digest()
    ).decode()
    body: dict[str, Any] = {
        "access_token": sessions.issue(user_id, grant=grant or refresh),
        "instance_url": base,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued,
        "signature": signature,
        "scope": "api refresh_token",
    }
    if refresh:
        body["refresh_token"] = refresh
    return body


def _client_ok(org: Org, client_id: str | None, client_secret: str | None) -> bool:
    creds = org.config.credentials
    return client_id == creds.consumer_key and client_secret == creds.consumer_secret


def _basic_credentials(request: Request) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:]).decode()
    except ValueError:
        return None, None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


async def oauth_token(request: Request) -> Response:
    """POST /services/oauth2/token: password, refresh_token, client_credentials, JWT, code."""
    org = org_of(request)
    creds = org.config.credentials
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    grant = params.get("grant_type")
    basic_id, basic_secret = _basic_credentials(request)
    client_id = params.get("client_id") or basic_id
    client_secret = params.get("client_secret") or basic_secret
    sessions = _sessions(request)
    if not grant:
        return _oauth_error("invalid_request", "grant type is missing")
    if grant == "password":
        if client_id != creds.consumer_key:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if client_secret != creds.consumer_secret:
            return _oauth_error("invalid_client", "invalid client credentials")
        user = _user_by_username(org, params.get("username", ""))
        password = params.get("password", "")
        if user is None or password not in (creds.password, creds.password + creds.security_token):
            return _oauth_error("invalid_grant", "authentication failure")
        return JSONResponse(_token_body(request, user))
    if grant == "client_credentials":
        if not _client_ok(org, client_id, client_secret):
            return _oauth_error("invalid_client", "invalid client credentials")
        return JSONResponse(_token_body(request, org.integration_user_id))
    if grant == "refresh_token":
        if client_id is not None and client_id != creds.consumer_key:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        refresh = params.get("refresh_token", "")
        user = sessions.redeem_refresh(refresh)
        if user is None:
            return _oauth_error("invalid_grant", "expired access/refresh token")
        return JSONResponse(_token_body(request, user, grant=refresh))
    if grant == "authorization_code":
        if not _client_ok(org, client_id, client_secret):
            return _oauth_error("invalid_client", "invalid client credentials")
        user = sessions.redeem_code(params.get("code", ""))
        if user is None:
            return _oauth_error("invalid_grant", "invalid authorization code")
        return JSONResponse(_token_body(request, user, refresh=sessions.issue_refresh(user)))
    if grant == JWT_GRANT:
        return _jwt_grant(request, org, params.get("assertion", ""))
    return _oauth_error("unsupported_grant_type", "grant type not supported")


def _jwt_grant(request: Request, org: Org, assertion: str) -> Response:
    creds = org.config.credentials
    try:
        if creds.jwt_public_key:
            claims = jwt.decode(
                assertion,
                creds.jwt_public_key,
                algorithms=["RS256"],
                options={"verify_aud": False},
            )
        else:  # no key configured: accept any well-formed assertion (local development)
            claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return _oauth_error("invalid_grant", "invalid assertion")
    if claims.get("iss") != creds.consumer_key:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    audience = str(claims.get("aud", ""))
    if not audience.startswith("https://") or "salesforce.com" not in audience:
        return _oauth_error("invalid_grant", "audience is invalid")
    if float(claims.get("exp", 0)) < time.time():
        return _oauth_error("invalid_grant", "expired authorization code")
    user = _user_by_username(org, str(claims.get("sub", "")))
    if user is None:
        return _oauth_error("invalid_grant", "user hasn't approved this consumer")
    return JSONResponse(_token_body(request, user))


async def authorize(request: Request) -> Response:
    """GET /services/oauth2/authorize: approve for local development, redirect with a code."""
    org = org_of(request)
    params = request.query_params
    if params.get("client_id") != org.config.credentials.consumer_key:
        return HTMLResponse("<h1>error=invalid_client_id</h1>", status_code=400)
    redirect = params.get("redirect_uri")
    if not redirect or params.get("response_type", "code") != "code":
        return HTMLResponse("<h1>error=invalid_request</h1>", status_code=400)
    code = _sessions(request).issue_code(org.integration_user_id)
    query = {"code": code, **({"state": params["state"]} if "state" in params else {})}
    separator = "&" if "?" in redirect else "?"
    return RedirectResponse(f"{redirect}{separator}{urlencode(query)}", status_code=302)


# -- SOAP -----------------------------------------------------------------------------------


def _envelope(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{_SOAP_NS}" xmlns="urn:partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com">'
        f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    )


def _fault(code: str, message: str, kind: str = "UnexpectedErrorFault") -> Response:
    body = (
        f"<soapenv:Fault><faultcode>sf:{code}</faultcode>"
        f"<faultstring>{html.escape(code)}: {html.escape(message)}</faultstring>"
        f'<detail><sf:{kind} xsi:type="sf:{kind}"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{html.escape(message)}</sf:exceptionMessage></sf:{kind}>"
        "</detail></soapenv:Fault>"
    )
    return Response(_envelope(body), status_code=500, media_type="text/xml")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(root: ElementTree.Element, name: str) -> ElementTree.Element | None:
    return next((el for el in root.iter() if _local(el.tag) == name), None)


def _text(root: ElementTree.Element, name: str) -> str | None:
    found = _find(root, name)
    return found.text.strip() if found is not None and found.text else None


async def soap(request: Request, version: str, org_path: str = "") -> Response:
    """POST /services/Soap/u/{ver}[/{orgId}]: `login` and `convertLead`."""
    org = org_of(request)
    try:
        root = ElementTree.fromstring(await request.body())
    except ElementTree.ParseError:
        return _fault("INVALID_REQUEST", "Unable to parse the SOAP request")
    if _find(root, "login") is not None:
        return _soap_login(request, org, root, version)
    if _find(root, "convertLead") is not None:
        return _soap_convert(request, org, root)
    return _fault("INVALID_OPERATION", "Unsupported SOAP operation")


def _soap_login(request: Request, org: Org, root: ElementTree.Element, version: str) -> Response:
    creds = org.config.credentials
    user = _user_by_username(org, _text(root, "username") or "")
    password = _text(root, "password") or ""
    if user is None or password != creds.password + creds.security_token:
        return _fault(
            "INVALID_LOGIN",
            "Invalid username, password, security token; or user locked out.",
            "LoginFault",
        )
    if not org.api_enabled:
        return _fault("API_DISABLED_FOR_ORG", "API is not enabled for this Organization or Partner")
    base = str(request.base_url).rstrip("/")
    token = _sessions(request).issue(user)
    lifetime = _sessions(request).lifetime
    body = (
        "<loginResponse><result>"
        f"<metadataServerUrl>{base}/services/Soap/m/{version}/{org.org_id}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
        f"<serverUrl>{base}/services/Soap/u/{version}/{org.org_id}</serverUrl>"
        f"<sessionId>{token}</sessionId><userId>{user}</userId>"
        f"<userInfo><organizationId>{org.org_id}</organizationId>"
        f"<organizationName>{html.escape(org.config.org_name)}</organizationName>"
        f"<sessionSecondsValid>{lifetime}</sessionSecondsValid>"
        f"<userId>{user}</userId></userInfo>"
        "</result></loginResponse>"
    )
    return Response(_envelope(body), media_type="text/xml")


def _soap_convert(request: Request, org: Org, root: ElementTree.Element) -> Response:
    try:
        user = _sessions(request).user_of(_text(root, "sessionId") or "", org.integration_user_id)
    except SalesforceApiError as exc:
        return _fault(exc.error_code, exc.message)
    results = []
    for item in (el for el in root.iter() if _local(el.tag) == "leadConverts"):
        lead_id = _text(item, "leadId") or ""
        try:
            out = org.convert_lead(
                lead_id,
                converted_status=_text(item, "convertedStatus"),
                account_id=_text(item, "accountId"),
                contact_id=_text(item, "contactId"),
                do_not_create_opportunity=(_text(item, "doNotCreateOpportunity") or "") == "true",
                opportunity_name=_text(item, "opportunityName"),
                owner_id=_text(item, "ownerId"),
                user_id=user,
            )
            results.append(
                f"<result><accountId>{out['accountId']}</accountId>"
                f"<contactId>{out['contactId']}</contactId><leadId>{out['leadId']}</leadId>"
                + (
                    f"<opportunityId>{out['opportunityId']}</opportunityId>"
                    if out["opportunityId"]
                    else '<opportunityId xsi:nil="true"/>'
                )
                + "<success>true</success></result>"
            )
        except SalesforceApiError as exc:
            results.append(
                f"<result><errors><message>{html.escape(exc.message)}</message>"
                f"<statusCode>{exc.error_code}</statusCode></errors>"
                f"<leadId>{html.escape(lead_id)}</leadId><success>false</success></result>"
            )
    return Response(
        _envelope(f"<convertLeadResponse>{''.join(results)}</convertLeadResponse>"),
        media_type="text/xml",
    )
