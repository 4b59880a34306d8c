"""`POST /__emulator__/revoke-tokens`: an admin revokes the connected app's OAuth grants."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from hubforce.emulators.salesforce.app import SalesforceEmulatorSettings, create_app
from hubforce.emulators.salesforce.config import Credentials

V = "/services/data/v59.0"
CREDS = Credentials()
REDIRECT = "http://localhost:9999/callback"


async def _connect(client: httpx.AsyncClient) -> dict[str, Any]:
    page = await client.get(
        "/services/oauth2/authorize",
        params={"response_type": "code", "client_id": CREDS.consumer_key, "redirect_uri": REDIRECT},
    )
    code = httpx.URL(page.headers["location"]).params["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": CREDS.consumer_key,
        "client_secret": CREDS.consumer_secret,
        "redirect_uri": REDIRECT,
    }
    body: dict[str, Any] = (await client.post("/services/oauth2/token", data=form)).json()
    return body


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": CREDS.consumer_key}
    return await client.post("/services/oauth2/token", data=form)


async def _query(client: httpx.AsyncClient, access: str) -> int:
    reply = await client.get(
        f"{V}/query",
        params={"q": "SELECT Id FROM Account"},
        headers={"Authorization": f"Bearer {access}"},
    )
    return reply.status_code


def _run(scenario: Any) -> Any:
    async def main() -> Any:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="https://sf.local") as client:
            return await scenario(client)

    return asyncio.run(main())


def test_revoking_one_refresh_token_ends_its_sessions_only() -> None:
    async def scenario(client: httpx.AsyncClient) -> list[Any]:
        kept, gone = await _connect(client), await _connect(client)
        refreshed = (await _refresh(client, gone["refresh_token"])).json()["access_token"]
        body = {"refresh_token": gone["refresh_token"]}
        revoked = (await client.post("/__emulator__/revoke-tokens", json=body)).json()
        refused = await _refresh(client, gone["refresh_token"])
        return [
            revoked["revoked"],
            await _query(client, gone["access_token"]),
            await _query(client, refreshed),
            refused.status_code,
            refused.json()["error"],
            await _query(client, kept["access_token"]),
            (await _refresh(client, kept["refresh_token"])).status_code,
        ]

    assert _run(scenario) == [1, 401, 401, 400, "invalid_grant", 200, 200]


def test_revoking_everything_keeps_only_the_static_token() -> None:
    async def scenario(client: httpx.AsyncClient) -> list[Any]:
        grant = await _connect(client)
        revoked = (await client.post("/__emulator__/revoke-tokens", json={})).json()
        again = (await client.post("/__emulator__/revoke-tokens", json={})).json()
        unknown = await client.post("/__emulator__/revoke-tokens", json={"refresh_token": "nope"})
        return [
            revoked["revoked"],
            again["revoked"],
            unknown.json()["revoked"],
            await _query(client, grant["access_token"]),
            (await _refresh(client, grant["refresh_token"])).status_code,
            await _query(client, SalesforceEmulatorSettings().static_token),
        ]

    assert _run(scenario) == [1, 0, 0, 401, 400, 200]
