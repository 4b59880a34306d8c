"""Hot routes answer exactly as the full FastAPI app does: same status, headers and body."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from hubforce.emulators.salesforce.app import SalesforceEmulatorSettings, create_app
from hubforce.emulators.salesforce.dispatch import HotRoutes
from hubforce.emulators.salesforce.guard import SalesforceGuard

V = "/services/data/v59.0"


def hot_routes_of(app: Any) -> HotRoutes:
    """The dispatcher inside the built middleware stack (built by the first request)."""
    layer = app.middleware_stack
    while not isinstance(layer, SalesforceGuard):
        layer = layer.app
    assert isinstance(layer.api_app, HotRoutes)
    return layer.api_app


def wire(reply: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    # The usage header counts calls, so it differs between two calls by design.
    headers = [(k, v) for k, v in reply.headers.multi_items() if k != "sforce-limit-info"]
    return reply.status_code, headers, reply.content


def test_hot_routes_match_the_full_app_byte_for_byte() -> None:
    async def main() -> None:
        app = create_app(SalesforceEmulatorSettings(seed=3))
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer emulator-token"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://sf", headers=headers
        ) as c:
            assert (await c.get(f"{V}/limits")).status_code == 200  # builds the stack
            hot = hot_routes_of(app)
            routes = hot.hot
            a, b, d1, d2 = list(app.state.backend.records["Lead"])[:4]

            async def both(method: str, fast_path: str, slow_path: str, **kw: Any) -> None:
                fast = await c.request(method, fast_path, **kw)
                hot.hot = []  # everything falls through to FastAPI
                try:
                    slow = await c.request(method, slow_path, **kw)
                finally:
                    hot.hot = routes
                assert wire(fast) == wire(slow), (method, fast_path)
                assert "sforce-limit-info" in fast.headers

            one = f"{V}/sobjects/Lead"
            await both("GET", f"{one}/{a}", f"{one}/{a}")
            await both(
                "GET", f"{one}/{a}/?fields=Email,LastName", f"{one}/{a}?fields=Email,LastName"
            )
            await both("GET", f"{one}/{a}?fields=Nope", f"{one}/{a}?fields=Nope")
            await both("GET", f"{one}/001bad", f"{one}/001bad")
            await both("GET", f"{V}/sobjects/Nope/{a}", f"{V}/sobjects/Nope/{a}")
            await both("GET", f"{one}/describe", f"{one}/describe")
            await both("HEAD", f"{one}/{a}", f"{one}/{a}")
            await both("PUT", f"{one}/{a}", f"{one}/{a}", json={})
            await both("PATCH", f"{one}/{a}", f"{one}/{b}", json={"Title": "CTO"})
            await both("PATCH", f"{one}/{a}", f"{one}/{b}", json={"Nope": 1})
            await both("PATCH", f"{one}/{a}", f"{one}/{b}", content=b"{not json")
            await both("DELETE", f"{one}/{d1}", f"{one}/{d2}")
            await both("DELETE", f"{one}/{d1}", f"{one}/{d2}")  # ENTITY_IS_DELETED
            await both("POST", one, one, json={"Company": "C"})  # required field missing
            soql = {"q": f"SELECT Id, Title FROM Lead WHERE Id IN ('{a}', '{b}') ORDER BY Id"}
            await both("GET", f"{V}/query", f"{V}/query", params=soql)
            await both("GET", f"{V}/queryAll/", f"{V}/queryAll", params=soql)
            await both("GET", f"{V}/query", f"{V}/query", params={"q": "SELECT FROM"})
            await both("GET", f"{V}/query/01gbad-2000", f"{V}/query/01gbad-2000")
            ids = {"ids": f"{a},{b}", "fields": "Id,Title"}
            await both(
                "GET", f"{V}/composite/sobjects/Lead", f"{V}/composite/sobjects/Lead", params=ids
            )
            await both(
                "DELETE", f"{V}/composite/sobjects", f"{V}/composite/sobjects", params={"ids": d1}
            )

            created = await c.post(one, json={"LastName": "N", "Company": "C"})
            assert created.status_code == 201 and created.json()["success"] is True
            stats = (await c.get("/__emulator__/stats")).json()["by_route"]
            assert stats[f"GET {V[:15]}v{{version}}/sobjects/{{sobject}}/{{record_id}}"] == 10
            assert stats[f"POST {V[:15]}v{{version}}/sobjects/{{sobject}}"] == 3

    asyncio.run(main())
