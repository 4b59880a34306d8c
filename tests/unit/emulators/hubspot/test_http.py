"""Auth, rate limits, token expiry and search index lag, through the ASGI app in process."""

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


def test_free_tier_burst_window_rolls_on_the_clock(app: FastAPI) -> None:
    portal: Portal = app.state.portal

    async def burst(client: httpx.AsyncClient) -> list[int]:
        codes = [(await client.get("/crm/v3/objects/contacts")).status_code for _ in range(101)]
        portal.clock.advance(9.9)
        codes.append((await client.get("/crm/v3/objects/contacts")).status_code)
        portal.clock.advance(0.2)
        codes.append((await client.get("/crm/v3/objects/contacts")).status_code)
        return codes

    codes = run(app, burst)
    assert codes[:100] == [200] * 100
    assert codes[100:] == [429, 429, 200]


def test_daily_allocation_resets_at_midnight(app: FastAPI) -> None:
    portal: Portal = app.state.portal
    portal.set_limits({"daily": 2})

    async def calls(client: httpx.AsyncClient) -> list[Any]:
        replies = [await client.get("/crm/v3/objects/companies") for _ in range(3)]
        portal.clock.advance(86_400)
        replies.append(await client.get("/crm/v3/objects/companies"))
        return replies

    replies = run(app, calls)
    assert [r.status_code for r in replies] == [200, 200, 429, 200]
    assert replies[1].headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    assert replies[2].json()["policyName"] == "DAILY"


def test_search_limit_is_per_second_and_separate_from_the_burst(app: FastAPI) -> None:
    portal: Portal = app.state.portal
    portal.set_limits({"burst": 1})

    async def calls(client: httpx.AsyncClient) -> list[int]:
        codes = [
            (await client.post("/crm/v3/objects/deals/search", json={})).status_code
            for _ in range(6)
        ]
        codes.append((await client.get("/crm/v3/objects/deals")).status_code)
        portal.clock.advance(1.0)
        codes.append((await client.post("/crm/v3/objects/deals/search", json={})).status_code)
        return codes

    assert run(app, calls) == [200] * 5 + [429, 200, 200]


def test_oauth_token_expires_on_the_emulator_clock(app: FastAPI) -> None:
    portal: Portal = app.state.portal
    code = portal.tokens.create_code("http://localhost/cb", ["crm.objects.contacts.read"])
    form = {
        "grant_type": "authorization_code",
        "client_id": portal.settings.client_id,
        "client_secret": portal.settings.client_secret,
        "redirect_uri": "http://localhost/cb",
        "code": code,
    }

    async def exchange(client: httpx.AsyncClient) -> dict[str, Any]:
        reply = await client.post("/oauth/v1/token", data=form)
        assert reply.status_code == 200
        body: dict[str, Any] = reply.json()
        return body

    issued = run(app, exchange)
    assert issued["expires_in"] == 1800

    async def get(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/crm/v3/objects/contacts")

    ok = run(app, get, token=issued["access_token"])
    assert ok.status_code == 200
    assert "X-HubSpot-RateLimit-Daily" not in ok.headers  # OAuth calls carry no daily headers
    assert ok.headers["X-HubSpot-RateLimit-Max"] == "110"  # the public-app burst
    portal.clock.advance(1799)
    assert run(app, get, token=issued["access_token"]).status_code == 200
    portal.clock.advance(1)
    expired = run(app, get, token=issued["access_token"])
    assert expired.status_code == 401
    assert expired.json()["category"] == "EXPIRED_AUTHENTICATION"
    assert (
        expired.json()["message"]
        == "The OAuth token used to make this call expired 0 second(s) ago."
    )


def test_missing_and_wrong_credentials_are_401(app: FastAPI) -> None:
    async def anonymous(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/crm/v3/objects/contacts", headers={"Authorization": ""})

    missing = run(app, anonymous)
    assert missing.status_code == 401
    assert missing.json()["message"].startswith("Authentication credentials not found.")
    assert missing.headers["x-hubspot-auth-failure"] == "401 Unauthorized"

    async def wrong(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/crm/v3/objects/contacts")

    assert run(app, wrong, token="nope").json()["category"] == "INVALID_AUTHENTICATION"


def test_index_lag_hides_new_records_from_search_only(app: FastAPI) -> None:
    portal: Portal = app.state.portal
    portal.set_limits({"index_lag_ms": 1500})
    record = portal.create_object("contacts", {"email": "lag@x.example"})

    async def search(client: httpx.AsyncClient) -> dict[str, Any]:
        reply = await client.post("/crm/v3/objects/contacts/search", json={"query": "lag@"})
        body: dict[str, Any] = reply.json()
        return body

    assert run(app, search)["total"] == 0
    portal.clock.advance(1.0)
    assert run(app, search)["total"] == 0
    portal.clock.advance(0.6)
    found = run(app, search)
    assert [r["id"] for r in found["results"]] == [str(record.id)]

    async def get(client: httpx.AsyncClient) -> int:
        return (await client.get(f"/crm/v3/objects/contacts/{record.id}")).status_code

    assert run(app, get) == 200


def test_modified_index_fast_path_agrees_with_a_full_scan(app: FastAPI) -> None:
    portal: Portal = app.state.portal
    portal.clock.freeze(False)
    portal.seed({"extra_contacts": 300})
    ids = list(portal.stores["contacts"].records)
    for record_id in ids[::7]:  # move some records to the end of the index
        portal.update_object("contacts", str(record_id), {"lastname": "Moved"})
    since = portal.get_object("contacts", str(ids[150])).updated_ms
    window = {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since)}
    sort = [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]

    async def both(client: httpx.AsyncClient) -> tuple[list[str], list[str]]:
        url = "/crm/v3/objects/contacts/search"
        fast = await client.post(
            url, json={"filterGroups": [{"filters": [window]}], "sorts": sort, "limit": 200}
        )
        slow_filter = {"propertyName": "email", "operator": "HAS_PROPERTY"}
        slow = await client.post(
            url,
            json={
                "filterGroups": [{"filters": [window, slow_filter]}],
                "sorts": sort,
                "limit": 200,
            },
        )
        assert fast.json()["total"] == slow.json()["total"]
        return [r["id"] for r in fast.json()["results"]], [r["id"] for r in slow.json()["results"]]

    fast_ids, slow_ids = run(app, both)
    assert fast_ids == slow_ids
    expected = sorted(
        (r for r in portal.iter_live("contacts") if r.updated_ms >= since),
        key=lambda r: (r.updated_ms, r.id),
    )
    assert fast_ids == [str(r.id) for r in expected][:200]


def test_index_lag_shows_the_previous_version_of_updated_and_archived_records(
    app: FastAPI,
) -> None:
    portal: Portal = app.state.portal
    kept = portal.create_object("contacts", {"email": "k@x.example", "firstname": "Old"})
    gone = portal.create_object("contacts", {"email": "g@x.example", "firstname": "Old"})
    portal.clock.advance(5)
    since = portal.clock.now_ms()
    portal.set_limits({"index_lag_ms": 2000})
    portal.update_object("contacts", str(kept.id), {"firstname": "New"})
    portal.archive_object("contacts", str(gone.id))
    by_name = {
        "filterGroups": [
            {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "old"}]}
        ]
    }
    window = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since)}
                ]
            }
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
    }

    async def both(client: httpx.AsyncClient) -> tuple[list[str], list[str]]:
        url = "/crm/v3/objects/contacts/search"
        old = (await client.post(url, json=by_name)).json()["results"]
        recent = (await client.post(url, json=window)).json()["results"]
        return [r["id"] for r in old], [r["id"] for r in recent]

    assert run(app, both) == ([str(kept.id), str(gone.id)], [])
    portal.clock.advance(2.0)
    assert run(app, both) == ([], [str(kept.id)])


def test_comma_separated_and_repeated_properties_are_the_same(app: FastAPI) -> None:
    portal: Portal = app.state.portal
    record = portal.create_object(
        "contacts", {"email": "c@x.example", "firstname": "C", "city": "Oslo"}
    )
    url = f"/crm/v3/objects/contacts/{record.id}"

    async def both(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        comma = await client.get(url, params={"properties": "firstname,city", "archived": "False"})
        repeated = await client.get(url + "?properties=firstname&properties=city&archived=false")
        return [comma.json()["properties"], repeated.json()["properties"]]

    comma, repeated = run(app, both)
    assert comma == repeated
    assert (comma["firstname"], comma["city"]) == ("C", "Oslo")
    assert "email" not in comma


def test_unknown_crm_paths_and_methods_answer_in_hubspot_format(app: FastAPI) -> None:
    async def calls(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.get("/crm/v3/nothing/here"),
            await client.put("/crm/v3/objects/contacts/search", json={}),
            await client.get("/crm/v3/objects/widgets/1"),
        ]

    missing, wrong_method, unknown_type = run(app, calls)
    assert (missing.status_code, missing.json()["category"]) == (404, "OBJECT_NOT_FOUND")
    assert wrong_method.status_code == 405 and wrong_method.json()["status"] == "error"
    assert unknown_type.status_code == 400
    assert unknown_type.json()["message"] == "Unable to infer object type from: widgets"
    assert missing.json()["correlationId"] == missing.headers["X-HubSpot-Correlation-Id"]


def test_an_unexpected_error_is_a_hubspot_500_without_traceback(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal: Portal = app.state.portal

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(portal, "get_object", broken)

    async def get(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/crm/v3/objects/contacts/1")

    reply = run(app, get)
    assert reply.status_code == 500
    assert reply.json()["category"] == "INTERNAL_ERROR"
    assert "secret" not in reply.text and "Traceback" not in reply.text
