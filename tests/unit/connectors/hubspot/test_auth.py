"""HubSpot auth flows: private-app token, OAuth refresh by expires_in and once on 401."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx
import pytest

from hubforce.connectors.http import RetryPolicy
from hubforce.connectors.hubspot.auth import HubSpotOAuth, PrivateAppToken
from hubforce.connectors.hubspot.client import HubSpotClient
from hubforce.errors import AuthFailed
from tests.unit.connectors.conftest import FakeClock, Script, reply

pytestmark = pytest.mark.anyio

TOKEN_OK = {
    "token_type": "bearer",
    "access_token": "CJT-new",
    "refresh_token": "rt-1",
    "expires_in": 1800,
}
EXPIRED = {
    "status": "error",
    "message": "The OAuth token used to make this call expired 75 second(s) ago.",
    "correlationId": "c",
    "category": "EXPIRED_AUTHENTICATION",
}


def form_of(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


def client(script: Script, auth: httpx.Auth, policy: RetryPolicy) -> HubSpotClient:
    return HubSpotClient(
        "https://api.hubapi.test", auth=auth, transport=script.transport, policy=policy
    )


async def test_private_app_token_is_sent_as_bearer(policy: RetryPolicy) -> None:
    script = Script(reply(200, {"results": []}))
    async with client(script, PrivateAppToken("pat-na1-abc"), policy) as hs:
        assert await hs.properties("contacts") == []
    assert script.requests[0].headers["Authorization"] == "Bearer pat-na1-abc"
    assert "abc" not in repr(PrivateAppToken("pat-na1-abc"))


async def test_oauth_refreshes_first_then_before_expiry(
    policy: RetryPolicy, clock: FakeClock
) -> None:
    auth = HubSpotOAuth(
        client_id="cid", client_secret="sec", refresh_token="rt-1", clock=clock.monotonic
    )
    script = Script(
        reply(200, TOKEN_OK),
        reply(200, {"results": []}),
        reply(200, {"results": []}),
        reply(200, {**TOKEN_OK, "access_token": "CJT-2"}),
        reply(200, {"results": []}),
    )
    async with client(script, auth, policy) as hs:
        await hs.properties("contacts")
        await hs.properties("contacts")
        clock.now += 1800 - 30  # inside the refresh margin
        await hs.properties("contacts")
    token_calls = [r for r in script.requests if r.url.path == "/oauth/v1/token"]
    assert len(token_calls) == 2
    assert form_of(token_calls[0]) == {
        "grant_type": ["refresh_token"],
        "client_id": ["cid"],
        "client_secret": ["sec"],
        "refresh_token": ["rt-1"],
    }
    assert script.requests[1].headers["Authorization"] == "Bearer CJT-new"
    assert script.requests[-1].headers["Authorization"] == "Bearer CJT-2"
    assert auth.refreshes == 2


async def test_oauth_401_refreshes_once_and_retries(policy: RetryPolicy, clock: FakeClock) -> None:
    auth = HubSpotOAuth(
        client_id="cid",
        client_secret="sec",
        refresh_token="rt-1",
        access_token="old",
        expires_at=clock.now + 3600,
        clock=clock.monotonic,
    )
    script = Script(
        reply(401, EXPIRED), reply(200, TOKEN_OK), reply(200, {"results": [{"name": "email"}]})
    )
    async with client(script, auth, policy) as hs:
        assert await hs.properties("contacts") == [{"name": "email"}]
    assert [r.url.path for r in script.requests] == [
        "/crm/v3/properties/contacts",
        "/oauth/v1/token",
        "/crm/v3/properties/contacts",
    ]


async def test_refused_refresh_raises_auth_failed_without_secrets(policy: RetryPolicy) -> None:
    auth = HubSpotOAuth(client_id="cid", client_secret="topsecret", refresh_token="rt-revoked")
    script = Script(
        reply(400, {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"})
    )
    async with client(script, auth, policy) as hs:
        with pytest.raises(AuthFailed) as caught:
            await hs.properties("contacts")
    error = caught.value
    assert error.message == "Authentication failed: reauthorize HubSpot"
    assert error.api_code == "BAD_REFRESH_TOKEN"
    assert "hubforce connect hubspot" in error.hint
    assert "topsecret" not in str(error) and "rt-revoked" not in str(error)
    assert len(script.requests) == 1


async def test_second_401_after_refresh_is_auth_failed(
    policy: RetryPolicy, clock: FakeClock
) -> None:
    auth = HubSpotOAuth(
        client_id="c",
        client_secret="s",
        refresh_token="r",
        access_token="old",
        expires_at=clock.now + 3600,
        clock=clock.monotonic,
    )
    script = Script(reply(401, EXPIRED), reply(200, TOKEN_OK), reply(401, EXPIRED))
    async with client(script, auth, policy) as hs:
        with pytest.raises(AuthFailed):
            await hs.properties("contacts")
    assert len(script.requests) == 3


async def test_concurrent_calls_share_one_refresh(policy: RetryPolicy, clock: FakeClock) -> None:
    auth = HubSpotOAuth(
        client_id="c",
        client_secret="s",
        refresh_token="r",
        access_token="old",
        expires_at=clock.now + 3600,
        clock=clock.monotonic,
    )
    token_calls = 0

    async def server(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)  # let the other calls run: real interleaving
        nonlocal token_calls
        if request.url.path == "/oauth/v1/token":
            token_calls += 1
            return reply(200, TOKEN_OK)
        if request.headers["Authorization"] == "Bearer old":
            return reply(401, EXPIRED)
        return reply(200, {"results": []})

    async with HubSpotClient(
        "https://api.hubapi.test", auth=auth, transport=httpx.MockTransport(server), policy=policy
    ) as hs:
        results = await asyncio.gather(*(hs.properties("contacts") for _ in range(5)))
    assert results == [[]] * 5
    assert token_calls == 1
