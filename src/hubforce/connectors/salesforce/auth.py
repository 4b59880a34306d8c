"""Salesforce authentication as httpx.Auth flows.

Grants against `POST {login_url}/services/oauth2/token`: refresh token, JWT bearer (RS256) and
username-password. A session is obtained on first use; a 401 INVALID_SESSION_ID refreshes it
once and resends the call; a refused grant raises AuthFailed ("reauthorize Salesforce").
`StaticSession` is "direct mode": a given access token, never refreshed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

import httpx
import jwt

from hubforce.connectors.salesforce.errors import SIDE, errors_of
from hubforce.errors import AuthFailed

TOKEN_PATH = "/services/oauth2/token"


class StaticSession(httpx.Auth):
    """A fixed access token (session id); a 401 surfaces as AuthFailed."""

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the bearer header."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "StaticSession(***)"


class SalesforceOAuth(httpx.Auth):
    """Base of the token grants: fetch a session when missing, refresh once on a stale one."""

    requires_response_body = True

    def __init__(self, *, login_url: str, client_id: str) -> None:
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self._access_token: str | None = None
        self.instance_url: str | None = None
        self.logins = 0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(login_url={self.login_url!r}, client_id={self.client_id!r})"

    def token_form(self) -> dict[str, str]:
        """The form fields of this grant's token request."""
        raise NotImplementedError

    def token_request(self) -> httpx.Request:
        """The token request to send."""
        return httpx.Request(
            "POST",
            self.login_url + TOKEN_PATH,
            data=self.token_form(),
            headers={"Accept": "application/json"},
        )

    def accept(self, response: httpx.Response) -> None:
        """Take a token response; raise AuthFailed when the grant was refused."""
        try:
            body: Any = response.json()
        except ValueError:
            body = {}
        if (
            response.status_code != 200
            or not isinstance(body, dict)
            or not body.get("access_token")
        ):
            first = errors_of(response)[0] if errors_of(response) else {}
            raise AuthFailed(
                SIDE,
                status=response.status_code,
                api_code=str(first.get("error") or first.get("errorCode") or ""),
                api_message=str(first.get("error_description") or first.get("message") or ""),
            )
        self._access_token = str(body["access_token"])
        self.instance_url = str(body.get("instance_url") or self.instance_url or self.login_url)
        self.on_token(body)
        self.logins += 1

    def on_token(self, body: dict[str, Any]) -> None:
        """Hook for grants that keep something from the answer (a rotated refresh token)."""

    async def login(self, client: httpx.AsyncClient) -> str:
        """Fetch a session now (outside any call) and return the instance URL."""
        async with self._lock:
            self.accept(await client.send(self.token_request(), auth=None))
        assert self.instance_url is not None
        return self.instance_url

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Log in when needed, send; on 401 INVALID_SESSION_ID log in again once and resend."""
        if self._access_token is None:
            self.accept((yield self.token_request()))
        request.headers["Authorization"] = f"Bearer {self._access_token}"
        response = yield request
        if response.status_code == 401 and _is_invalid_session(response):
            self.accept((yield self.token_request()))
            request.headers["Authorization"] = f"Bearer {self._access_token}"
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """As `auth_flow`, but concurrent calls share one login (the others wait for it)."""
        if self._access_token is None:
            async with self._lock:
                if self._access_token is None:
                    answer = yield self.token_request()
                    await answer.aread()
                    self.accept(answer)
        used = self._access_token
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            if _is_invalid_session(response):
                async with self._lock:
                    if self._access_token == used:
                        answer = yield self.token_request()
                        await answer.aread()
                        self.accept(answer)
                request.headers["Authorization"] = f"Bearer {self._access_token}"
                yield request


def _is_invalid_session(response: httpx.Response) -> bool:
    errors = errors_of(response)
    return not errors or any(e.get("errorCode") == "INVALID_SESSION_ID" for e in errors)


class RefreshTokenGrant(SalesforceOAuth):
    """OAuth refresh-token grant (web-server flow's long-lived token); follows rotation."""

    def __init__(
        self, *, login_url: str, client_id: str, refresh_token: str, client_secret: str = ""
    ) -> None:
        super().__init__(login_url=login_url, client_id=client_id)
        self._refresh_token = refresh_token
        self._client_secret = client_secret

    def token_form(self) -> dict[str, str]:
        """grant_type=refresh_token."""
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "refresh_token": self._refresh_token,
        }
        if self._client_secret:
            form["client_secret"] = self._client_secret
        return form

    def on_token(self, body: dict[str, Any]) -> None:
        """Keep a rotated refresh token."""
        if body.get("refresh_token"):
            self._refresh_token = str(body["refresh_token"])


class JwtBearerGrant(SalesforceOAuth):
    """JWT bearer grant: an RS256 assertion (iss=client id, sub=username, aud=login URL)."""

    def __init__(
        self,
        *,
        login_url: str,
        client_id: str,
        username: str,
        private_key: str,
        audience: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(login_url=login_url, client_id=client_id)
        self.username = username
        self._private_key = private_key
        self.audience = audience or self.login_url
        self.clock = clock

    def token_form(self) -> dict[str, str]:
        """grant_type=jwt-bearer with a fresh assertion valid for three minutes."""
        claims = {
            "iss": self.client_id,
            "sub": self.username,
            "aud": self.audience,
            "exp": int(self.clock()) + 180,
        }
        assertion = jwt.encode(claims, self._private_key, algorithm="RS256")
        return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}


class PasswordGrant(SalesforceOAuth):
    """Username-password grant (password + security token appended, as Salesforce wants)."""

    def __init__(
        self,
        *,
        login_url: str,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        security_token: str = "",
    ) -> None:
        super().__init__(login_url=login_url, client_id=client_id)
        self._client_secret = client_secret
        self.username = username
        self._password = password + security_token

    def token_form(self) -> dict[str, str]:
        """grant_type=password."""
        return {
            "grant_type": "password",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "username": self.username,
            "password": self._password,
        }
