"""Arbitrary JSON bodies never produce a 500: every bad input gets a 4xx HubSpot error body."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubforce.emulators.hubspot.app import create_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings

APP = create_app(HubSpotEmulatorSettings(static_token="fuzz"))
APP.state.portal.set_limits({"enabled": False})
APP.state.portal.create_object("contacts", {"email": "seed@fuzz.example"})

scalars = st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    [
        "properties",
        "inputs",
        "filterGroups",
        "sorts",
        "limit",
        "after",
        "idProperty",
        "associations",
        "primaryObjectId",
        "objectIdToMerge",
        "name",
        "label",
        "type",
        "fieldType",
        "groupName",
        "options",
    ]
)
bodies = st.dictionaries(keys, json_values, max_size=5) | json_values
ROUTES = [
    ("POST", "/crm/v3/objects/contacts"),
    ("PATCH", "/crm/v3/objects/contacts/1001"),
    ("POST", "/crm/v3/objects/contacts/search"),
    ("POST", "/crm/v3/objects/deals/batch/create"),
    ("POST", "/crm/v3/objects/contacts/batch/read"),
    ("POST", "/crm/v3/objects/contacts/batch/update"),
    ("POST", "/crm/v3/objects/contacts/batch/upsert"),
    ("POST", "/crm/v3/objects/contacts/batch/archive"),
    ("POST", "/crm/v3/objects/companies/merge"),
    ("POST", "/crm/v3/properties/contacts"),
    ("POST", "/crm/v4/associations/contacts/companies/batch/create"),
    ("PUT", "/crm/v4/objects/contacts/1001/associations/companies/1001"),
]


def _send(method: str, path: str, body: Any) -> httpx.Response:
    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://hubspot.test") as client:
            return await client.request(
                method, path, json=body, headers={"Authorization": "Bearer fuzz"}
            )

    return asyncio.run(main())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(route=st.sampled_from(ROUTES), body=bodies)
def test_any_json_body_gets_a_hubspot_answer_not_a_500(route: tuple[str, str], body: Any) -> None:
    reply = _send(*route, body)
    assert reply.status_code < 500, reply.text
    if reply.status_code >= 400:
        payload = reply.json()
        assert payload["status"] == "error" and payload["message"]
