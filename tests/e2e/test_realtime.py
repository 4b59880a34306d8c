"""`hubforce run` end to end: the HubSpot emulator delivers real signed webhooks to the served
app; a form submission becomes a Lead in the Salesforce emulator, owned by the rep its
assignment rule picks; redeliveries create nothing twice; forged requests are refused.

Three servers on loopback ports (BackgroundServer): both emulators and the hubforce app.
Waiting is polling with a deadline on observable state, never a fixed sleep.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from hubforce.config.defaults import DEFAULT_CONFIG_YAML
from hubforce.connectors.governor import hubspot_governor
from hubforce.connectors.http import RetryPolicy
from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.form_models import CONTACT_US_GUID
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.engine.local import EMULATOR_ENV, local_config
from hubforce.engine.runner import hubspot_client, salesforce_client
from hubforce.server.adapters import (
    ClientRecordReader,
    CycleSyncTarget,
    HubSpotFormSource,
    pair_index,
)
from hubforce.server.app import ServerSettings, build_app
from hubforce.server.batching import ChangeBatcher
from hubforce.server.dispatch import Dispatcher
from hubforce.server.scheduler import SalesforcePoller
from hubforce.server.service import workflows_of
from hubforce.server.webhooks import WebhookSettings
from hubforce.store import open_store
from hubforce.store.tables import workflow_runs
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionRunner
from hubforce.workflows.engine import WorkflowEngine
from hubforce.workflows.runs import MemoryLedger
from tests.e2e.conftest import Harness, _no_sleep
from tests.e2e.service_helpers import free_port, in_process_service, salesforce_session, wait_until

SECRET = "e2e-webhook-secret"
HS_SETTINGS = HubSpotEmulatorSettings(tier="enterprise")
V = "/services/data/v62.0"


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
            workflows_of(config).workflows,  # the default config's seed workflow
            reader=ClientRecordReader(hubspot, salesforce),
            runner=ActionRunner(salesforce=salesforce, hubspot=hubspot),
            ledger=ledger,
            forms=HubSpotFormSource(hubspot),
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
            contextlib.closing(salesforce_session(sf_server.url)) as sf,
        ):
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


# -- the assembled service against the engine (emulators in process, one event loop) --------

WORLD = {"people": 20, "companies": 5, "deals": 4}
HOOK_TOKEN = "hook-token-e2e"


def _linked(h: Harness, sobject: str) -> tuple[str, str]:
    for contact in h.hs_all("contacts", "email"):
        link = h.link("contacts", Side.HUBSPOT, contact["id"])
        if link is not None and link.salesforce_type == sobject:
            return contact["id"], link.salesforce_id
    raise AssertionError(f"no contact linked to a {sobject}")


def test_email_changes_reach_the_other_side_through_the_service(harness: Harness) -> None:
    harness.seed(**WORLD)
    harness.sync()
    hs_contact, sf_contact = _linked(harness, "Contact")
    hs_lead, sf_lead = _linked(harness, "Lead")
    harness.hs_patch("contacts", hs_contact, {"email": "moved.hs@example.com"})
    url = "http://hubforce.test/webhooks/hubspot"

    async def read_sf(sobject: str, record_id: str) -> str:
        body = await harness._call(
            Side.SALESFORCE, "GET", f"{V}/sobjects/{sobject}/{record_id}", None
        )
        return str(body["Email"])

    async def read_hs(record_id: str) -> str:
        path = f"/crm/v3/objects/contacts/{record_id}"
        body = await harness._call(Side.HUBSPOT, "GET", path, None, params={"properties": "email"})
        return str(body["properties"]["email"])

    async def go() -> tuple[int, int, int]:
        settings = ServerSettings(WebhookSettings(SECRET, public_url=url), hook_token=HOOK_TOKEN)
        # The lifespan does not run: the test drives the dispatcher and the poll itself.
        async with in_process_service(
            harness,
            settings=settings,
            started=False,
            connect=True,
            policy=RetryPolicy(sleep=_no_sleep),
            governors={Side.HUBSPOT: hubspot_governor(burst=100_000, search_per_second=10_000)},
        ) as service:
            ctx, dispatcher, c = service.ctx, service.dispatcher, service.client
            now = int(time.time() * 1000)
            body = json.dumps(
                [
                    {
                        "eventId": 7,
                        "subscriptionId": 1,
                        "portalId": 62515,
                        "appId": 1,
                        "occurredAt": now,
                        "subscriptionType": "contact.propertyChange",
                        "attemptNumber": 0,
                        "objectId": int(hs_contact),
                        "propertyName": "email",
                        "propertyValue": "moved.hs@example.com",
                    }
                ]
            ).encode()
            webhook = await c.post(url, content=body, headers=_signed(url, body, now))
            await dispatcher.drain()
            # HubSpot -> Salesforce by webhook (the Lead is untouched so far).
            assert await read_sf("Contact", sf_contact) == "moved.hs@example.com"
            assert await read_hs(hs_lead) != "moved.sf@example.com"
            poll_from = int(time.time() * 1000) - 1000
            await harness._call(
                Side.SALESFORCE,
                "PATCH",
                f"{V}/sobjects/Lead/{sf_lead}",
                {"Email": "moved.sf@example.com"},
            )
            poller = SalesforcePoller(
                ctx.salesforce, dispatcher, ["Lead"], now_ms=lambda: poll_from
            )
            polled = await poller.poll()
            await dispatcher.drain()
            # Salesforce -> HubSpot by the poll.
            assert await read_hs(hs_lead) == "moved.sf@example.com"
            # A workflow reading the Lead also gets its linked contact's id.
            reader = ClientRecordReader(
                ctx.hubspot, ctx.salesforce, store=ctx.store, pairs=pair_index(ctx.mappings)
            )
            lead = await reader.read_record(Side.SALESFORCE, "Lead", sf_lead, ["Email"])
            assert lead is not None
            assert (lead["Email"], lead["hubspot_id"]) == ("moved.sf@example.com", hs_lead)
            cycles_before = len(dispatcher_target(dispatcher).reports)
            hook = await c.post(
                "/hooks/sync",
                json={"records": [{"side": "salesforce", "object_type": "Lead", "id": sf_lead}]},
                headers={"Authorization": f"Bearer {HOOK_TOKEN}"},
            )
            await dispatcher.drain()
            assert len(dispatcher_target(dispatcher).reports) == cycles_before + 1
            return webhook.status_code, hook.status_code, polled

    webhook_status, hook_status, polled = harness.run(go())
    assert (webhook_status, hook_status) == (204, 202)
    assert polled >= 1


def dispatcher_target(dispatcher: Dispatcher) -> CycleSyncTarget:
    """The service's targeted-sync adapter (to count the cycles it ran)."""
    assert dispatcher.batcher is not None
    target = dispatcher.batcher.target
    assert isinstance(target, CycleSyncTarget)
    return target


# -- the real command: `hubforce run` in a subprocess, stopped with SIGTERM -------------------


def test_hubforce_run_serves_the_seed_workflow_and_stops_on_sigterm(tmp_path: Path) -> None:
    with (
        BackgroundServer(create_hubspot_app(HS_SETTINGS)) as hs_server,
        BackgroundServer(create_salesforce_app()) as sf_server,
        httpx.Client(base_url=hs_server.url) as hs,
    ):
        store_url = f"sqlite:///{tmp_path / 'state.db'}"
        data = yaml.safe_load(DEFAULT_CONFIG_YAML)
        data["connections"] = {
            "hubspot": {"base_url": hs_server.url, "token": "${HUBSPOT_TOKEN}"},
            "salesforce": {
                "login_url": sf_server.url,
                "instance_url": sf_server.url,
                "api_version": "62.0",
                "password": {
                    "username": "admin@hubforce-emulator.example",
                    "password": "${SALESFORCE_PASSWORD}",
                    "security_token": "${SALESFORCE_SECURITY_TOKEN}",
                    "client_id": "hubforce-emulator-consumer-key",
                    "client_secret": "${SALESFORCE_CLIENT_SECRET}",
                },
            },
            "store": {"url": store_url},
        }
        config_file = tmp_path / "hubforce.yaml"
        data["schedule"]["salesforce_poll_seconds"] = 5  # the minimum: keeps the test short
        config_file.write_text(yaml.safe_dump(data, sort_keys=False))
        port = free_port()
        env = {**os.environ, **EMULATOR_ENV, "HUBFORCE_WEBHOOK_SECRET": SECRET}
        process = subprocess.Popen(
            [sys.executable, "-m", "hubforce", "run", "-c", str(config_file), "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            app_url = f"http://127.0.0.1:{port}"

            def ready() -> bool:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                try:
                    return httpx.get(app_url + "/readyz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(ready, timeout=30, what="hubforce run to be ready")
            webhooks = {
                "targetUrl": app_url + "/webhooks/hubspot",
                "clientSecret": SECRET,
                "flushIntervalMs": 20,
                "subscriptions": [{"subscriptionType": "contact.propertyChange"}],
            }
            hs.headers["Authorization"] = "Bearer emulator-token"
            assert hs.put("/__emulator__/webhooks", json=webhooks).status_code == 200
            path = f"/submissions/v3/integration/submit/{HS_SETTINGS.portal_id}/{CONTACT_US_GUID}"
            fields = {"email": "linus@example.com", "firstname": "Linus"}
            body = {"fields": [{"name": k, "value": v} for k, v in fields.items()]}
            assert hs.post(path, json=body).status_code == 200

            def succeeded() -> bool:
                runs = httpx.get(app_url + "/status/workflows").json()["runs"]
                return [r["status"] for r in runs] == ["succeeded"]

            wait_until(succeeded, what="the workflow run")
            sf = salesforce_session(sf_server.url)

            def leads(email: str) -> list[dict[str, Any]]:
                query = f"SELECT Id, Email FROM Lead WHERE Email = '{email}'"
                found: list[dict[str, Any]] = sf.get(f"{V}/query", params={"q": query}).json()[
                    "records"
                ]
                return found

            (lead,) = leads("linus@example.com")

            def synced_and_idle() -> bool:
                text = httpx.get(app_url + "/metrics").text
                values = dict(
                    line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#")
                )
                ok = float(values['hubforce_targeted_syncs_total{outcome="ok"}'])
                return ok >= 1 and values["hubforce_idle"] == "1.0"

            wait_until(synced_and_idle, what="the targeted sync after the form")
            # The targeted sync that follows links the contact to the workflow's Lead (matched
            # by e-mail) instead of creating a second one; then an e-mail edit in HubSpot
            # reaches the Lead by webhook.
            contact_id = hs.post(
                "/crm/v3/objects/contacts/search",
                json={
                    "filterGroups": [
                        {
                            "filters": [
                                {
                                    "propertyName": "email",
                                    "operator": "EQ",
                                    "value": "linus@example.com",
                                }
                            ]
                        }
                    ]
                },
            ).json()["results"][0]["id"]
            patch = {"properties": {"email": "linus.t@example.com"}}
            assert hs.patch(f"/crm/v3/objects/contacts/{contact_id}", json=patch).status_code == 200
            wait_until(lambda: len(leads("linus.t@example.com")) == 1, what="HubSpot -> Lead")
            assert leads("linus@example.com") == []
            # And an edit of the Lead in Salesforce reaches HubSpot by the SystemModstamp poll.
            edit = {"Email": "linus.sf@example.com"}
            assert sf.patch(f"{V}/sobjects/Lead/{lead['Id']}", json=edit).status_code == 204

            def hubspot_email() -> str:
                path = f"/crm/v3/objects/contacts/{contact_id}"
                reply = hs.get(path, params={"properties": "email"})
                if reply.status_code == 429:  # this test's own polling shares the portal's limit
                    return ""
                return str(reply.json()["properties"]["email"])

            # The poll runs every 5 s: poll HubSpot gently, it shares the service's burst limit.
            wait_until(
                lambda: hubspot_email() == "linus.sf@example.com",
                what="Lead -> HubSpot",
                interval=0.25,
            )
            sf.close()
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=30)[0].decode()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 0, output
    assert "Shutting down" in output and "Traceback" not in output
    with open_store(store_url) as store, store.engine.connect() as conn:
        rows = conn.execute(sa.select(workflow_runs.c.workflow, workflow_runs.c.status)).all()
    assert [tuple(r) for r in rows] == [("form-to-lead", "succeeded")]
