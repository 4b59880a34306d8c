"""The `hubforce run` ASGI app: webhooks, outbound messages, sync hook, health, workflow runs.

`build_app` wires routers around one `Dispatcher`; its lifespan starts the dispatcher's loops
(and any `background` coroutines, e.g. the scheduler) and on shutdown lets in-flight work
finish before returning, which is what uvicorn's SIGTERM handling waits for.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from fastapi import FastAPI

from hubforce.server.dispatch import Dispatcher
from hubforce.server.health import build_health_router
from hubforce.server.hooks import build_hooks_router
from hubforce.server.metrics import build_metrics_router
from hubforce.server.outbound import build_outbound_router
from hubforce.server.webhooks import WebhookCounters, WebhookSettings, build_webhook_router
from hubforce.workflows.runs import RunLedger

logger = logging.getLogger(__name__)


@dataclass
class ServerSettings:
    """Secrets and addresses the server checks requests against (already resolved)."""

    webhook: WebhookSettings
    hook_token: str | None = field(default=None, repr=False)  # never in a log line or an error
    salesforce_org_id: str | None = None


def build_app(
    settings: ServerSettings,
    dispatcher: Dispatcher,
    *,
    ledger: RunLedger | None = None,
    on_start: Sequence[Callable[[], None]] = (),
    on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
    cleanup: Sequence[Callable[[], Awaitable[None]]] = (),
    ready: Callable[[], bool] = lambda: True,
    connections: Callable[[], Mapping[str, str]] | None = None,
    details: Callable[[], Mapping[str, object]] | None = None,
) -> FastAPI:
    """The app. At start-up `on_start` runs after the dispatcher starts (e.g. the scheduler);
    at shutdown `on_stop` runs first (jobs finish), then the dispatcher drains, then `cleanup`
    (e.g. closing API clients, which must happen on the server's own event loop).
    `connections` and `details` feed `/readyz` (see `server.health`)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        dispatcher.start()
        for start in on_start:
            start()
        try:
            yield
        finally:
            for stop in on_stop:
                await stop()
            await dispatcher.stop()  # in-flight batches and workflow runs finish
            for step in cleanup:
                await step()

    app = FastAPI(title="hubforce run", lifespan=lifespan, docs_url=None, redoc_url=None)
    counters = WebhookCounters()
    app.state.webhook_counters = counters
    app.state.dispatcher = dispatcher
    app.include_router(build_webhook_router(settings.webhook, dispatcher, counters))
    app.include_router(build_outbound_router(dispatcher, settings.salesforce_org_id))
    app.include_router(build_hooks_router(dispatcher, settings.hook_token))

    def checks() -> dict[str, bool]:
        return {"dispatcher": dispatcher.running, "scheduler": ready()}

    app.include_router(build_health_router(checks, connections=connections, details=details))
    app.include_router(build_metrics_router(dispatcher, counters))

    @app.get("/status/workflows")
    async def workflow_runs(limit: int = 50) -> dict[str, object]:
        runs = await ledger.recent(max(1, min(limit, 500))) if ledger is not None else []
        return {"runs": [run.as_dict() for run in runs]}

    return app
