"""`hubforce run`'s service built in process for end-to-end tests.

`in_process_service` assembles the service as `hubforce run` does (`sync_context` ->
`build_service`) against the harness's two emulators over their ASGI transports, on the
harness's loop, and hands back an `InProcessService`: the sync context, the app, a client
reaching the app over ASGI, and the Reconnector when the test gave one. What tests vary is
passed in: the configuration (workflows, a rotated password), the Salesforce poll interval,
whether the lifespan (scheduler, poller, retrier, catch-up) runs, and how the Reconnector
reads the configuration file and alerts.

The helpers for the service served on loopback (`free_port`, `salesforce_session`,
`wait_until`) live here too, shared by the tests that run it behind real sockets.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from hubforce.alerts.state import Notifier
from hubforce.config import HubforceConfig
from hubforce.connectors.governor import Governor
from hubforce.connectors.http import RetryPolicy
from hubforce.engine.context import SyncContext
from hubforce.engine.local import EMULATOR_ENV, local_config
from hubforce.engine.reconnect import Reconnector
from hubforce.engine.runner import sync_context
from hubforce.server.app import ServerSettings
from hubforce.server.dispatch import Dispatcher
from hubforce.server.service import build_service
from hubforce.server.webhooks import WebhookSettings
from hubforce.store.tables import workflow_runs
from hubforce.sync.model import Side
from tests.e2e.conftest import HS_URL, SF_URL, Harness, V

SERVICE_URL = "http://run"
DEFAULT_SETTINGS = ServerSettings(WebhookSettings("whsec"), hook_token=None)


@dataclass
class InProcessService:
    """The assembled service: its sync context, its app and a client to the app (ASGI)."""

    ctx: SyncContext
    app: FastAPI
    client: httpx.AsyncClient
    reconnector: Reconnector | None

    @property
    def dispatcher(self) -> Dispatcher:
        dispatcher: Dispatcher = self.app.state.dispatcher
        return dispatcher

    @property
    def keeper(self) -> Reconnector:
        """The Reconnector the test gave (`reload=`); not the one built from the config."""
        assert self.reconnector is not None, "built without reload=: no test Reconnector"
        return self.reconnector


@asynccontextmanager
async def in_process_service(
    harness: Harness,
    config: HubforceConfig | None = None,
    *,
    settings: ServerSettings = DEFAULT_SETTINGS,
    poll_seconds: float | None = None,
    started: bool = True,
    reload: Callable[[], HubforceConfig] | None = None,
    notifier: Notifier | None = None,
    retry_every: float = 0.0,
    connect: bool = False,
    policy: RetryPolicy | None = None,
    governors: dict[Side, Governor] | None = None,
) -> AsyncIterator[InProcessService]:
    """`hubforce run`'s service on the harness's emulators, torn down when the block ends.

    `config` defaults to the harness's. `poll_seconds` overrides the Salesforce poll interval
    (None: the configuration's). `started` runs the app's lifespan (scheduler, poll, workflow
    retrier, form catch-up) for the block; without it the app only answers requests.
    `reload` gives the service a Reconnector that reads the configuration through it (the
    file as it is now), alerts to `notifier` and renews sides every `retry_every` s; without
    it the service builds its own from the configuration. `connect=False` leaves the
    Salesforce login to the first call; `policy` and `governors` go to `sync_context`.
    """
    config = config or harness.config
    async with AsyncExitStack() as stack:
        ctx = await stack.enter_async_context(
            sync_context(
                config,
                store=harness.store,
                transports=harness.transports,
                connect=connect,
                policy=policy,
                governors=governors,
            )
        )
        http = await stack.enter_async_context(httpx.AsyncClient())
        keeper = None
        if reload is not None:
            keeper = Reconnector(
                ctx,
                reload=reload,
                notifier=notifier,
                transports=harness.transports,
                retry_every=retry_every,
            )
        app = build_service(
            config, ctx, settings, http, salesforce_poll_seconds=poll_seconds, reconnector=keeper
        )
        if started:
            await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SERVICE_URL)
        )
        yield InProcessService(ctx, app, client, keeper)


def rotated_config(
    harness: Harness, edit: Callable[[dict[str, Any]], None] | None = None
) -> HubforceConfig:
    """The harness's configuration with a Salesforce password an admin has since rotated."""
    return local_config(
        HS_URL,
        SF_URL,
        harness.store_url,
        edit=edit,
        env={**EMULATOR_ENV, "SALESFORCE_PASSWORD": "before-the-rotation"},
    )


async def query(harness: Harness, statement: str) -> list[dict[str, Any]]:
    """The first page of a SOQL query, from within the harness's loop."""
    params = {"q": statement}
    body = await harness._call(Side.SALESFORCE, "GET", f"{V}/query", None, params=params)
    records: list[dict[str, Any]] = body["records"]
    return records


def runs_of(harness: Harness, workflow: str) -> list[dict[str, Any]]:
    """The stored runs of one workflow."""
    with harness.store.engine.connect() as conn:
        rows = conn.execute(select(workflow_runs).where(workflow_runs.c.workflow == workflow))
        return [dict(row._mapping) for row in rows]


# -- the service behind real sockets ---------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def salesforce_session(url: str) -> httpx.Client:
    """An httpx client logged in to the Salesforce emulator (password grant)."""
    client = httpx.Client(base_url=url)
    token = client.post(
        "/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": "hubforce-emulator-consumer-key",
            "client_secret": "hubforce-emulator-consumer-secret",
            "username": "admin@hubforce-emulator.example",
            "password": "emulator-password" + "EMULATORSECURITYTOKEN",
        },
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def wait_until(
    check: Callable[[], bool],
    timeout: float = 15.0,
    what: str = "condition",
    interval: float = 0.02,
) -> None:
    """Poll `check` every `interval` s until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
