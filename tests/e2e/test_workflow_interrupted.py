"""`hubforce run`: a form-to-lead run whose process was killed mid-action is finished by the
restarted service, exactly once.

Both emulators in process. A form submission reaches the seed `form-to-lead` workflow through
the real engine, assembled as `hubforce run` assembles it; the process "dies" (a
BaseException nothing catches, as after a SIGKILL) just after Salesforce created the Lead,
before the run recorded it: its row stays `running`. That process's clock ran behind, so its
lease has already ended when the service restarts (no waiting for a real lease). The
restarted service's first retry pass recovers the run (the create has `match_on: Email`, so it
is safe to run again) and runs it again: the create finds the Lead and updates it, so exactly
one assigned Lead exists and the run succeeded on its second attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from hubforce.emulators.hubspot.form_models import CONTACT_US_GUID
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.server.app import ServerSettings
from hubforce.server.webhooks import WebhookSettings
from hubforce.sync.model import Side
from hubforce.workflows.engine import WorkflowEngine
from hubforce.workflows.model import Action
from hubforce.workflows.runs import LEASE_MS, ActionResult, wall_ms
from hubforce.workflows.store_ledger import StoreLedger
from tests.e2e.conftest import Harness, until
from tests.e2e.service_helpers import in_process_service, query, runs_of

EMAIL = "killed.midway@example.com"
SETTINGS = ServerSettings(WebhookSettings("e2e-interrupted-secret"))


class Killed(BaseException):
    """The process died here: nothing after it runs, nothing catches it."""


class DiesAfterTheAction:
    """The service's action runner, in a process killed right after an action's call
    returned (the Lead exists in Salesforce; the run never learns it)."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner

    async def run(self, index: int, action: Action, record: Mapping[str, Any]) -> ActionResult:
        await self.runner.run(index, action, record)
        raise Killed


def _runs(harness: Harness) -> list[dict[str, Any]]:
    return runs_of(harness, "form-to-lead")


def test_a_run_killed_mid_action_becomes_exactly_one_assigned_lead_after_a_restart(
    harness: Harness,
) -> None:
    portal = HubSpotEmulatorSettings().portal_id
    fields = {"email": EMAIL, "firstname": "Kim", "lastname": "Killed", "company": "Midway"}
    harness.call(
        Side.HUBSPOT,
        "POST",
        f"/submissions/v3/integration/submit/{portal}/{CONTACT_US_GUID}",
        {"fields": [{"name": k, "value": v} for k, v in fields.items()]},
    )

    async def leads() -> list[dict[str, Any]]:
        return await query(
            harness, f"SELECT Id, OwnerId, LeadSource FROM Lead WHERE Email = '{EMAIL}'"
        )

    async def first_process() -> None:
        async with in_process_service(harness, settings=SETTINGS, started=False) as service:
            engine: WorkflowEngine = service.app.state.dispatcher.workflows
            # Its clock ran two leases behind: the lease it takes has ended by the restart.
            behind = StoreLedger(service.ctx.store, now_ms=lambda: wall_ms() - 2 * LEASE_MS)
            engine.ledger = behind
            engine.runner = DiesAfterTheAction(engine.runner)  # type: ignore[assignment]
            (workflow,) = engine.form_workflows()[CONTACT_US_GUID]
            page = await engine.submission_source().submissions(CONTACT_US_GUID)
            (submission,) = [s for s in page.submissions if s.email == EMAIL]
            with pytest.raises(Killed):
                await engine.run_submission(workflow, submission)

    async def restarted() -> None:
        async with in_process_service(harness, settings=SETTINGS, poll_seconds=0.05) as service:
            await until(
                "the run finished",
                lambda: [r["status"] for r in _runs(harness)] == ["succeeded"],
            )
            await until("idle", lambda: service.dispatcher.idle)
            metrics = (await service.client.get("/metrics")).text
            assert 'hubforce_workflow_runs{state="interrupted"} 0.0' in metrics

    harness.run(first_process())
    (lead,) = harness.run(leads())  # the dead process's create reached Salesforce
    (left,) = _runs(harness)
    assert (left["status"], left["attempts"]) == ("running", 1)
    assert left["detail"]["actions_started"] == 1 and left["detail"]["actions"] == []

    harness.run(restarted())
    (after,) = harness.run(leads())  # exactly one: found by Email, updated, not created again
    assert after["Id"] == lead["Id"]
    assert after["OwnerId"] and after["LeadSource"] == "Web"  # assigned by the rule
    (run,) = _runs(harness)
    assert (run["status"], run["attempts"], run["lease_until"]) == ("succeeded", 2, None)
    (action,) = run["detail"]["actions"]
    assert action["ok"] and action["detail"] == {
        "id": lead["Id"],
        "created": False,
        "matched": True,
    }
    assert run["detail"]["trigger"]["kind"] == "catch-up"
