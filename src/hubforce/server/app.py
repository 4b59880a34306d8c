"""The `hubforce run` ASGI app: webhooks, outbound messages, sync hook, health, workflow runs.

`build_app` wires routers around one `Dispatcher`; its lifespan starts the dispatcher's loops
(and any `background` coroutines, e.g. the scheduler) and on shutdown lets in-flight work
finish before returning, which is what uvicorn's SIGTERM handling waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from fastapi import FastAPI

from hubforce.server.dispatch import Dispatcher
from hubforce.server.health import build_health_router
from hubforce.server.hooks import build_hooks_router
from hubforce.server.outbound import build_outbound_router
from hubforce.server.webhooks import WebhookSettings, build_webhook_router
from hubforce.workflows.runs import RunLedger

logger = logging.getLogger(__name__)


@dataclass
class ServerSettings:
    """Secrets and addresses the server checks requests against (already resolved)."""

    webhook: WebhookSettings
    hook_token: str | None = None
    salesforce_org_id: str | None = None


def build_app(
    settings: ServerSettings,
    dispatcher: Dispatcher,
    *,
    ledger: RunLedger | None = None,
    background: Sequence[Callable[[], Awaitable[None]]] = (),
    cleanup: Sequence[Callable[[], Awaitable[None]]] = (),
) -> FastAPI:
    """The app; `background` coroutines run for its lifetime; `cleanup` runs last at exit
    (e.g. closing the API clients, which must happen on the server's own event loop)."""
    tasks: list[asyncio.Task[None]] = []

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        dispatcher.start()
        for job in background:
            tasks.append(asyncio.create_task(_forever(job)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            tasks.clear()
            await dispatcher.stop()  # in-flight batches and workflow runs finish first
            for step in cleanup:
                await step()

    app = FastAPI(title="hubforce run", lifespan=lifespan, docs_url=None, redoc_url=None)
    webhooks = build_webhook_router(settings.webhook, dispatcher)
    app.state.webhook_counters = webhooks.counters  # type: ignore[attr-defined]
    app.state.dispatcher = dispatcher
    app.include_router(webhooks)
    app.include_router(build_outbound_router(dispatcher, settings.salesforce_org_id))
    app.include_router(build_hooks_router(dispatcher, settings.hook_token))

    def checks() -> dict[str, bool]:
        running = dispatcher.running
        return {"dispatcher": running, "background": all(not t.done() for t in tasks)}

    app.include_router(build_health_router(checks))

    @app.get("/status/workflows")
    async def workflow_runs(limit: int = 50) -> dict[str, object]:
        runs = await ledger.recent(max(1, min(limit, 500))) if ledger is not None else []
        return {"runs": [run.as_dict() for run in runs]}

    return app


async def _forever(job: Callable[[], Awaitable[None]]) -> None:
    try:
        await job()
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("background job stopped")
