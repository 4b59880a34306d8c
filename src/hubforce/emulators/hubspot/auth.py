"""Authentication and rate limiting for every CRM route, in one ASGI middleware.

Private-app static token or OAuth access tokens (expiring on the emulator clock), then the
tier's ten-secondly burst and daily allocation with `X-HubSpot-RateLimit-*` headers (OAuth
calls: 110 per ten seconds, no daily limit and no daily headers, as for public apps); search
routes have their own per-second limit and no rate headers. Paths outside `/crm/` (OAuth, forms,
the control API) are not guarded here, like the real unauthenticated endpoints.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.hubspot.exceptions import (
    AuthenticationError,
    ExpiredAuthentication,
    HubSpotApiError,
    RateLimited,
)
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings

if TYPE_CHECKING:
    from hubforce.emulators.hubspot.models import Portal

NO_CREDENTIALS = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
CORRELATION_KEY = "hubspot.correlation_id"
BAD_TOKEN = "The OAuth token used to make this call is invalid or has been revoked."


@dataclass
class AccessToken:
    """An issued OAuth access token."""

    token: str
    refresh_token: str
    expires_at_ms: int
    scopes: list[str]


class OAuthError(HubSpotApiError):
    """400 from /oauth/v1/token with HubSpot's `status` code (BAD_REFRESH_TOKEN, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, status=400, category=None, extra={"status": code})


class TokenStore:
    """Authorization codes, access tokens and refresh tokens of the emulated OAuth app."""

    def __init__(self, clock: EmulatorClock, settings: HubSpotEmulatorSettings) -> None:
        self.clock = clock
        self.settings = settings
        self.lifetime = settings.token_lifetime
        self.clear()

    def clear(self) -> None:
        """Forget every grant (the static token stays valid)."""
        self.codes: dict[str, tuple[str, list[str]]] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, list[str]] = {}

    def authenticate(self, token: str) -> str:
        """'private_app' or 'oauth' for a valid token; raises 401 otherwise."""
        if token and secrets.compare_digest(token, self.settings.static_token):
            return "private_app"
        issued = self.access.get(token)
        if issued is None:
            raise AuthenticationError(BAD_TOKEN)
        now = self.clock.now_ms()
        if now >= issued.expires_at_ms:
            from hubforce.emulators.hubspot.properties import iso_ms

            ago = (now - issued.expires_at_ms) // 1000
            raise ExpiredAuthentication(
                f"The OAuth token used to make this call expired {ago} second(s) ago.",
                context={"expire time": [iso_ms(issued.expires_at_ms)]},
            )
        return "oauth"

    def revoke(self, refresh_token: str | None = None) -> int:
        """Revoke one refresh token, or every grant of the app (as an uninstall does), with
        the access tokens issued from it; the static token stays. Returns how many refresh
        tokens went."""
        gone = list(self.refresh) if refresh_token is None else [refresh_token]
        revoked = sum(1 for token in gone if self.refresh.pop(token, None) is not None)
        dead = set(gone)
        self.access = {k: v for k, v in self.access.items() if v.refresh_token not in dead}
        if refresh_token is None:
            self.codes.clear()
        return revoked

    def create_code(self, redirect_uri: str, scopes: list[str]) -> str:
        """An authorization code for the local authorize page."""
        code = secrets.token_urlsafe(24)
        self.codes[code] = (redirect_uri, scopes)
        return code

    def _check_client(self, client_id: str, client_secret: str) -> None:
        if client_id != self.settings.client_id:
            raise OAuthError("BAD_CLIENT_ID", "missing or invalid client_id")
        if not secrets.compare_digest(client_secret, self.settings.client_secret):
            raise OAuthError("BAD_CLIENT_SECRET", "missing or invalid client_secret")

    def _issue(self, refresh_token: str, scopes: list[str]) -> dict[str, Any]:
        token = "CJT" + secrets.token_urlsafe(48)
        self.access[token] = AccessToken(
            token, refresh_token, self.clock.now_ms() + self.lifetime * 1000, scopes
        )
        return {
            "token_type": "bearer",
            "access_token": token,
            "refresh_token": refresh_token,
            "expires_in": self.lifetime,
            "token_use": "access_token",
            "hub_id": self.settings.portal_id,
            "scopes": scopes,
        }

    def exchange(self, form: dict[str, str]) -> dict[str, Any]:
        """The /oauth/v1/token answer for an authorization_code or refresh_token grant."""
        grant = form.get("grant_type", "")
        if grant not in ("authorization_code", "refresh_token"):
            raise OAuthError(
                "BAD_GRANT_TYPE",
                f"grant_type must be authorization_code or refresh_token, got {grant!r}",
            )
        self._check_client(form.get("client_id", ""), form.get("client_secret", ""))
        if grant == "authorization_code":
            found = self.codes.pop(form.get("code", ""), None)
            if found is None:
                raise OAuthError("BAD_AUTH_CODE", "missing or unknown auth code")
            if form.get("redirect_uri", "") != found[0]:
                raise OAuthError(
                    "BAD_REDIRECT_URI", "redirect_uri does not match the authorize request"
                )
            refresh = secrets.token_hex(18)
            self.refresh[refresh] = found[1]
            return self._issue(refresh, found[1])
        refresh = form.get("refresh_token", "")
        if refresh not in self.refresh:
            raise OAuthError("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        return self._issue(refresh, self.refresh[refresh])  # HubSpot does not rotate it

    def access_token_info(self, token: str) -> dict[str, Any]:
        """GET /oauth/v1/access-tokens/{token}."""
        issued = self.access.get(token)
        if issued is None or self.clock.now_ms() >= issued.expires_at_ms:
            raise OAuthError("BAD_ACCESS_TOKEN", "missing, unknown or expired access token")
        return {
            "token": token,
            "user": "emulator-user@hubforce.example",
            "hub_domain": "hubforce-emulator.example",
            "scopes": issued.scopes,
            "hub_id": self.settings.portal_id,
            "app_id": self.settings.app_id,
            "expires_in": (issued.expires_at_ms - self.clock.now_ms()) // 1000,
            "user_id": 1,
            "token_type": "access",
        }

    def refresh_token_info(self, token: str) -> dict[str, Any]:
        """GET /oauth/v1/refresh-tokens/{token}."""
        if token not in self.refresh:
            raise OAuthError("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        return {
            "token": token,
            "user": "emulator-user@hubforce.example",
            "hub_domain": "hubforce-emulator.example",
            "scopes": self.refresh[token],
            "hub_id": self.settings.portal_id,
            "client_id": self.settings.client_id,
            "user_id": 1,
            "token_type": "refresh",
        }


def _is_search(scope: Scope) -> bool:
    return bool(scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/search"))


class AuthLimitMiddleware:
    """Guards `/crm/` routes: credentials, then the search, burst and daily limits."""

    def __init__(self, app: ASGIApp, portal: Portal, crm_routes: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self.portal = portal
        # CRM requests go straight to their routes when given (see dispatch.py).
        self.crm_app: ASGIApp = app
        if crm_routes:
            from hubforce.emulators.hubspot.dispatch import CrmDispatch

            self.crm_app = CrmDispatch(crm_routes, fallback=app)

    def _limit(self, scope: Scope, kind: str) -> dict[str, str]:
        """Count the request against the limits; rate headers to add, or raise 429."""
        portal = self.portal
        portal.stats.count_api_call()
        if _is_search(scope):
            if portal.limits_enabled and not portal.search_window.try_acquire():
                raise RateLimited("You have reached your secondly limit.", "SECONDLY", {})
            if portal.limits_enabled:
                portal.daily.try_acquire()
            return {}
        oauth = kind == "oauth"
        burst = portal.oauth_burst if oauth else portal.burst
        daily = portal.daily
        if portal.limits_enabled:
            if burst.remaining() <= 0:
                raise RateLimited(
                    "You have reached your ten_secondly_rolling limit.",
                    "TEN_SECONDLY_ROLLING",
                    self._headers(kind),
                )
            if not oauth and daily.remaining() <= 0:
                raise RateLimited(
                    "You have reached your daily limit.", "DAILY", self._headers(kind)
                )
            burst.try_acquire()
            if not oauth:
                daily.try_acquire()
        return self._headers(kind)

    def _headers(self, kind: str) -> dict[str, str]:
        portal = self.portal
        burst = portal.oauth_burst if kind == "oauth" else portal.burst
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(round(burst.seconds * 1000)),
            "X-HubSpot-RateLimit-Max": str(burst.limit),
            "X-HubSpot-RateLimit-Remaining": str(burst.remaining()),
        }
        if kind == "private_app":  # OAuth-authorised calls carry no daily headers
            headers["X-HubSpot-RateLimit-Daily"] = str(portal.daily.limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(portal.daily.remaining())
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation = str(uuid.uuid4())
        scope[CORRELATION_KEY] = correlation  # error bodies repeat the header's id
        extra: dict[str, str] = {"X-HubSpot-Correlation-Id": correlation}
        target = self.app
        if scope["path"].startswith("/crm/"):
            target = self.crm_app
            try:
                kind = self.portal.tokens.authenticate(_bearer(scope))
                extra.update(self._limit(scope, kind))
            except HubSpotApiError as exc:
                from hubforce.emulators.hubspot.wire import error_response

                response = error_response(exc, correlation)
                if isinstance(exc, AuthenticationError):
                    response.headers["x-hubspot-auth-failure"] = "401 Unauthorized"
                response.headers["X-HubSpot-Correlation-Id"] = correlation
                await response(scope, receive, send)
                return
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *raw]}
            await send(message)

        await target(scope, receive, send_with_headers)


def _bearer(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            text: str = value.decode("latin-1")
            token = text[7:].strip() if text[:7].lower() == "bearer " else ""
            if token:
                return token
    raise AuthenticationError(NO_CREDENTIALS)
