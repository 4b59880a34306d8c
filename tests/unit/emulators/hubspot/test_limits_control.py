"""The control API's limit settings for fast tests of real windows, and token revocation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hubforce.emulators.hubspot.app import create_app
from hubforce.emulators.hubspot.models import Portal
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings

TOKEN = "unit-token"
Call = Callable[[httpx.AsyncClient], Awaitable[Any]]


@pytest.fixture
def app() -> FastAPI:
    application = create_app(HubSpotEmulatorSettings(static_token=TOKEN, tier="free"))
    application.state.portal.clock.freeze()
    return application


def run(app: FastAPI, call: Call, token: str = TOKEN) -> Any:
    """Run `call` against the app with an ASGI transport."""

    async def main() -> Any:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://hubspot.test", headers=headers
        ) as client:
            return await call(client)

    return asyncio.run(main())


def test_a_short_burst_window_rolls_and_is_announced_in_the_headers(app: FastAPI) -> None:
    portal: Portal = app.state.portal

    async def calls(client: httpx.AsyncClient) -> list[httpx.Response]:
        changed = await client.put(
            "/__emulator__/limits", json={"burst": 3, "burst_window_seconds": 0.5}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["burst_window_seconds"] == 0.5
        replies = [await client.get("/crm/v3/objects/contacts") for _ in range(4)]
        portal.clock.advance(0.5)
        replies.append(await client.get("/crm/v3/objects/contacts"))
        return replies

    replies = run(app, calls)
    assert [r.status_code for r in replies] == [200, 200, 200, 429, 200]
    assert replies[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "500"
    assert replies[3].json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert replies[3].headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_limits_show_what_is_left_of_the_search_window(app: FastAPI) -> None:
    portal: Portal = app.state.portal

    async def calls(client: httpx.AsyncClient) -> dict[str, Any]:
        for _ in range(2):
            await client.post("/crm/v3/objects/deals/search", json={})
        body: dict[str, Any] = (await client.get("/__emulator__/limits")).json()
        return body

    limits = run(app, calls)
    assert (limits["search_per_second"], limits["search_remaining"]) == (5, 3)
    portal.clock.advance(1.0)
    assert portal.get_limits()["search_remaining"] == 5


def test_the_window_length_survives_a_tier_change(app: FastAPI) -> None:
    portal: Portal = app.state.portal
    portal.set_limits({"burst_window_seconds": 2})
    limits = portal.set_limits({"tier": "enterprise"})
    assert limits["burst"] == 190 and limits["burst_window_seconds"] == 2.0
    assert portal.oauth_burst.seconds == 2.0


@pytest.mark.parametrize("bad", [0, -1, 86_401])
def test_a_window_out_of_range_is_refused(app: FastAPI, bad: float) -> None:
    async def call(client: httpx.AsyncClient) -> httpx.Response:
        return await client.put("/__emulator__/limits", json={"burst_window_seconds": bad})

    reply = run(app, call)
    assert reply.status_code == 400
    assert "burst_window_seconds" in reply.text


def test_daily_used_spends_or_resets_todays_count(app: FastAPI) -> None:
    portal: Portal = app.state.portal
    portal.set_limits({"daily": 10})

    async def calls(client: httpx.AsyncClient) -> list[int]:
        await client.put("/__emulator__/limits", json={"daily_used": 10})
        codes = [(await client.get("/crm/v3/objects/companies")).status_code]
        await client.put("/__emulator__/limits", json={"daily_used": 0})  # the midnight reset
        codes.append((await client.get("/crm/v3/objects/companies")).status_code)
        return codes

    assert run(app, calls) == [429, 200]
    assert portal.get_limits()["daily_used"] == 1
    with pytest.raises(ValueError, match="negative"):
        portal.set_limits({"daily_used": -1})


def _grant(portal: Portal, client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
    code = portal.tokens.create_code("http://localhost/cb", [])
    form = {
        "grant_type": "authorization_code",
        "client_id": portal.settings.client_id,
        "client_secret": portal.settings.client_secret,
        "redirect_uri": "http://localhost/cb",
        "code": code,
    }
    return client.post("/oauth/v1/token", data=form)


def _refresh(portal: Portal, client: httpx.AsyncClient, token: str) -> Awaitable[httpx.Response]:
    form = {
        "grant_type": "refresh_token",
        "client_id": portal.settings.client_id,
        "client_secret": portal.settings.client_secret,
        "refresh_token": token,
    }
    return client.post("/oauth/v1/token", data=form)


def test_revoking_every_grant_kills_access_and_refresh_tokens_but_not_the_static_one(
    app: FastAPI,
) -> None:
    portal: Portal = app.state.portal

    async def scenario(client: httpx.AsyncClient) -> dict[str, Any]:
        first = (await _grant(portal, client)).json()
        second = (await _grant(portal, client)).json()
        revoked = (await client.post("/__emulator__/revoke-tokens", json={})).json()
        bearer = {"Authorization": f"Bearer {first['access_token']}"}
        return {
            "revoked": revoked["revoked"],
            "access": (await client.get("/crm/v3/objects/contacts", headers=bearer)).status_code,
            "refresh": (await _refresh(portal, client, second["refresh_token"])).json(),
            "static": (await client.get("/crm/v3/objects/contacts")).status_code,
        }

    outcome = run(app, scenario)
    assert outcome["revoked"] == 2
    assert outcome["access"] == 401
    assert outcome["refresh"]["status"] == "BAD_REFRESH_TOKEN"
    assert outcome["static"] == 200


def test_revoking_one_refresh_token_leaves_the_other_grants(app: FastAPI) -> None:
    portal: Portal = app.state.portal

    async def scenario(client: httpx.AsyncClient) -> list[int]:
        kept = (await _grant(portal, client)).json()
        gone = (await _grant(portal, client)).json()
        body = {"refresh_token": gone["refresh_token"]}
        assert (await client.post("/__emulator__/revoke-tokens", json=body)).json() == {
            "revoked": 1
        }
        codes = []
        for grant in (kept, gone):
            bearer = {"Authorization": f"Bearer {grant['access_token']}"}
            codes.append((await client.get("/crm/v3/objects/contacts", headers=bearer)).status_code)
            codes.append((await _refresh(portal, client, grant["refresh_token"])).status_code)
        bad = await client.post("/__emulator__/revoke-tokens", json={"refresh_token": 7})
        codes.append(bad.status_code)
        return codes

    assert run(app, scenario) == [200, 200, 401, 400, 400]
