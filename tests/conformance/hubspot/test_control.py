"""HubSpot-specific control routes and the shared ones as this emulator implements them."""

from __future__ import annotations

import httpx
from hubspot import HubSpot

from hubforce.emulators.hubspot.models import Portal


def test_control_merge_acts_like_a_ui_merge(
    hubspot_control: httpx.Client, hubspot_client: HubSpot, portal: Portal
) -> None:
    a = portal.create_object("companies", {"name": "A", "domain": "a.example"}).id
    b = portal.create_object("companies", {"name": "B", "domain": "b.example"}).id
    reply = hubspot_control.post(
        "/__emulator__/merge",
        json={"objectType": "companies", "primaryObjectId": str(a), "objectIdToMerge": str(b)},
    )
    assert reply.status_code == 200
    merged = reply.json()
    assert merged["id"] not in (str(a), str(b))
    again = hubspot_client.crm.companies.basic_api.get_by_id(str(a), properties=["name"])
    assert (again.id, again.properties["name"]) == (merged["id"], "A")


def test_seed_rejects_unknown_parameters(hubspot_control: httpx.Client, hubspot_url: str) -> None:
    reply = hubspot_control.post("/__emulator__/seed", json={"sede": 1})
    assert reply.status_code == 400
    assert "unknown seed parameters" in reply.text


def test_limits_reject_unknown_settings(hubspot_control: httpx.Client, hubspot_url: str) -> None:
    reply = hubspot_control.put("/__emulator__/limits", json={"brust": 1})
    assert reply.status_code == 400
    assert "brust" in reply.text


def test_state_export_and_import_over_http(
    hubspot_control: httpx.Client, hubspot_client: HubSpot, portal: Portal
) -> None:
    portal.seed({"seed": 2, "people": 10, "companies": 4, "deals": 2, "reps": 2})
    state = hubspot_control.get("/__emulator__/state").json()
    assert hubspot_control.post("/__emulator__/reset").status_code == 200
    assert hubspot_client.crm.contacts.basic_api.get_page().results == []
    assert hubspot_control.put("/__emulator__/state", json=state).status_code == 200
    restored = list(hubspot_client.crm.contacts.get_all())
    assert len(restored) == len(state["objects"]["contacts"]["records"])


def test_stats_count_calls_by_route_template(
    hubspot_control: httpx.Client, hubspot_client: HubSpot, portal: Portal
) -> None:
    contact = portal.create_object("contacts", {"email": "s@x.example"}).id
    hubspot_control.post("/__emulator__/stats/reset")
    api = hubspot_client.crm.contacts.basic_api
    api.get_by_id(str(contact))
    api.get_by_id(str(contact))
    stats = hubspot_control.get("/__emulator__/stats").json()
    assert stats["by_route"] == {"GET /crm/v3/objects/{object_type}/{object_id}": 2}
    assert stats["api_calls"] == 2
