"""`hubforce run` end to end: the HubSpot emulator delivers real signed webhooks to the served
app; a form submission becomes a Lead in the Salesforce emulator, owned by the rep its
assignment rule picks; redeliveries create nothing twice; forged requests are refused.

Three servers on loopback ports (BackgroundServer): both emulators and the hubforce app.
Waiting is polling with a deadline on observable state, never a fixed sleep.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.form_models import CONTACT_US_GUID
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.engine.local import local_config
from hubforce.engine.runner import hubspot_client, salesforce_client
from hubforce.server.adapters import ClientRecordReader
from hubforce.server.app import ServerSettings, build_app
from hubforce.server.batching import ChangeBatcher
from hubforce.server.dispatch import Dispatcher
from hubforce.server.webhooks import WebhookSettings
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionRunner
from hubforce.workflows.engine import WorkflowEngine
from hubforce.workflows.model import WorkflowsConfig
from hubforce.workflows.runs import MemoryLedger

SECRET = "e2e-webhook-secret"
HS_SETTINGS = HubSpotEmulatorSettings(tier="enterprise")
V = "/services/data/v62.0"
WORKFLOWS = {
    "workflows": [
        {
            "name": "form-to-lead",
            "trigger": {
                "type": "hubspot.form_submitted",
                "form": CONTACT_US_GUID,
                "form_name": "Contact us",
            },
            "condition": 'email is not empty and lifecyclestage != "customer"',
            "actions": [
                {
                    "type": "salesforce.create",
                    "sobject": "Lead",
                    "values": {
                        "FirstName": "{firstname}",
                        "LastName": "{lastname}",
                        "Company": "{company}",
                        "Email": "{email}",
                        "LeadSource": "Web",
                    },
                    "assignment": True,
                }
            ],
        }
    ]
}


class RecordingTarget:
    """Targeted syncs requested by the server (the engine's cycle is covered elsewhere)."""

    def __init__(self) -> None:
        self.ids: list[tuple[str, Side, str]] = []

    async def sync_records(self, pair: str, side: Side, ids: Sequence[str]) -> None:
        self.ids += [(pair, side, i) for i in ids]


@dataclass
class Stack:
    hs: httpx.Client
    sf: httpx.Client
    app_url: str
    ledger: MemoryLedger
    target: RecordingTarget
    dispatcher: Dispatcher

    def soql(self, statement: str) -> list[dict[str, Any]]:
        response = self.sf.get(f"{V}/query", params={"q": statement})
        assert response.status_code == 200, response.text
        records: list[dict[str, Any]] = response.json()["records"]
        return records

    def submit(self, email: str, first: str, last: str, company: str) -> None:
        fields = {"email": email, "firstname": first, "lastname": last, "company": company}
        body = {
            "fields": [{"objectTypeId": "0-1", "name": k, "value": v} for k, v in fields.items()],
            "context": {"pageName": "Landing"},
        }
        path = f"/submissions/v3/integration/submit/{HS_SETTINGS.portal_id}/{CONTACT_US_GUID}"
        response = self.hs.post(path, json=body)
        assert response.status_code == 200, response.text

    def deliveries(self) -> dict[str, Any]:
        snapshot: dict[str, Any] = self.hs.get("/__emulator__/webhooks").json()
        return snapshot


def wait_until(check: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll `check` until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def stack(tmp_path: Any) -> Iterator[Stack]:
    with (
        BackgroundServer(create_hubspot_app(HS_SETTINGS)) as hs_server,
        BackgroundServer(create_salesforce_app()) as sf_server,
    ):
        config = local_config(hs_server.url, sf_server.url, f"sqlite:///{tmp_path}/s.db")
        hubspot, salesforce = hubspot_client(config), salesforce_client(config)
        ledger, target = MemoryLedger(), RecordingTarget()
        workflows = WorkflowEngine(
            WorkflowsConfig.model_validate(WORKFLOWS).workflows,
            reader=ClientRecordReader(hubspot, salesforce),
            runner=ActionRunner(salesforce=salesforce, hubspot=hubspot),
            ledger=ledger,
        )
        dispatcher = Dispatcher(
            batcher=ChangeBatcher(target, window_s=0.05),
            workflows=workflows,
            pairs={(Side.HUBSPOT, "contacts"): "contacts"},
        )
        settings = ServerSettings(WebhookSettings(SECRET), hook_token="t")
        app = build_app(
            settings,
            dispatcher,
            ledger=ledger,
            cleanup=[hubspot.aclose, salesforce.aclose],
        )
        with (
            BackgroundServer(app) as app_server,
            httpx.Client(base_url=hs_server.url, headers={"Authorization": "Bearer t"}) as hs,
            httpx.Client(base_url=sf_server.url) as sf,
        ):
            token = sf.post(
                "/services/oauth2/token",
                data={
                    "grant_type": "password",
                    "client_id": "hubforce-emulator-consumer-key",
                    "client_secret": "hubforce-emulator-consumer-secret",
                    "username": "admin@hubforce-emulator.example",
                    "password": "emulator-password" + "EMULATORSECURITYTOKEN",
                },
            ).json()["access_token"]
            sf.headers["Authorization"] = f"Bearer {token}"
            webhooks = {
                "targetUrl": app_server.url + "/webhooks/hubspot",
                "clientSecret": SECRET,
                "flushIntervalMs": 20,
                "signatureVersions": ["v3"],
                "subscriptions": [
                    {"subscriptionType": "contact.creation"},
                    {"subscriptionType": "contact.propertyChange"},
                ],
            }
            assert hs.put("/__emulator__/webhooks", json=webhooks).status_code == 200
            yield Stack(hs, sf, app_server.url, ledger, target, dispatcher)


def test_form_submission_becomes_an_assigned_lead_once(stack: Stack) -> None:
    stack.submit("ada@example.com", "Ada", "Lovelace", "Analytical Engines")
    wait_until(
        lambda: len(stack.soql("SELECT Id FROM Lead WHERE Email = 'ada@example.com'")) == 1,
        what="the Lead",
    )
    (lead,) = stack.soql(
        "SELECT Id, FirstName, LastName, Company, LeadSource, OwnerId FROM Lead "
        "WHERE Email = 'ada@example.com'"
    )
    assert (lead["FirstName"], lead["LastName"], lead["Company"], lead["LeadSource"]) == (
        "Ada",
        "Lovelace",
        "Analytical Engines",
        "Web",
    )
    users = {u["Id"] for u in stack.soql("SELECT Id FROM User")}
    assert lead["OwnerId"] in users  # set by the emulator's assignment rule (round robin)

    runs = httpx.get(stack.app_url + "/status/workflows").json()["runs"]
    assert [(r["workflow"], r["status"]) for r in runs] == [("form-to-lead", "succeeded")]
    assert runs[0]["actions"][0]["detail"]["id"] == lead["Id"]
    # The contact's other changes were queued for a targeted sync of just that contact.
    wait_until(lambda: bool(stack.target.ids), what="a targeted sync")
    assert {record_id for _, _, record_id in stack.target.ids} == {
        str(runs[0]["trigger"]["object_id"])
    }


def test_redelivered_webhooks_create_nothing_twice(stack: Stack) -> None:
    # At-least-once delivery: every event is sent again in a later batch.
    settings = stack.deliveries()["settings"]
    settings.update({"duplicateRate": 1.0, "clientSecret": SECRET})
    assert stack.hs.put("/__emulator__/webhooks", json=settings).status_code == 200
    stack.submit("grace@example.com", "Grace", "Hopper", "Navy")
    wait_until(lambda: stack.deliveries()["stats"]["duplicates_sent"] > 0, what="duplicates")
    assert stack.hs.post("/__emulator__/webhooks/flush", params={"all": "true"}).status_code == 200
    wait_until(lambda: stack.dispatcher.idle, what="the server to go idle")
    leads = stack.soql("SELECT Id FROM Lead WHERE Email = 'grace@example.com'")
    assert len(leads) == 1
    assert stack.dispatcher.deduper.duplicates >= stack.deliveries()["stats"]["duplicates_sent"]
    runs = httpx.get(stack.app_url + "/status/workflows").json()["runs"]
    assert [r["status"] for r in runs] == ["succeeded"]


def test_forged_and_malformed_requests_are_refused_by_the_running_app(stack: Stack) -> None:
    url = stack.app_url + "/webhooks/hubspot"
    body = (
        b'[{"eventId":1,"subscriptionId":1,"portalId":1,"occurredAt":1,'
        b'"subscriptionType":"contact.creation","objectId":1}]'
    )
    forged = {
        "X-HubSpot-Signature-v3": "Zm9yZ2Vk",
        "X-HubSpot-Request-Timestamp": str(int(time.time() * 1000)),
    }
    assert httpx.post(url, content=body, headers=forged).status_code == 401
    assert httpx.post(url, content=body).status_code == 401
    now = int(time.time() * 1000)
    stale = _signed(url, body, now - 6 * 60 * 1000)
    assert httpx.post(url, content=body, headers=stale).status_code == 401
    fresh = _signed(url, body, now)
    assert httpx.post(url, content=body, headers=fresh).status_code == 204
    assert httpx.post(url, content=body, headers=fresh).status_code == 401  # replay
    assert httpx.post(url, content=b"[{", headers=_signed(url, b"[{", now)).status_code == 400
    assert httpx.get(stack.app_url + "/readyz").status_code == 200


def _signed(url: str, body: bytes, timestamp: int) -> dict[str, str]:
    message = b"POST" + url.encode() + body + str(timestamp).encode()
    digest = hmac.new(SECRET.encode(), message, hashlib.sha256).digest()
    return {
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": str(timestamp),
    }
