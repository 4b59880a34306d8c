"""The OAuth authorization-code flow with a local redirect, as the native "Connect" button does.

1. Listen on 127.0.0.1 for the redirect; 2. send the user (a browser, or any callable) to the
authorize page with a random `state`; 3. take the `code` from the redirect, after checking the
state; 4. trade it for tokens at the token endpoint; 5. store the refresh token encrypted in
the state store under `<side>.refresh_token`. No token ever reaches a log line or the terminal.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from hubforce.connect.apps import OAuthApp
from hubforce.connect.listener import CallbackListener
from hubforce.errors import AuthFailed, Category, ConnectorError, redact, side_label
from hubforce.store import SecretBox, Store
from hubforce.sync.model import Side

Browser = Callable[[str], object]


def credential_name(side: Side) -> str:
    """Name of the stored refresh token of `side` ("hubspot.refresh_token")."""
    return f"{side.value}.refresh_token"


@dataclass(frozen=True, slots=True)
class Connected:
    """What a successful connect stored (never the token itself)."""

    side: Side
    credential: str
    redirect_uri: str
    instance_url: str | None = None

    def __repr__(self) -> str:
        return f"Connected(side={self.side.value!r}, credential={self.credential!r})"


def authorize_url(app: OAuthApp, *, redirect_uri: str, state: str) -> str:
    """The authorize page URL for `app`, redirecting back to `redirect_uri` with `state`."""
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(app.scopes),
        "state": state,
    }
    return f"{app.authorize_url}?{urlencode(query)}"


def exchange_code(
    app: OAuthApp,
    code: str,
    *,
    redirect_uri: str,
    transport: httpx.BaseTransport | None = None,
    verify: bool | str = True,
) -> dict[str, str]:
    """Trade an authorization code for tokens; AuthFailed with the API's words if refused."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": app.client_id,
    }
    if app.client_secret is not None:
        form["client_secret"] = app.client_secret.get_secret_value()
    try:
        with httpx.Client(timeout=30, transport=transport, verify=verify) as client:
            response = client.post(app.token_url, data=form)
    except httpx.HTTPError as exc:
        raise ConnectorError(
            app.side,
            Category.TRANSIENT,
            f"cannot reach the {side_label(app.side)} token endpoint ({type(exc).__name__})",
            hint="check the base/login URL in the configuration and the network",
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict):
        code_, message = _oauth_error(body, response)
        raise AuthFailed(app.side, status=response.status_code, api_code=code_, api_message=message)
    if not body.get("refresh_token"):
        raise AuthFailed(
            app.side,
            status=response.status_code,
            api_code="no_refresh_token",
            api_message="the token response has no refresh_token (is the refresh_token scope "
            "or offline access enabled for the app?)",
        )
    return {str(k): str(v) for k, v in body.items()}


def _oauth_error(body: object, response: httpx.Response) -> tuple[str, str]:
    if isinstance(body, dict):
        # Salesforce: {"error", "error_description"}; HubSpot: {"status", "message"}.
        code = str(body.get("error") or body.get("status") or "")
        message = str(body.get("error_description") or body.get("message") or "")
        return code, redact(message)
    return f"HTTP {response.status_code}", redact(response.text[:200])


def connect(
    app: OAuthApp,
    store: Store,
    box: SecretBox,
    *,
    browser: Browser,
    port: int = 0,
    timeout: float = 300.0,
    transport: httpx.BaseTransport | None = None,
    verify: bool | str = True,
    on_url: Callable[[str], None] | None = None,
) -> Connected:
    """Run the whole flow: listen, send the user to `browser`, exchange, store encrypted."""
    state = secrets.token_urlsafe(24)
    with CallbackListener(state, port=port) as listener:
        url = authorize_url(app, redirect_uri=listener.redirect_uri, state=state)
        if on_url is not None:
            on_url(url)
        browser(url)
        code = listener.wait(timeout)
        redirect_uri = listener.redirect_uri
    tokens = exchange_code(app, code, redirect_uri=redirect_uri, transport=transport, verify=verify)
    name = credential_name(app.side)
    store.secrets.put(name, tokens["refresh_token"], box)
    return Connected(app.side, name, redirect_uri, tokens.get("instance_url"))


def stored_refresh_token(store: Store, side: Side, box: SecretBox | None = None) -> str:
    """The refresh token `hubforce connect` stored for `side` (decrypted), for the engine's
    auth; AuthFailed (run `hubforce connect <side>`) when none is stored."""
    token = store.secrets.get(credential_name(side), box or SecretBox.from_env())
    if token is None:
        raise AuthFailed(side.value, api_message="no refresh token is stored for this side")
    return token
