"""`hubforce run`: its scheduled Salesforce poll goes through the Reconnector.

The service starts with a Salesforce secret that the org refuses (rotated by an admin); the
poll fails with AuthFailed on its interval and the failure is alerted once. The secret written
into the configuration file is read again before a later poll, the same client carries on with
it, the poll succeeds and the recovery is alerted once, with no restart.
"""

from __future__ import annotations

import asyncio

from hubforce.alerts.digest import AlertKind
from hubforce.config import HubforceConfig
from hubforce.sync.model import Side
from tests.e2e.conftest import Harness, Recorder, until
from tests.e2e.service_helpers import in_process_service, rotated_config

POLL_S = 0.05


def test_the_services_poll_picks_up_a_secret_renewed_in_the_configuration(
    harness: Harness,
) -> None:
    harness.seed(seed=5, people=4, companies=2, deals=1)
    rotated = rotated_config(harness)
    in_file: list[HubforceConfig] = [rotated]
    recorder = Recorder()

    async def scenario() -> None:
        async with in_process_service(
            harness,
            rotated,
            poll_seconds=POLL_S,
            reload=lambda: in_file[0],
            notifier=recorder,
            retry_every=POLL_S,
        ) as service:
            keeper, salesforce = service.keeper, service.ctx.salesforce
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
        assert service.ctx.salesforce is salesforce  # the poller's client, renewed in place

    harness.run(scenario())
