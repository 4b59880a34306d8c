"""`GET /metrics`: Prometheus text exposition of the server's counters.

A custom collector reads the live counters at scrape time (webhook outcomes, events accepted
and deduplicated, targeted-sync batches, workflow-loop errors) into the app's own registry, so
several apps in one process (tests) never collide in the global registry.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hubforce.server.dispatch import Dispatcher
from hubforce.server.webhooks import WebhookCounters


class ServerCollector(Collector):
    """Reads the dispatcher's and the webhook route's counters."""

    def __init__(self, dispatcher: Dispatcher, webhooks: WebhookCounters) -> None:
        self.dispatcher = dispatcher
        self.webhooks = webhooks

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
    registry.register(ServerCollector(dispatcher, webhooks))
    router = APIRouter()

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
