"""Credentials renewed while running: the Reconnector against both emulators in process.

One long-lived SyncContext, as `hubforce sync` and `hubforce run` keep one: a refused grant
stops the attempts that need that side (recorded, alerted once), renewed credentials (a new
token in the store, an edited configuration) are picked up before the next attempt, the
governor and the client object survive, and the recovery is announced once.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from hubforce.alerts.digest import AlertKind, Digest
from hubforce.config import HubforceConfig, load_config
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.emulators.salesforce.config import Credentials
from hubforce.engine.context import SyncContext
from hubforce.engine.local import EMULATOR_ENV, local_config
from hubforce.engine.reconnect import Reconnector
from hubforce.engine.runner import Transports, sync_context
from hubforce.errors import AuthFailed, ConfigError, RateLimited, Transient
from hubforce.store import SecretBox, Store, open_store
from hubforce.sync.model import Side

HS_URL = "http://hubspot.emulator"
SF_URL = "http://salesforce.emulator"
HS = HubSpotEmulatorSettings(tier="enterprise")
SF = Credentials()
KEY = SecretBox.generate_key()


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[Digest] = []

    def send(self, digest: Digest) -> bool:
        self.sent.append(digest)
        return True

    def kinds(self) -> list[list[AlertKind]]:
        return [[alert.kind for alert in digest.alerts] for digest in self.sent]


class World:
    """Both emulators behind ASGI transports, a store, and OAuth grants on demand."""

    def __init__(self, tmp_path: Path) -> None:
        self.hs_app: FastAPI = create_hubspot_app(HS)
        self.sf_app: FastAPI = create_salesforce_app()
        self.transports: Transports = {
            Side.HUBSPOT: httpx.ASGITransport(app=self.hs_app),
            Side.SALESFORCE: httpx.ASGITransport(app=self.sf_app),
        }
        self.store_url = f"sqlite:///{tmp_path / 'state.db'}"
        self.store: Store = open_store(self.store_url)
        self.tmp_path = tmp_path

    def grant(self, side: Side) -> str:
        """A new refresh token, as the authorization-code flow gives one."""
        if side is Side.HUBSPOT:
            tokens = self.hs_app.state.portal.tokens
            code = tokens.create_code("http://127.0.0.1/callback", [])
            form = {
                "grant_type": "authorization_code",
                "client_id": HS.client_id,
                "client_secret": HS.client_secret,
                "redirect_uri": "http://127.0.0.1/callback",
                "code": code,
            }
            return str(tokens.exchange(form)["refresh_token"])
        org = self.sf_app.state.backend
        return str(self.sf_app.state.sessions.issue_refresh(org.integration_user_id))

    def connect(self, side: Side) -> None:
        """What `hubforce connect` leaves behind: a new refresh token, encrypted in the store."""
        self.store.secrets.put(f"{side.value}.refresh_token", self.grant(side), SecretBox(KEY))

    def token_calls(self, side: Side) -> int:
        app = self.hs_app if side is Side.HUBSPOT else self.sf_app
        stats = app.state.backend.stats.snapshot()["by_route"]
        return sum(n for route, n in stats.items() if "oauth" in route and "token" in route)

    def config(self, edit: Callable[[dict[str, Any]], None] | None = None) -> HubforceConfig:
        def oauth(data: dict[str, Any]) -> None:
            data["connections"]["hubspot"] = {
                "base_url": HS_URL,
                "oauth": {"client_id": HS.client_id, "client_secret": "${HS_SECRET}"},
            }
            data["connections"]["salesforce"] = {
                "login_url": SF_URL,
                "instance_url": SF_URL,
                "api_version": "62.0",
                "oauth": {"client_id": SF.consumer_key, "client_secret": "${SF_SECRET}"},
            }
            if edit is not None:
                edit(data)

        return local_config(HS_URL, SF_URL, self.store_url, edit=oauth, env=ENV)


ENV = {**EMULATOR_ENV, "HS_SECRET": HS.client_secret, "SF_SECRET": SF.consumer_secret}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("HUBFORCE_SECRET_KEY", KEY)
    w = World(tmp_path)
    try:
        yield w
    finally:
        w.store.close()


async def _revoke(app: FastAPI, body: dict[str, str] | None = None) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        reply = await http.post("http://emulator/__emulator__/revoke-tokens", json=body or {})
        assert reply.status_code == 200 and reply.json()["revoked"] >= 1


def _keeper(ctx: SyncContext, world: World, notifier: FakeNotifier, **kw: Any) -> Reconnector:
    kw.setdefault("reload", world.config)
    return Reconnector(ctx, notifier=notifier, transports=world.transports, **kw)


async def _owners(ctx: SyncContext) -> int:
    return len(await ctx.hubspot.owners())


async def _users(ctx: SyncContext) -> int:
    pages = [page async for page in ctx.salesforce.query("SELECT Id FROM User")]
    return sum(len(page) for page in pages)


def _job(ctx: SyncContext, side: Side) -> Callable[[], Awaitable[int]]:
    return (lambda: _owners(ctx)) if side is Side.HUBSPOT else (lambda: _users(ctx))


@pytest.mark.parametrize("side", [Side.HUBSPOT, Side.SALESFORCE])
def test_a_revoked_grant_stops_that_side_until_a_new_connect_then_the_same_context_resumes(
    world: World, side: Side
) -> None:
    world.connect(Side.HUBSPOT)
    world.connect(Side.SALESFORCE)
    app = world.hs_app if side is Side.HUBSPOT else world.sf_app
    notifier = FakeNotifier()

    async def scenario() -> None:
        async with sync_context(
            world.config(), store=world.store, transports=world.transports, connect=False
        ) as ctx:
            keeper = _keeper(ctx, world, notifier)
            client = ctx.hubspot if side is Side.HUBSPOT else ctx.salesforce
            governor, connection = client.governor, client.session.client
            assert await keeper.attempt(_job(ctx, side)) >= 0
            await _revoke(app)

            with pytest.raises(AuthFailed) as caught:
                await keeper.attempt(_job(ctx, side))
            label = "HubSpot" if side is Side.HUBSPOT else "Salesforce"
            assert f"reauthorize {label}" in str(caught.value)
            assert side in keeper.failed
            assert notifier.kinds() == [[AlertKind.AUTH_FAILED]]

            ran: list[str] = []

            async def job() -> int:
                ran.append("job")
                return await _job(ctx, side)()

            with pytest.raises(AuthFailed):  # renewed from the store: still the revoked token
                await keeper.attempt(job)
            assert ran == [] and keeper.renewals == 0
            assert len(notifier.sent) == 1  # the failure is announced once

            world.connect(side)  # a fresh `hubforce connect`
            assert await keeper.attempt(job) >= 0
            assert ran == ["job"] and keeper.renewals == 1 and keeper.failed == {}
            assert notifier.kinds()[-1] == [AlertKind.AUTH_RECOVERED]
            assert f"{label} authentication works again" in notifier.sent[-1].alerts[0].text
            # The same client object, with its governor, over a new connection.
            assert (ctx.hubspot if side is Side.HUBSPOT else ctx.salesforce) is client
            assert client.governor is governor
            assert client.session.client is not connection and connection.is_closed

    asyncio.run(scenario())


def test_the_other_side_keeps_working_while_one_is_refused(world: World) -> None:
    world.connect(Side.HUBSPOT)
    world.connect(Side.SALESFORCE)
    notifier = FakeNotifier()

    async def scenario() -> None:
        async with sync_context(
            world.config(), store=world.store, transports=world.transports, connect=False
        ) as ctx:
            keeper = _keeper(ctx, world, notifier)
            await _revoke(world.hs_app)
            with pytest.raises(AuthFailed):
                await keeper.attempt(_job(ctx, Side.HUBSPOT))
            # A job that only needs Salesforce (the `hubforce run` poller) still runs.
            assert await keeper.attempt(_job(ctx, Side.SALESFORCE), sides=[Side.SALESFORCE]) >= 1
            assert set(keeper.failed) == {Side.HUBSPOT}

    asyncio.run(scenario())


def test_an_edited_configuration_file_is_read_again(world: World, tmp_path: Path) -> None:
    """A rotated refresh token set in the file (through another ${VAR}) is picked up."""
    old, new = world.grant(Side.SALESFORCE), world.grant(Side.SALESFORCE)
    env = {**ENV, "SF_OLD": old, "SF_NEW": new}
    world.connect(Side.HUBSPOT)

    def write(variable: str) -> None:
        data = world.config().model_dump(mode="json")
        data["connections"]["hubspot"]["oauth"]["client_secret"] = "${HS_SECRET}"
        data["connections"]["salesforce"]["oauth"]["client_secret"] = "${SF_SECRET}"
        data["connections"]["salesforce"]["oauth"]["refresh_token"] = "${" + variable + "}"
        data["alerts"].pop("slack_webhook_url", None)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    path = tmp_path / "hubforce.yaml"
    write("SF_OLD")
    notifier = FakeNotifier()

    async def scenario() -> None:
        config = load_config(path, env=env)
        async with sync_context(
            config, store=world.store, transports=world.transports, connect=False
        ) as ctx:
            keeper = _keeper(ctx, world, notifier, reload=lambda: load_config(path, env=env))
            await _revoke(world.sf_app, {"refresh_token": old})
            with pytest.raises(AuthFailed):
                await keeper.attempt(_job(ctx, Side.SALESFORCE))
            write("SF_NEW")
            assert await keeper.attempt(_job(ctx, Side.SALESFORCE)) >= 1
            assert keeper.failed == {} and keeper.renewals == 1

    asyncio.run(scenario())


def test_renewal_waits_for_the_interval_and_a_broken_file_keeps_the_side_stopped(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.connect(Side.HUBSPOT)
    world.connect(Side.SALESFORCE)
    clock = [100.0]
    broken: list[bool] = []

    def reload() -> HubforceConfig:
        if broken:
            raise ConfigError("hubforce.yaml", "connections.hubspot", "not valid YAML")
        return world.config()

    async def scenario() -> None:
        async with sync_context(
            world.config(), store=world.store, transports=world.transports, connect=False
        ) as ctx:
            keeper = _keeper(
                ctx,
                world,
                FakeNotifier(),
                reload=reload,
                retry_every=30.0,
                monotonic=lambda: clock[0],
            )
            await _revoke(world.hs_app)
            with pytest.raises(AuthFailed):
                await keeper.attempt(_job(ctx, Side.HUBSPOT))
            before = world.token_calls(Side.HUBSPOT)
            with pytest.raises(AuthFailed):
                await keeper.attempt(_job(ctx, Side.HUBSPOT))  # first renewal: refused
            assert world.token_calls(Side.HUBSPOT) == before + 1
            world.connect(Side.HUBSPOT)
            clock[0] += 10.0
            with pytest.raises(AuthFailed):  # within the interval: no new try, no call
                await keeper.attempt(_job(ctx, Side.HUBSPOT))
            assert world.token_calls(Side.HUBSPOT) == before + 1
            broken.append(True)
            clock[0] += 30.0
            with caplog.at_level(logging.WARNING), pytest.raises(AuthFailed):
                await keeper.attempt(_job(ctx, Side.HUBSPOT))
            assert "hubspot credentials not renewed" in caplog.text
            assert "not valid YAML" in caplog.text
            broken.clear()
            clock[0] += 30.0
            assert await keeper.attempt(_job(ctx, Side.HUBSPOT)) >= 0

    asyncio.run(scenario())


def test_a_private_app_token_is_proven_by_the_next_attempt(world: World) -> None:
    """A token that cannot be checked without an API call is put in use; the job tells."""
    notifier = FakeNotifier()
    env = {"token": "revoked-by-admin"}

    def config() -> HubforceConfig:
        return local_config(
            HS_URL, SF_URL, world.store_url, env={**EMULATOR_ENV, "HUBSPOT_TOKEN": env["token"]}
        )

    async def scenario() -> None:
        async with sync_context(
            config(), store=world.store, transports=world.transports, connect=False
        ) as ctx:
            keeper = _keeper(ctx, world, notifier, reload=config)
            with pytest.raises(AuthFailed):
                await keeper.attempt(_job(ctx, Side.HUBSPOT))
            with pytest.raises(AuthFailed):  # rebuilt, unproven, tried: refused again
                await keeper.attempt(_job(ctx, Side.HUBSPOT))
            assert keeper.renewals == 1 and notifier.kinds() == [[AlertKind.AUTH_FAILED]]
            env["token"] = EMULATOR_ENV["HUBSPOT_TOKEN"]
            assert await keeper.attempt(_job(ctx, Side.HUBSPOT)) >= 0
            assert keeper.renewals == 2 and keeper.failed == {}
            assert notifier.kinds()[-1] == [AlertKind.AUTH_RECOVERED]

    asyncio.run(scenario())


def test_a_budget_pause_is_announced_once_and_its_end_too(world: World) -> None:
    notifier = FakeNotifier()
    world.connect(Side.HUBSPOT)
    world.connect(Side.SALESFORCE)

    async def scenario() -> None:
        async with sync_context(
            world.config(), store=world.store, transports=world.transports, connect=False
        ) as ctx:
            keeper = _keeper(ctx, world, notifier)

            async def paused() -> None:
                raise RateLimited("salesforce", 900, "budget")

            for _ in range(2):
                with pytest.raises(RateLimited):
                    await keeper.attempt(paused)
            assert notifier.kinds() == [[AlertKind.BUDGET_PAUSED]]
            # A HubSpot-only job proves nothing about Salesforce's budget.
            await keeper.attempt(_job(ctx, Side.HUBSPOT), sides=[Side.HUBSPOT])
            assert len(notifier.sent) == 1
            await keeper.attempt(_job(ctx, Side.SALESFORCE))
            assert notifier.kinds()[-1] == [AlertKind.BUDGET_RESUMED]

    asyncio.run(scenario())


# -- a failing sync (issue 5 follow-up): API errors past the retries, the store, bugs ----------


async def _ok() -> int:
    return 1


def test_a_failing_side_is_announced_once_and_listeners_hear_its_recovery(world: World) -> None:
    world.connect(Side.HUBSPOT)
    world.connect(Side.SALESFORCE)
    notifier = FakeNotifier()
    heard: list[str] = []

    async def storm() -> int:
        raise Transient("hubspot", "HubSpot answered 503: busy", status=503)

    async def scenario() -> None:
        async with sync_context(
            world.config(), store=world.store, transports=world.transports, connect=False
        ) as ctx:
            keeper = _keeper(ctx, world, notifier)
            keeper.listeners.append(lambda: heard.append("recovered"))
            for _ in range(3):
                with pytest.raises(Transient):
                    await keeper.attempt(storm)
            assert notifier.kinds() == [[AlertKind.SYNC_FAILING]]
            assert "HubSpot answered 503: busy" in notifier.sent[0].alerts[0].text
            assert keeper.connections() == {
                "hubspot": "failing: HubSpot answered 503: busy",
                "salesforce": "ok",
            }
            # A Salesforce-only job proves nothing about HubSpot.
            await keeper.attempt(_job(ctx, Side.SALESFORCE), sides=[Side.SALESFORCE])
            assert heard == [] and len(notifier.sent) == 1
            await keeper.attempt(_job(ctx, Side.HUBSPOT), sides=[Side.HUBSPOT])
            assert heard == ["recovered"] and keeper.failing == {}
            assert notifier.kinds()[-1] == [AlertKind.SYNC_RECOVERED]

    asyncio.run(scenario())


def test_a_bug_fails_its_own_job_until_that_job_succeeds(world: World) -> None:
    world.connect(Side.HUBSPOT)
    world.connect(Side.SALESFORCE)
    notifier = FakeNotifier()

    async def bug() -> int:
        raise KeyError("Id")

    async def scenario() -> None:
        async with sync_context(
            world.config(), store=world.store, transports=world.transports, connect=False
        ) as ctx:
            keeper = _keeper(ctx, world, notifier)
            with pytest.raises(KeyError):
                await keeper.attempt(bug, name="reconcile")
            assert list(keeper.failing) == ["engine:reconcile"]
            assert keeper.failing["engine:reconcile"].startswith("unexpected KeyError: 'Id'")
            assert keeper.connections()["engine:reconcile"].startswith("failing: unexpected")
            await keeper.attempt(_ok, name="targeted sync")  # another job proves nothing
            assert list(keeper.failing) == ["engine:reconcile"]
            await keeper.attempt(_ok, name="reconcile")
            assert keeper.failing == {}
            assert notifier.kinds() == [[AlertKind.SYNC_FAILING], [AlertKind.SYNC_RECOVERED]]
            assert notifier.sent[0].alerts[0].subject == "Sync (reconcile)"

    asyncio.run(scenario())


def test_frequent_attempts_read_the_store_only_when_the_health_changed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.connect(Side.HUBSPOT)
    world.connect(Side.SALESFORCE)
    notifier = FakeNotifier()
    reads: list[int] = []
    groups = world.store.failures.groups

    def counted() -> Any:
        reads.append(1)
        return groups()

    monkeypatch.setattr(world.store.failures, "groups", counted)

    async def refused() -> int:
        raise AuthFailed("salesforce", api_code="INVALID_SESSION_ID")

    async def scenario() -> None:
        async with sync_context(
            world.config(), store=world.store, transports=world.transports, connect=False
        ) as ctx:
            keeper = _keeper(ctx, world, notifier)
            for _ in range(5):
                assert await keeper.attempt(_ok, digest=False) == 1
            assert reads == [] and notifier.sent == []
            with pytest.raises(AuthFailed):  # a targeted sync meets a refusal: alerted now
                await keeper.attempt(refused, digest=False)
            assert len(reads) == 1 and notifier.kinds() == [[AlertKind.AUTH_FAILED]]
            # The next attempt renews the side (its credentials are fine) and says so.
            assert await keeper.attempt(_ok, digest=False) == 1
            assert len(reads) == 2 and notifier.kinds()[-1] == [AlertKind.AUTH_RECOVERED]
            assert await keeper.attempt(_ok, digest=False) == 1
            assert len(reads) == 2

    asyncio.run(scenario())


def test_an_alert_that_cannot_be_sent_never_fails_the_attempt(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world.connect(Side.HUBSPOT)
    world.connect(Side.SALESFORCE)

    def store_down() -> Any:
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(world.store.failures, "groups", store_down)

    async def scenario() -> None:
        async with sync_context(
            world.config(), store=world.store, transports=world.transports, connect=False
        ) as ctx:
            keeper = _keeper(ctx, world, FakeNotifier())
            with caplog.at_level(logging.WARNING, logger="hubforce.engine.reconnect"):
                assert await keeper.attempt(_ok) == 1
                assert await keeper.attempt(_ok) == 1
            lines = [r.getMessage() for r in caplog.records]
            assert lines == [
                "Slack alert failed: the state store is unavailable (database is locked); fix: "
                "check that the database in connections.store.url is reachable"
            ]

    asyncio.run(scenario())


def test_connections_say_what_is_stopped_or_paused_and_what_to_do(world: World) -> None:
    world.connect(Side.HUBSPOT)
    world.connect(Side.SALESFORCE)

    async def refused() -> int:
        raise AuthFailed("salesforce", api_code="invalid_grant", api_message="expired")

    async def budget() -> int:
        raise RateLimited("hubspot", 900, "budget")

    async def scenario() -> None:
        async with sync_context(
            world.config(), store=world.store, transports=world.transports, connect=False
        ) as ctx:
            keeper = _keeper(ctx, world, FakeNotifier(), now_ms=lambda: 1_764_072_000_000)
            assert keeper.connections() == {"hubspot": "ok", "salesforce": "ok"}
            with pytest.raises(RateLimited):
                await keeper.attempt(budget, sides=[Side.HUBSPOT])
            with pytest.raises(AuthFailed):
                await keeper.attempt(refused, sides=[Side.SALESFORCE])
            assert keeper.connections() == {
                "hubspot": "paused by the API budget: next sync at 12:15",
                "salesforce": "stopped: Authentication failed: reauthorize Salesforce "
                "(Salesforce said: invalid_grant expired); fix: run `hubforce connect "
                "salesforce`, then sync again",
            }

    asyncio.run(scenario())
