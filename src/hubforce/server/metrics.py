"""`GET /metrics`: Prometheus text exposition of the server's counters.

A custom collector reads the live counters at scrape time (webhook outcomes, events accepted
and deduplicated, targeted-sync batches and the ids parked for a retry, workflow-loop errors,
workflow runs waiting for a retry, abandoned or interrupted) into the app's own registry, so
several apps in one process (tests) never collide in the global registry. The workflow run
counts come from the ledger (one indexed query per scrape); when the store does not answer
they are left out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hubforce.server.dispatch import Dispatcher
from hubforce.server.webhooks import WebhookCounters
from hubforce.workflows.runs import RETRY_STATES

logger = logging.getLogger(__name__)


class ServerCollector(Collector):
    """Reads the dispatcher's and the webhook route's counters."""

    def __init__(self, dispatcher: Dispatcher, webhooks: WebhookCounters) -> None:
        self.dispatcher = dispatcher
        self.webhooks = webhooks
        #: Workflow runs by retry state (`RETRY_STATES`), read by the route before
        #: each scrape (the ledger is async); None when there is no ledger or it failed.
        self.workflow_runs: dict[str, int] | None = None

    async def refresh(self) -> None:
        """Read the workflow run counts (before `collect`)."""
        engine = self.dispatcher.workflows
        if engine is None:
            self.workflow_runs = None
            return
        try:
            self.workflow_runs = await engine.ledger.retry_counts()
        except Exception as exc:  # the store is down: scrape the rest
            logger.warning("metrics: workflow run counts not read (%s)", type(exc).__name__)
            self.workflow_runs = None

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        """One sample per counter."""
        requests = CounterMetricFamily(
            "hubforce_webhook_requests", "HubSpot webhook requests by outcome", labels=["outcome"]
        )
        hooks = self.webhooks
        for outcome, value in (
            ("accepted", hooks.accepted),
            ("bad_signature", hooks.refused_signature),
            ("replay", hooks.refused_replay),
            ("malformed", hooks.refused_malformed),
        ):
            requests.add_metric([outcome], value)
        yield requests
        events = CounterMetricFamily(
            "hubforce_change_events", "Change events received by outcome", labels=["outcome"]
        )
        dedupe = self.dispatcher.deduper
        events.add_metric(["accepted"], self.dispatcher.accepted)
        events.add_metric(["duplicate"], dedupe.duplicates)
        events.add_metric(["stale"], dedupe.stale)
        yield events
        batcher = self.dispatcher.batcher
        if batcher is not None:
            batches = CounterMetricFamily(
                "hubforce_targeted_syncs", "Targeted sync batches by outcome", labels=["outcome"]
            )
            batches.add_metric(["ok"], batcher.stats.batches_run)
            batches.add_metric(["failed"], batcher.stats.batches_failed)
            yield batches
            yield GaugeMetricFamily(
                "hubforce_targeted_ids_parked",
                "Record ids of failed targeted syncs waiting for a retry",
                value=batcher.parked,
            )
        engine = self.dispatcher.workflows
        if engine is not None:
            yield GaugeMetricFamily(
                "hubforce_workflow_events_parked",
                "Workflow events and run records waiting in memory for the store",
                value=len(engine.parked) + len(engine.unwritten),
            )
        if self.workflow_runs is not None:
            runs = GaugeMetricFamily(
                "hubforce_workflow_runs",
                "Workflow runs waiting for a retry, abandoned ones, and ones interrupted by a "
                "stopped process (to check)",
                labels=["state"],
            )
            for state in RETRY_STATES:
                runs.add_metric([state], self.workflow_runs.get(state, 0))
            yield runs
        yield CounterMetricFamily(
            "hubforce_workflow_loop_errors",
            "Unexpected errors while running workflows for an event",
            value=self.dispatcher.workflow_errors,
        )
        yield GaugeMetricFamily(
            "hubforce_idle", "1 when nothing is queued or running", value=int(self.dispatcher.idle)
        )


def build_metrics_router(dispatcher: Dispatcher, webhooks: WebhookCounters) -> APIRouter:
    """The /metrics route over a registry of its own."""
    registry = CollectorRegistry(auto_describe=False)
    collector = ServerCollector(dispatcher, webhooks)
    registry.register(collector)
    router = APIRouter()

    @router.get("/metrics")
    async def metrics() -> Response:
        await collector.refresh()
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
