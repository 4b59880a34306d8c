"""Form submissions are never missed: the service assembled as `hubforce run` assembles it
(`ServiceApp`, in process) is stopped, a form is submitted while its webhook cannot be
delivered, and the restarted service's start-up catch-up turns it into exactly one assigned
Lead; the webhook HubSpot retries afterwards finds the submission already run.

Both emulators and the service are served on loopback ports; the service keeps the same
port across the restart, as a real deployment keeps its URL. Waiting is polling with a
deadline on observable state.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.form_models import CONTACT_US_GUID
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.engine.local import local_config
from hubforce.server.app import ServerSettings
from hubforce.server.service import ServiceApp
from hubforce.server.webhooks import WebhookSettings
from hubforce.store import open_store
from hubforce.store.tables import workflow_runs
from hubforce.workflows.catchup import CURSOR_SIDE, cursor_name
from tests.e2e.conftest import V
from tests.e2e.service_helpers import free_port, salesforce_session, wait_until

SECRET = "e2e-form-catchup-secret"
HS_SETTINGS = HubSpotEmulatorSettings(tier="enterprise")
SETTINGS = ServerSettings(WebhookSettings(SECRET), hook_token="catchup-token")


def test_a_submission_made_while_the_service_was_down_becomes_one_assigned_lead(
    tmp_path: Path,
) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    port = free_port()
    with (
        BackgroundServer(create_hubspot_app(HS_SETTINGS)) as hs_server,
        BackgroundServer(create_salesforce_app()) as sf_server,
        httpx.Client(
            base_url=hs_server.url, headers={"Authorization": "Bearer emulator-token"}
        ) as hs,
        contextlib.closing(salesforce_session(sf_server.url)) as sf,
    ):
        config = local_config(hs_server.url, sf_server.url, store_url)  # the seed workflows

        def serve() -> BackgroundServer:
            # The Salesforce poll plays no part here: keep it out of the way.
            app = ServiceApp(config, SETTINGS, salesforce_poll_seconds=3600)
            return BackgroundServer(app, port=port).start()

        def submit(email: str, first: str) -> None:
            fields = {"email": email, "firstname": first, "lastname": "Tester", "company": "Acme"}
            body = {"fields": [{"name": k, "value": v} for k, v in fields.items()]}
            path = f"/submissions/v3/integration/submit/{HS_SETTINGS.portal_id}/{CONTACT_US_GUID}"
            assert hs.post(path, json=body).status_code == 200

        def leads(email: str) -> list[dict[str, Any]]:
            query = f"SELECT Id, OwnerId, LeadSource FROM Lead WHERE Email = '{email}'"
            reply = sf.get(f"{V}/query", params={"q": query})
            assert reply.status_code == 200, reply.text
            found: list[dict[str, Any]] = reply.json()["records"]
            return found

        def webhook_stats() -> dict[str, Any]:
            stats: dict[str, Any] = hs.get("/__emulator__/webhooks").json()["stats"]
            return stats

        def idle() -> bool:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            return "hubforce_idle 1.0" in text.splitlines()

        hooks = {
            "targetUrl": f"http://127.0.0.1:{port}/webhooks/hubspot",
            "clientSecret": SECRET,
            "flushIntervalMs": 20,
            "signatureVersions": ["v3"],
            "subscriptions": [
                {
                    "subscriptionType": "contact.propertyChange",
                    "propertyName": "recent_conversion_date",
                }
            ],
        }
        assert hs.put("/__emulator__/webhooks", json=hooks).status_code == 200

        # 1. Running: a submission arrives by webhook; the start-up catch-up set the cursor.
        server = serve()
        try:
            submit("ada@example.com", "Ada")
            wait_until(lambda: len(leads("ada@example.com")) == 1, what="Ada's Lead by webhook")
            wait_until(idle, what="the service to go idle")
        finally:
            server.stop()
        with open_store(store_url) as store:
            assert store.cursors.get(cursor_name(CONTACT_US_GUID), CURSOR_SIDE) is not None

        # 2. Down: the next submission's webhook cannot be delivered (HubSpot retries later).
        submit("grace@example.com", "Grace")
        wait_until(lambda: webhook_stats()["failures"] >= 1, what="the failed delivery")
        assert webhook_stats()["pending"] >= 1 and leads("grace@example.com") == []

        # 3. Restarted: the start-up catch-up runs Grace's submission (Ada's is in its overlap,
        # already run); then HubSpot's retry of Grace's webhook arrives and runs nothing.
        server = serve()
        try:
            wait_until(lambda: len(leads("grace@example.com")) == 1, what="Grace's Lead")
            delivered = webhook_stats()["successes"]
            flushed = hs.post("/__emulator__/webhooks/flush", params={"all": "true"})
            assert flushed.status_code == 200
            wait_until(lambda: webhook_stats()["successes"] > delivered, what="the retry")
            wait_until(idle, what="the service to go idle")
            assert webhook_stats()["pending"] == 0
        finally:
            server.stop()

        users = {
            u["Id"]
            for u in sf.get(f"{V}/query", params={"q": "SELECT Id FROM User"}).json()["records"]
        }
        for email in ("ada@example.com", "grace@example.com"):
            (lead,) = leads(email)
            assert lead["LeadSource"] == "Web"  # made by the workflow, not by the sync
            assert lead["OwnerId"] in users  # given by the assignment rule

    with open_store(store_url) as store, store.engine.connect() as conn:
        rows = conn.execute(sa.select(workflow_runs.c.status, workflow_runs.c.detail)).all()
    kinds = sorted((status, detail["trigger"]["kind"]) for status, detail in rows)
    assert kinds == [("succeeded", "catch-up"), ("succeeded", "propertyChange")]
