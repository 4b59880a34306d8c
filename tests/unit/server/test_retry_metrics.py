"""`/metrics` gauges: targeted-sync ids parked for a retry, workflow runs waiting or abandoned,
workflow events waiting in memory for the store; a store that does not answer leaves the
run counts out without failing the scrape."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

from hubforce.errors import Transient
from hubforce.server.app import ServerSettings, build_app
from hubforce.server.batching import ChangeBatcher
from hubforce.server.dispatch import Dispatcher
from hubforce.server.webhooks import WebhookSettings
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionRunner
from hubforce.workflows.engine import WorkflowEngine
from hubforce.workflows.model import WorkflowsConfig
from hubforce.workflows.runs import MemoryLedger, WorkflowRun
from tests.unit.workflows.fakes import FakeReader
from tests.unit.workflows.test_retry import ADA, NEW_CONTACT_LEAD, Salesforce, created


class RefusingTarget:
    async def sync_records(self, pair: str, side: Side, ids: Sequence[str]) -> None:
        raise Transient("salesforce", "HTTP 503 after 5 tries")


class BrokenCounts(MemoryLedger):
    async def retry_counts(self) -> dict[str, int]:
        raise OSError("the store went away")


async def scrape(ledger: MemoryLedger) -> str:
    sf = Salesforce()
    sf.error = Transient("salesforce", "HTTP 503 after 5 tries")
    engine = WorkflowEngine(
        WorkflowsConfig.model_validate({"workflows": [NEW_CONTACT_LEAD]}).workflows,
        reader=FakeReader({"51": dict(ADA)}),
        runner=ActionRunner(salesforce=sf),
        ledger=ledger,
    )
    batcher = ChangeBatcher(RefusingTarget(), window_s=0.01)
    dispatcher = Dispatcher(
        batcher=batcher, workflows=engine, pairs={(Side.HUBSPOT, "contacts"): "contacts"}
    )
    app = build_app(ServerSettings(WebhookSettings("s")), dispatcher, ledger=ledger)
    dispatcher.submit([created("51"), created("52", event_id="e2")])
    await dispatcher.drain()  # both runs wait; the targeted sync fails and parks both ids
    abandoned = WorkflowRun("new-contact-lead", "k", {}, 1, status="abandoned")
    assert await ledger.claim("k")
    await ledger.record(abandoned)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://run"
    ) as client:
        text = (await client.get("/metrics")).text
    await dispatcher.stop()
    return text


def test_metrics_count_what_waits_for_a_retry() -> None:
    text = asyncio.run(scrape(MemoryLedger()))
    assert "hubforce_targeted_ids_parked 2.0" in text
    assert 'hubforce_workflow_runs{state="waiting"} 1.0' in text  # 52 is not a record: skipped
    assert 'hubforce_workflow_runs{state="abandoned"} 1.0' in text
    assert "hubforce_workflow_events_parked 0.0" in text


def test_a_store_that_does_not_answer_leaves_only_the_run_counts_out() -> None:
    text = asyncio.run(scrape(BrokenCounts()))
    assert "hubforce_workflow_runs{" not in text
    assert "hubforce_targeted_ids_parked 2.0" in text
