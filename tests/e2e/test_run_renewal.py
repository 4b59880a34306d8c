"""`hubforce run`: its scheduled Salesforce poll goes through the Reconnector.

The service starts with a Salesforce secret that the org refuses (rotated by an admin); the
poll fails with AuthFailed on its interval and the failure is alerted once. The secret written
into the configuration file is read again before a later poll, the same client carries on with
it, the poll succeeds and the recovery is alerted once, with no restart.
"""

from __future__ import annotations

import asyncio

import httpx

from hubforce.alerts.digest import AlertKind
from hubforce.config import HubforceConfig
from hubforce.engine.local import EMULATOR_ENV, local_config
from hubforce.engine.reconnect import Reconnector
from hubforce.engine.runner import sync_context
from hubforce.server.app import ServerSettings
from hubforce.server.service import build_service
from hubforce.server.webhooks import WebhookSettings
from hubforce.sync.model import Side
from tests.e2e.conftest import HS_URL, SF_URL, Harness, Recorder, until

POLL_S = 0.05


def test_the_services_poll_picks_up_a_secret_renewed_in_the_configuration(
    harness: Harness,
) -> None:
    harness.seed(seed=5, people=4, companies=2, deals=1)
    rotated = local_config(
        HS_URL,
        SF_URL,
        harness.store_url,
        env={**EMULATOR_ENV, "SALESFORCE_PASSWORD": "before-the-rotation"},
    )
    in_file: list[HubforceConfig] = [rotated]
    recorder = Recorder()

    async def scenario() -> None:
        settings = ServerSettings(WebhookSettings("whsec"), hook_token=None)
        async with (
            sync_context(
                rotated, store=harness.store, transports=harness.transports, connect=False
            ) as ctx,
            httpx.AsyncClient() as http,
        ):
            keeper = Reconnector(
                ctx,
                reload=lambda: in_file[0],
                notifier=recorder,
                transports=harness.transports,
                retry_every=POLL_S,
            )
            salesforce = ctx.salesforce
            app = build_service(
                rotated, ctx, settings, http, salesforce_poll_seconds=POLL_S, reconnector=keeper
            )
            async with app.router.lifespan_context(app):
                await until("the poll refused", lambda: Side.SALESFORCE in keeper.failed)
                failed_at = salesforce.calls.total
                await asyncio.sleep(5 * POLL_S)  # polls keep coming on their interval...
                assert recorder.kinds() == [[AlertKind.AUTH_FAILED]]  # ...alerted once
                assert "reauthorize Salesforce" in recorder.sent[0].alerts[0].text
                assert salesforce.calls.total == failed_at  # renewals are token calls only

                in_file[0] = harness.config  # the new secret, written into the file
                await until("the recovery", lambda: len(recorder.sent) == 2)
                await until("a poll through", lambda: salesforce.calls.total > failed_at)
            assert recorder.kinds()[1] == [AlertKind.AUTH_RECOVERED]
            assert keeper.failed == {} and keeper.renewals == 1
            assert ctx.salesforce is salesforce  # the poller's client, renewed in place

    harness.run(scenario())
