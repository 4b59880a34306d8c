"""End to end inside the emulator: a form submission on the served app reaches a live webhook
receiver as signed contact.creation / contact.propertyChange events with changeSource FORM."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app
from hubforce.emulators.hubspot.form_models import CONTACT_US_GUID
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from tests.unit.emulators.hubspot.test_webhooks import Receiver, wait_until

SETTINGS = HubSpotEmulatorSettings()


@pytest.fixture
def served() -> Iterator[tuple[httpx.Client, Receiver, str]]:
    receiver = Receiver()
    with (
        BackgroundServer(receiver.app) as rx,
        BackgroundServer(create_app(SETTINGS)) as em,
        httpx.Client(base_url=em.url) as client,
    ):
        yield client, receiver, rx.url + "/hook"


def test_form_submission_is_delivered_as_form_sourced_webhooks(
    served: tuple[httpx.Client, Receiver, str],
) -> None:
    client, receiver, hook = served
    settings = {
        "targetUrl": hook,
        "flushIntervalMs": 20,
        "subscriptions": [
            {"subscriptionType": "contact.creation"},
            {"subscriptionType": "contact.propertyChange", "propertyName": "email"},
            {"subscriptionType": "contact.propertyChange", "propertyName": "firstname"},
        ],
    }
    assert client.put("/__emulator__/webhooks", json=settings).status_code == 200
    body = {
        "fields": [
            {"objectTypeId": "0-1", "name": "email", "value": "ada@example.com"},
            {"objectTypeId": "0-1", "name": "firstname", "value": "Ada"},
        ]
    }
    path = f"/submissions/v3/integration/submit/{SETTINGS.portal_id}/{CONTACT_US_GUID}"
    assert client.post(path, json=body).status_code == 200
    [submission] = client.get(f"/__emulator__/forms/{CONTACT_US_GUID}/submissions").json()[
        "results"
    ]
    contact_id = int(submission["contactId"])

    wait_until(lambda: len(receiver.events()) == 3)
    events = sorted(receiver.events(), key=lambda e: e["subscriptionId"])
    assert [(e["subscriptionType"], e.get("propertyName")) for e in events] == [
        ("contact.creation", None),
        ("contact.propertyChange", "email"),
        ("contact.propertyChange", "firstname"),
    ]
    for event in events:
        assert event["objectId"] == contact_id
        assert event["changeSource"] == "FORM"
        assert (event["portalId"], event["appId"]) == (SETTINGS.portal_id, SETTINGS.app_id)
    assert [e.get("propertyValue") for e in events[1:]] == ["ada@example.com", "Ada"]
    # Signed with the emulated OAuth app's client secret by default.
    for request in receiver.snapshot():
        expected = hashlib.sha256(SETTINGS.client_secret.encode() + request.body).hexdigest()
        assert request.headers["x-hubspot-signature"] == expected


def test_crm_api_changes_reach_the_receiver_too(
    served: tuple[httpx.Client, Receiver, str],
) -> None:
    client, receiver, hook = served
    settings = {
        "targetUrl": hook,
        "subscriptions": [
            {"subscriptionType": "contact.creation"},
            {"subscriptionType": "contact.deletion"},
        ],
    }
    client.put("/__emulator__/webhooks", json=settings)
    auth = {"Authorization": f"Bearer {SETTINGS.static_token}"}
    created = client.post(
        "/crm/v3/objects/contacts", json={"properties": {"email": "b@example.com"}}, headers=auth
    )
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]
    assert client.delete(f"/crm/v3/objects/contacts/{contact_id}", headers=auth).status_code == 204
    client.post("/__emulator__/webhooks/flush")
    got = sorted((e["subscriptionType"], e["changeSource"]) for e in receiver.events())
    assert got == [("contact.creation", "API"), ("contact.deletion", "API")]
    assert {e["objectId"] for e in receiver.events()} == {int(contact_id)}


def test_merge_and_association_events_carry_their_fields(
    served: tuple[httpx.Client, Receiver, str],
) -> None:
    client, receiver, hook = served
    settings = {
        "targetUrl": hook,
        "subscriptions": [
            {"subscriptionType": "contact.merge"},
            {"subscriptionType": "contact.associationChange"},
        ],
    }
    client.put("/__emulator__/webhooks", json=settings)
    auth = {"Authorization": f"Bearer {SETTINGS.static_token}"}

    def create(kind: str, properties: dict[str, str]) -> str:
        response = client.post(
            f"/crm/v3/objects/{kind}", json={"properties": properties}, headers=auth
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    first = create("contacts", {"email": "m1@example.com"})
    second = create("contacts", {"email": "m2@example.com"})
    company = create("companies", {"name": "Acme"})
    linked = client.put(
        f"/crm/v4/objects/contacts/{first}/associations/default/companies/{company}",
        headers=auth,
    )
    assert linked.status_code == 200, linked.text
    merged = client.post(
        "/crm/v3/objects/contacts/merge",
        json={"primaryObjectId": first, "objectIdToMerge": second},
        headers=auth,
    )
    assert merged.status_code == 200, merged.text
    client.post("/__emulator__/webhooks/flush")
    in_order = sorted(receiver.events(), key=lambda e: e["eventId"])
    events = {e["subscriptionType"]: e for e in reversed(in_order)}  # the first of each type
    association = events["contact.associationChange"]
    assert association["associationType"] == "CONTACT_TO_COMPANY"
    assert (association["fromObjectId"], association["toObjectId"]) == (int(first), int(company))
    assert association["associationRemoved"] is False
    merge = events["contact.merge"]
    assert merge["primaryObjectId"] == int(first)
    assert merge["mergedObjectIds"] == [int(second)]
    assert merge["newObjectId"] == int(merged.json()["id"])
    assert merge["changeFlag"] == "MERGED"
