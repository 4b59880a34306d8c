"""`hubforce run`: a workflow run refused during an outage is run again once the side works,
without any new webhook, and exactly once.

Both emulators in process, the service built as `hubforce run` builds it, with a Salesforce
password an admin has rotated. A signed `contact.creation` webhook fires a "new HubSpot
contact -> Salesforce Lead" workflow: its action is refused (Salesforce stopped at once), so
the run waits, holding its key; the scheduled retry passes leave it alone while Salesforce is
known to be refused. Once the new password is in the configuration file the poll renews the
side, the recovery wakes the retrier, and the run re-reads the contact and creates the Lead.
The same webhook redelivered meanwhile (HubSpot's own retry: same change, new attempt) and
again while the retry is creating the Lead creates nothing twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from hubforce.config import HubforceConfig
from hubforce.engine.local import local_config
from hubforce.server.app import ServerSettings
from hubforce.server.webhooks import WebhookSettings
from hubforce.sync.model import Side
from tests.e2e.conftest import HS_URL, SF_URL, Harness, until
from tests.e2e.service_helpers import in_process_service, query, rotated_config, runs_of

SECRET = "whsec-retry"
HOOK_URL = "http://run/webhooks/hubspot"
EMAIL = "outage.lead@example.com"
LEAD_WORKFLOW = {
    "name": "new-contact-lead",
    "trigger": {"type": "hubspot.record_created", "object_type": "contacts"},
    "condition": "email is not empty",
    "actions": [
        {
            "type": "salesforce.create",
            "sobject": "Lead",
            # LeadSource is not mapped by the sync: it tells the workflow's Lead apart.
            "values": {
                "LastName": "{lastname}",
                "Company": "{company}",
                "Email": "{email}",
                "LeadSource": "Web",
            },
        }
    ],
}


def _signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time() * 1000))
    message = b"POST" + HOOK_URL.encode() + body + timestamp.encode()
    digest = hmac.new(SECRET.encode(), message, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": timestamp,
    }


def _creation(contact_id: str, occurred_at: int, attempt: int) -> bytes:
    event = {
        "eventId": 7001,
        "subscriptionId": 1,
        "portalId": 62515,
        "appId": 1,
        "occurredAt": occurred_at,
        "subscriptionType": "contact.creation",
        "attemptNumber": attempt,
        "objectId": int(contact_id),
        "changeSource": "CRM_UI",
    }
    return json.dumps([{**event, "eventId": 7001 + attempt}]).encode()


def _runs(harness: Harness) -> list[dict[str, Any]]:
    return runs_of(harness, "new-contact-lead")


def test_a_run_refused_during_an_outage_creates_its_lead_once_after_the_fix(
    harness: Harness,
) -> None:
    harness.seed(seed=12, people=3, companies=1, deals=1)
    harness.sync()
    created = harness.call(
        Side.HUBSPOT,
        "POST",
        "/crm/v3/objects/contacts",
        {"properties": {"email": EMAIL, "lastname": "Later", "company": "Outage Inc"}},
    )
    contact_id, occurred_at = str(created["id"]), int(time.time() * 1000)

    def edit(data: dict[str, Any]) -> None:
        data["workflows"] = [LEAD_WORKFLOW]

    rotated = rotated_config(harness, edit)
    fixed = local_config(HS_URL, SF_URL, harness.store_url, edit=edit)
    in_file: list[HubforceConfig] = [rotated]

    async def leads() -> list[dict[str, Any]]:
        return await query(harness, f"SELECT Id, LeadSource FROM Lead WHERE Email = '{EMAIL}'")

    async def scenario() -> None:
        async with in_process_service(
            harness,
            rotated,
            settings=ServerSettings(WebhookSettings(SECRET)),
            poll_seconds=0.05,
            reload=lambda: in_file[0],
            retry_every=0.05,
        ) as service:
            keeper, client = service.keeper, service.client

            async def deliver(attempt: int) -> None:
                body = _creation(contact_id, occurred_at, attempt)
                answer = await client.post("/webhooks/hubspot", content=body, headers=_signed(body))
                assert answer.status_code == 204, answer.text

            await deliver(0)
            await until(
                "the run waiting", lambda: [r["status"] for r in _runs(harness)] == ["waiting"]
            )
            assert Side.SALESFORCE in keeper.failed
            metrics = (await client.get("/metrics")).text
            assert 'hubforce_workflow_runs{state="waiting"} 1.0' in metrics
            # HubSpot's own retry of the webhook: the key is held, nothing runs.
            await deliver(1)
            await until("the redelivery handled", lambda: service.dispatcher.idle)
            # Scheduled retry passes run every 0.05 s meanwhile; Salesforce is known
            # refused, so they leave the run alone and spend no attempt on it.
            retrier = keeper.listeners[-1].__self__  # type: ignore[attr-defined]
            seen = retrier.passes
            await until("three scheduled passes", lambda: retrier.passes >= seen + 3)
            assert retrier.last.blocked == 1 and retrier.last.retried == 0
            assert _runs(harness)[0]["attempts"] == 1 and await leads() == []

            # Slow Salesforce writes keep the retry's create in flight long enough for a
            # redelivery to arrive during it.
            slow = {"route": "/services/data/*/composite/sobjects", "latency_ms": 300}
            await harness._call(Side.SALESFORCE, "POST", "/__emulator__/faults", {"rules": [slow]})
            in_file[0] = fixed  # the new password, written into the configuration file
            await until(
                "the retry under way",
                lambda: [r["status"] for r in _runs(harness)] != ["waiting"],
            )
            await deliver(2)  # during the retry (it holds the key: `running`)
            await until(
                "the retry done",
                lambda: [r["status"] for r in _runs(harness)] == ["succeeded"],
            )
            await until("idle", lambda: service.dispatcher.idle)
            await harness._call(Side.SALESFORCE, "DELETE", "/__emulator__/faults", None)
        (run,) = _runs(harness)
        assert run["attempts"] == 2  # the refused one and the retry: none while refused
        assert keeper.failed == {} and keeper.renewals == 1

    harness.run(scenario())
    (lead,) = harness.run(leads())  # exactly once: no second Lead by the redeliveries or the sync
    assert lead["LeadSource"] == "Web"
    (run,) = _runs(harness)
    (action,) = run["detail"]["actions"]
    # Run once after the fix: a second run (a redelivery taking the key) would have recorded
    # one attempt, or found the Lead and recorded it as matched.
    assert action["ok"] and action["detail"] == {"id": lead["Id"], "created": True}
    assert run["detail"]["trigger"]["object_id"] == contact_id
    assert run["detail"]["trigger"]["kind"] == "creation"
    link = harness.link("contacts", Side.HUBSPOT, contact_id)
    assert link is not None and link.salesforce_id == lead["Id"]  # the sync linked that Lead
