"""Assembling `hubforce run` from a config: clients, engine, dispatcher, scheduler, app.

`build_service` opens nothing by itself; `serve` runs uvicorn and the scheduler on one event
loop (`ServiceApp` does the same inside a server that owns its loop, as the demo's). uvicorn
turns SIGTERM/SIGINT into a lifespan shutdown, which stops the scheduler (the running poll or
cycle finishes and is recorded), drains queued syncs and workflow runs, then closes the
clients and the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.types import Receive, Scope, Send

from hubforce.alerts.digest import interrupted_runs
from hubforce.config import HubforceConfig, load_config
from hubforce.config.model import ORG_ID
from hubforce.engine.context import SyncContext
from hubforce.engine.cycle import run_cycle
from hubforce.engine.reconnect import Reconnector
from hubforce.engine.runner import sync_context
from hubforce.errors import ConfigError, HubforceError
from hubforce.server.adapters import (
    ClientRecordReader,
    CycleSyncTarget,
    HubSpotFormSource,
    pair_index,
)
from hubforce.server.app import ServerSettings, build_app
from hubforce.server.batching import ChangeBatcher, PairLocks
from hubforce.server.dispatch import Dispatcher
from hubforce.server.observed import (
    GuardedActions,
    GuardedForms,
    GuardedReader,
    targeted_attempt,
)
from hubforce.server.scheduler import (
    SalesforcePoller,
    Scheduler,
    form_catchup,
    reconcile_job,
)
from hubforce.server.webhooks import WebhookSettings
from hubforce.sync.model import Side
from hubforce.workflows.engine import WorkflowEngine
from hubforce.workflows.model import Schedule, Workflow, WorkflowsConfig
from hubforce.workflows.retry import RetryPolicy, WorkflowRetrier
from hubforce.workflows.store_ledger import StoreLedger

WEBHOOK_SECRET_ENV = "HUBFORCE_WEBHOOK_SECRET"
HOOK_TOKEN_ENV = "HUBFORCE_HOOK_TOKEN"
SALESFORCE_ORG_ENV = "HUBFORCE_SALESFORCE_ORG_ID"


@dataclass(frozen=True)
class RunOptions:
    """Where to listen and the public URL HubSpot posts to (for v3 signatures)."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None


def run_options(
    config: HubforceConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    public_url: str | None = None,
) -> RunOptions:
    """The command's flags where given, else the config's `server:` section (or its defaults)."""
    server = config.server
    return RunOptions(
        host=host or server.host,
        port=port or server.port,
        public_url=public_url or server.public_url,
    )


def _reveal(secret: SecretStr | None) -> str:
    return secret.get_secret_value() if secret is not None else ""


def server_settings(
    config: HubforceConfig, options: RunOptions, env: Mapping[str, str] | None = None
) -> ServerSettings:
    """The secrets `hubforce run` checks requests against, highest precedence first: the
    environment variables (overrides kept for existing deployments), the config's `server:`
    section, then (webhook secret only) the HubSpot OAuth app's client secret."""
    env = os.environ if env is None else env
    server = config.server
    secret = env.get(WEBHOOK_SECRET_ENV) or _reveal(server.webhook_secret)
    oauth = config.connections.hubspot.oauth
    if not secret and oauth is not None:
        secret = oauth.client_secret.get_secret_value()
    if not secret and config.schedule.webhooks:
        raise ConfigError(
            "configuration",
            "server.webhook_secret",
            "HubSpot webhooks need the app's client secret to verify signatures",
            hint="set server.webhook_secret: ${HUBFORCE_WEBHOOK_SECRET} and export "
            f"{WEBHOOK_SECRET_ENV}, or use an OAuth app in connections.hubspot, "
            "or set schedule.webhooks: false",
        )
    org_id = env.get(SALESFORCE_ORG_ENV) or server.salesforce_org_id
    if org_id and not ORG_ID.match(org_id):
        raise ConfigError(
            "environment",
            SALESFORCE_ORG_ENV,
            "not a Salesforce org id (15 or 18 letters and digits starting with 00D)",
            hint="copy the Organization ID from Setup > Company Information",
        )
    public = options.public_url.rstrip("/") + "/webhooks/hubspot" if options.public_url else None
    return ServerSettings(
        WebhookSettings(secret, public_url=public),
        hook_token=env.get(HOOK_TOKEN_ENV) or _reveal(server.hook_token) or None,
        salesforce_org_id=org_id or None,
    )


def workflows_of(config: HubforceConfig) -> WorkflowsConfig:
    """The config's workflows, validated (ConfigError names the bad one)."""
    try:
        return WorkflowsConfig.model_validate({"workflows": config.workflows})
    except ValueError as exc:
        raise ConfigError("configuration", "workflows", str(exc)) from None


def build_service(
    config: HubforceConfig,
    ctx: SyncContext,
    settings: ServerSettings,
    http: httpx.AsyncClient,
    *,
    salesforce_poll_seconds: float | None = None,
    reconnector: Reconnector | None = None,
) -> FastAPI:
    """The app with its dispatcher, engine, scheduler and workflows bound to `ctx`.

    `salesforce_poll_seconds` overrides `schedule.salesforce_poll_seconds` (whose minimum, 5 s,
    protects a real org's API budget) for the demo against the emulators. Every path that
    calls an API (reconciles, polls, targeted syncs, workflows) runs through `reconnector`
    (renewed credentials picked up after an AuthFailed, the side's state for `/readyz`,
    alerts); targeted syncs and workflow runs that failed for a passing reason are retried
    once the side works again, and on every poll interval (workflow runs with a backoff per
    run, see `workflows/retry.py`).
    """
    locks = PairLocks()
    index = pair_index(ctx.mappings)
    # Idempotency keys survive restarts; a claim's lease says when its process is dead.
    ledger = StoreLedger(ctx.store, lease_ms=config.schedule.workflow_lease_seconds * 1000)
    slack = config.alerts.slack_webhook_url
    workflows = workflows_of(config).workflows
    poll_seconds = salesforce_poll_seconds or config.schedule.salesforce_poll_seconds
    keeper = reconnector or Reconnector.for_config(ctx, config, retry_every=poll_seconds)
    reader = ClientRecordReader(ctx.hubspot, ctx.salesforce, store=ctx.store, pairs=index)
    engine = WorkflowEngine(
        workflows,
        retry=RetryPolicy(first_delay_s=poll_seconds),
        reader=GuardedReader(reader, keeper),
        runner=GuardedActions(
            keeper,
            salesforce=ctx.salesforce,
            hubspot=ctx.hubspot,
            http=http,
            slack_webhook_url=slack.get_secret_value() if slack else None,
        ),
        ledger=ledger,
        # form triggers confirm submissions by GUID
        forms=GuardedForms(HubSpotFormSource(ctx.hubspot), keeper),
    )
    batcher = ChangeBatcher(CycleSyncTarget(ctx), locks, guard=targeted_attempt(keeper))
    keeper.listeners.append(batcher.retry_parked)  # a side works again: what waited goes
    dispatcher = Dispatcher(batcher=batcher, workflows=engine, pairs=index)
    pairs = sorted({pair for pair in index.values()})

    async def run_pair(pair: str) -> None:
        # On shutdown the reconcile stops at its round in hand, everything so far recorded.
        options = replace(ctx.options, pairs=(pair,), stop_requested=lambda: scheduler.stopping)
        cycle = replace(ctx, options=options)
        await keeper.attempt(lambda: run_cycle(cycle), name="reconcile")

    scheduler = Scheduler()
    reconcile = reconcile_job(pairs, locks, run_pair, stopping=lambda: scheduler.stopping)
    scheduler.every(config.schedule.reconcile_seconds, "reconcile", reconcile)
    catchup = form_catchup(dispatcher, ctx.store.cursors)  # submissions webhooks missed
    if catchup is not None:
        seconds = config.schedule.reconcile_seconds
        scheduler.every(seconds, "form-catchup", catchup.run, at_start=True)
    sobjects = [name for side, name in index if side is Side.SALESFORCE]
    poller = SalesforcePoller(ctx.salesforce, dispatcher, sobjects)

    async def poll() -> int:
        return await keeper.attempt(poller.poll, sides=(Side.SALESFORCE,), name="salesforce-poll")

    async def retry_parked() -> None:
        # Whatever failed for a passing reason (a 5xx storm, a rate limit) is tried again on
        # the poll's interval; a side still refused turns it down without an API call.
        batcher.retry_parked()

    scheduler.every(poll_seconds, "salesforce-poll", poll)
    scheduler.every(poll_seconds, "targeted-retry", retry_parked)
    retrier = _workflow_retrier(engine, batcher, locks, index, keeper)
    keeper.listeners.append(retrier.wake)  # a side works again: the runs it refused go now
    scheduler.every(poll_seconds, "workflow-retry", retrier.run, at_start=True)
    for workflow in workflows:
        if isinstance(workflow.trigger, Schedule) and workflow.enabled:
            every = workflow.trigger.every_seconds
            scheduler.every(every, f"workflow:{workflow.name}", _scheduled(engine, workflow))
    return build_app(
        settings,
        dispatcher,
        ledger=ledger,
        on_start=[scheduler.start],
        on_stop=[scheduler.stop, retrier.stop],
        ready=lambda: scheduler.running,
        connections=keeper.connections,
        details=lambda: {"targeted_ids_waiting": batcher.parked},
    )


def _workflow_retrier(
    engine: WorkflowEngine,
    batcher: ChangeBatcher,
    locks: PairLocks,
    index: Mapping[tuple[Side, str], str],
    keeper: Reconnector,
) -> WorkflowRetrier:
    """The retrier of `hubforce run`: each retry under its record's pair lock (as the
    dispatcher's workflow runs), a targeted sync of the record after a success, runs that
    wait for a side whose credentials are refused left alone until it recovers, and a Slack
    alert when a pass finds runs interrupted by a stopped process."""

    def pair_of(side: str | None, object_type: str | None) -> str | None:
        if side not in {s.value for s in Side} or object_type is None:
            return None
        return index.get((Side(side), object_type))

    def lock_for(side: str | None, object_type: str | None) -> AbstractAsyncContextManager[Any]:
        pair = pair_of(side, object_type)
        return locks.lock(pair) if pair is not None else contextlib.nullcontext()

    def on_record(side: str, object_type: str, record_id: str) -> None:
        pair = pair_of(side, object_type)
        if pair is not None:
            batcher.add(pair, Side(side), [record_id])

    def blocked(side: str | None) -> bool:
        known = {s.value: s for s in Side}
        refused = known.get(side or "")
        return refused is not None and refused in keeper.failed and refused not in keeper.unproven

    async def on_interrupted(keys: list[str]) -> None:
        # One Slack alert per retry pass that found runs a stopped process left half done.
        notifier = keeper.notifier
        if notifier is not None:
            await asyncio.to_thread(notifier.send, interrupted_runs(keys))

    return WorkflowRetrier(
        engine,
        lock_for=lock_for,
        on_record=on_record,
        blocked=blocked,
        on_interrupted=on_interrupted,
    )


def _scheduled(engine: WorkflowEngine, workflow: Workflow) -> Callable[[], Awaitable[None]]:
    seconds = workflow.trigger.every_seconds if isinstance(workflow.trigger, Schedule) else 60

    async def job() -> None:
        # One run per time slot: a restart inside the slot does not run it twice.
        await engine.run_scheduled(workflow, int(time.time() // seconds))

    return job


class ServiceApp:
    """`hubforce run`'s app for a server that owns its event loop (e.g. `BackgroundServer`).

    At lifespan start-up it opens the clients and the store on the serving loop (async clients
    belong to one loop), assembles the app with `build_service` and starts it; every request
    then goes to that app. At shutdown the app's own shutdown runs first (jobs finish, queued
    syncs and workflow runs drain), then the clients and the store close. A start-up failure
    is reported to the server as `lifespan.startup.failed` with the error's message (never a
    secret: hubforce errors are redacted) and kept in `startup_error`.
    """

    def __init__(
        self,
        config: HubforceConfig,
        settings: ServerSettings,
        *,
        salesforce_poll_seconds: float | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.salesforce_poll_seconds = salesforce_poll_seconds
        self.service: FastAPI | None = None
        self.startup_error: str | None = None
        self.stopped_cleanly = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self.service is None:
            raise RuntimeError("the service is not started")
        await self.service(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        stack = contextlib.AsyncExitStack()
        try:
            ctx = await stack.enter_async_context(sync_context(self.config))
            http = await stack.enter_async_context(httpx.AsyncClient())
            app = build_service(
                self.config,
                ctx,
                self.settings,
                http,
                salesforce_poll_seconds=self.salesforce_poll_seconds,
            )
            await stack.enter_async_context(app.router.lifespan_context(app))
        except HubforceError as exc:
            await stack.aclose()
            self.startup_error = str(exc)
            await send({"type": "lifespan.startup.failed", "message": self.startup_error})
            return
        self.service = app
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            await stack.aclose()
            self.stopped_cleanly = True
        finally:
            await send({"type": "lifespan.shutdown.complete"})


async def serve(
    config: HubforceConfig, options: RunOptions, *, config_file: Path | None = None
) -> None:
    """Run `hubforce run` until SIGTERM/SIGINT; `config_file` is read again to renew refused
    credentials."""
    settings = server_settings(config, options)
    async with sync_context(config, connect=False) as ctx, httpx.AsyncClient() as http:
        keeper = Reconnector.for_config(
            ctx,
            config,
            reload=(lambda: load_config(config_file)) if config_file else None,
            retry_every=config.schedule.salesforce_poll_seconds,
        )
        app = build_service(config, ctx, settings, http, reconnector=keeper)
        server = uvicorn.Server(
            uvicorn.Config(app, host=options.host, port=options.port, log_level="info")
        )
        await server.serve()
