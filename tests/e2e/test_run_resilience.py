"""`hubforce run`: a targeted sync refused by a side marks it stopped at once and loses nothing.

The service runs against both emulators in process with a Salesforce password an admin has
rotated. A HubSpot contact edited meanwhile is pushed through `POST /hooks/sync`: its targeted
sync is refused by Salesforce, which marks Salesforce stopped right away (alerted once,
`/readyz` degraded with the command to run), before any poll; the record's id is parked.
Once the new password is in the configuration file, the side is renewed and the parked
change reaches Salesforce, with no restart and no reconcile. A workflow action refused the same
way marks the side stopped by itself, before the record's targeted sync runs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from hubforce.alerts.digest import AlertKind
from hubforce.config import HubforceConfig
from hubforce.server.app import ServerSettings
from hubforce.server.events import ChangeEvent
from hubforce.server.webhooks import WebhookSettings
from hubforce.sync.model import Side
from tests.e2e.conftest import Harness, Recorder, until
from tests.e2e.service_helpers import in_process_service, query, rotated_config

HOOK_TOKEN = "hook-token-for-tests"


def _edit_linked_contacts(harness: Harness, *titles: str) -> list[tuple[str, str, str]]:
    """Give linked HubSpot contacts these job titles; returns each one's id and its twin's
    type and id."""
    edited: list[tuple[str, str, str]] = []
    for contact in sorted(harness.hs_all("contacts", "email"), key=lambda c: c["id"]):
        link = harness.link("contacts", Side.HUBSPOT, contact["id"])
        if link is not None and len(edited) < len(titles):
            harness.hs_patch("contacts", contact["id"], {"jobtitle": titles[len(edited)]})
            edited.append((contact["id"], link.salesforce_type, link.salesforce_id))
    assert len(edited) == len(titles), "not enough linked contacts"
    return edited


@pytest.mark.parametrize("renewed_by", ["the next change", "the poll"])
def test_a_change_refused_by_a_side_is_synced_once_the_side_is_renewed(
    harness: Harness, renewed_by: str
) -> None:
    harness.seed(seed=9, people=4, companies=2, deals=1)
    harness.sync()
    (first_id, sf_type, sf_id), (second_id, _, _) = _edit_linked_contacts(
        harness, "Refused meanwhile", "Arrived later"
    )
    rotated = rotated_config(harness)
    in_file: list[HubforceConfig] = [rotated]
    recorder = Recorder()
    # The poll is the production path to renewal; with "the next change" it never runs, so
    # the first refusal can only have come from the targeted sync.
    poll_s = 0.05 if renewed_by == "the poll" else 3600.0

    async def title() -> Any:
        (record,) = await query(harness, f"SELECT Title FROM {sf_type} WHERE Id = '{sf_id}'")
        return record["Title"]

    async def scenario() -> None:
        async with in_process_service(
            harness,
            rotated,
            settings=ServerSettings(WebhookSettings("whsec"), hook_token=HOOK_TOKEN),
            poll_seconds=poll_s,
            reload=lambda: in_file[0],
            notifier=recorder,
            retry_every=0.05,
        ) as service:
            keeper, app, client = service.keeper, service.app, service.client

            async def hook(record_id: str) -> None:
                answer = await client.post(
                    "/hooks/sync",
                    headers={"Authorization": f"Bearer {HOOK_TOKEN}"},
                    json={
                        "records": [{"side": "hubspot", "object_type": "contacts", "id": record_id}]
                    },
                )
                assert answer.status_code == 202, answer.text

            await hook(first_id)
            await until("the refusal", lambda: Side.SALESFORCE in keeper.failed)
            ready = (await client.get("/readyz")).json()
            assert ready["status"] == "degraded" and ready["connections"]["hubspot"] == "ok"
            stopped = ready["connections"]["salesforce"]
            assert stopped.startswith("stopped: Authentication failed: reauthorize Salesforce")
            assert "hubforce connect salesforce" in stopped
            await until("the id parked", lambda: ready_waiting(app) == 1)
            assert recorder.kinds() == [[AlertKind.AUTH_FAILED]]  # at once, not at a poll
            assert await title() != "Refused meanwhile"

            in_file[0] = harness.config  # the new password, written into the file
            if renewed_by == "the next change":
                await hook(second_id)
            deadline = time.monotonic() + 10
            while await title() != "Refused meanwhile":  # the parked change, synced
                assert time.monotonic() < deadline, "the parked change never arrived"
                await asyncio.sleep(0.02)
            await until("nothing waiting", lambda: ready_waiting(app) == 0)
            ready = (await client.get("/readyz")).json()
            assert ready["status"] == "ready"
        assert recorder.kinds()[-1] == [AlertKind.AUTH_RECOVERED]
        assert sum(kinds == [AlertKind.AUTH_FAILED] for kinds in recorder.kinds()) == 1
        assert keeper.failed == {} and keeper.renewals == 1

    harness.run(scenario())


def ready_waiting(app: Any) -> int:
    """How many ids of failed targeted syncs wait for a retry (what /readyz reports)."""
    batcher = app.state.dispatcher.batcher
    return int(batcher.parked)


def test_a_workflow_action_refused_by_a_side_marks_it_stopped_at_once(harness: Harness) -> None:
    harness.seed(seed=10, people=3, companies=1, deals=1)
    harness.sync()
    contact = harness.hs_all("contacts", "email")[0]["id"]
    lead = {
        "name": "new-contact-lead",
        "trigger": {"type": "hubspot.record_created", "object_type": "contacts"},
        "actions": [
            {
                "type": "salesforce.create",
                "sobject": "Lead",
                "values": {"LastName": "{lastname|x}", "Company": "x", "Email": "{email}"},
            }
        ],
    }

    def edit(data: dict[str, Any]) -> None:
        data["workflows"] = [lead]

    rotated = rotated_config(harness, edit)
    recorder = Recorder()

    async def scenario() -> None:
        async with in_process_service(
            harness,
            rotated,
            poll_seconds=3600,
            reload=lambda: rotated,
            notifier=recorder,
            retry_every=3600,
        ) as service:
            keeper, client = service.keeper, service.client
            event = ChangeEvent(
                side=Side.HUBSPOT,
                object_type="contacts",
                object_id=contact,
                kind="creation",
                occurred_at=int(time.time() * 1000),
                event_id="e-1",
            )
            batcher = service.app.state.dispatcher.batcher
            service.dispatcher.submit([event])
            await until("the refusal", lambda: Side.SALESFORCE in keeper.failed)
            # Marked by the action itself: the record's targeted sync (queued after its
            # workflows, then batched for 0.25 s) has not run yet.
            assert (batcher.stats.batches_run, batcher.stats.batches_failed) == (0, 0)
            deadline = time.monotonic() + 10
            while not (runs := await _runs(client, "new-contact-lead")):
                assert time.monotonic() < deadline, "the run was not recorded"
                await asyncio.sleep(0.02)
            ready = (await client.get("/readyz")).json()
        (run,) = runs
        assert run["status"] == "waiting"  # for a retry once Salesforce works again
        assert "Authentication failed: reauthorize Salesforce" in run["error"]
        assert ready["connections"]["salesforce"].startswith("stopped: Authentication")
        assert recorder.kinds() == [[AlertKind.AUTH_FAILED]]

    harness.run(scenario())


async def _runs(client: httpx.AsyncClient, workflow: str) -> list[dict[str, Any]]:
    """The recorded runs of one workflow, from the service's status route."""
    runs = (await client.get("/status/workflows")).json()["runs"]
    return [run for run in runs if run["workflow"] == workflow]
