"""HubSpot authentication as httpx.Auth flows: private-app token, OAuth refresh-token grant.

The OAuth flow refreshes before `expires_in` runs out (HubSpot's advice: don't wait for 401s),
and also once on a 401, in case a clock drifted; a refresh that is refused raises AuthFailed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Generator

import httpx

from hubforce.connectors.hubspot.errors import SIDE, body_of
from hubforce.errors import AuthFailed, ConfigError


class PrivateAppToken(httpx.Auth):
    """A static `Authorization: Bearer pat-...` token (private apps; never expires on a timer)."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ConfigError("", "connections.hubspot.token", "the HubSpot token is empty")
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the bearer header."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "PrivateAppToken(***)"


class HubSpotOAuth(httpx.Auth):
    """OAuth 2.0 refresh-token grant against `POST /oauth/v1/token`."""

    requires_response_body = True

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        token_url: str = "/oauth/v1/token",
        access_token: str | None = None,
        expires_at: float = 0.0,
        margin: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self.token_url = token_url
        self._access_token = access_token
        self.expires_at = expires_at
        self.margin = margin
        self.clock = clock
        self.refreshes = 0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"HubSpotOAuth(client_id={self.client_id!r})"

    def _needs_refresh(self) -> bool:
        return self._access_token is None or self.clock() >= self.expires_at - self.margin

    def _token_request(self, request: httpx.Request) -> httpx.Request:
        return self._token_request_to(request.url.join(self.token_url))

    def _token_request_to(self, url: httpx.URL) -> httpx.Request:
        return httpx.Request(
            "POST",
            url,
            data={
                "grant_type": "refresh_token",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "refresh_token": self._refresh_token,
            },
            headers={"Accept": "application/json"},
        )

    def _accept(self, response: httpx.Response) -> None:
        body = body_of(response)
        if response.status_code != 200 or not body.get("access_token"):
            raise AuthFailed(
                SIDE,
                status=response.status_code,
                api_code=str(body.get("status") or body.get("error") or body.get("category", "")),
                api_message=str(body.get("message") or body.get("error_description", "")),
            )
        self._access_token = str(body["access_token"])
        self._refresh_token = str(body.get("refresh_token") or self._refresh_token)
        self.expires_at = self.clock() + float(body.get("expires_in", 1800))
        self.refreshes += 1

    async def refresh(self, client: httpx.AsyncClient) -> None:
        """Trade the refresh token for an access token now, outside any call (to check
        renewed credentials); AuthFailed when it is refused."""
        async with self._lock:
            request = self._token_request_to(client.base_url.join(self.token_url))
            response = await client.send(request, auth=None)
            await response.aread()
            self._accept(response)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Refresh when due, send; on a 401 refresh once and resend."""
        if self._needs_refresh():
            self._accept((yield self._token_request(request)))
        request.headers["Authorization"] = f"Bearer {self._access_token}"
        response = yield request
        if response.status_code == 401:
            self._accept((yield self._token_request(request)))
            request.headers["Authorization"] = f"Bearer {self._access_token}"
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """As `auth_flow`, but concurrent calls share one refresh (the others wait for it)."""
        if self._needs_refresh():
            async with self._lock:
                if self._needs_refresh():
                    answer = yield self._token_request(request)
                    await answer.aread()
                    self._accept(answer)
        used = self._access_token
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code == 401:
            async with self._lock:
                if self._access_token == used:
                    answer = yield self._token_request(request)
                    await answer.aread()
                    self._accept(answer)
            request.headers["Authorization"] = f"Bearer {self._access_token}"
            yield request
