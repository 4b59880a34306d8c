"""Credentials renewed while running: a long-running process picks them up on its own.

`hubforce sync` (without --once) and `hubforce run` keep one `SyncContext` for their life. When
a side's credentials are refused (AuthFailed: a revoked grant, a rotated client secret), the
`Reconnector` marks that side; before the next attempt, which comes on the process's normal
interval (it never retries by itself), it rebuilds that side's connection from the
configuration file as it is now and from the store (where a new `hubforce connect` put its
refresh token), checks it with one token grant (no API call), and swaps it into the existing
client. The client object stays, with its governor and call counts, so everything holding it
(the poller, workflows, targeted syncs) carries on with the new credentials.

After each attempt it sends the alert digest with the connections' health: a failed
authentication once, and its recovery once (when renewed credentials were granted a token, or
an attempt using the side succeeded); likewise a budget pause and its end, and a failing sync
(API errors that outlast the retries, an unreachable store, a bug) and its end. Anything
recovered also calls the `listeners` (e.g. `hubforce run` then retries the targeted syncs that
waited for the side).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import TypeVar

import httpx

from hubforce.alerts.notices import Notices, describe
from hubforce.alerts.signals import failing_subject, signals_from_outcome
from hubforce.alerts.slack import notifier_from_config
from hubforce.alerts.state import Notifier, alert_after_attempt
from hubforce.config.model import HubforceConfig
from hubforce.connectors.http import RetryPolicy
from hubforce.connectors.hubspot.auth import HubSpotOAuth
from hubforce.connectors.hubspot.client import HubSpotClient
from hubforce.connectors.salesforce.auth import SalesforceOAuth
from hubforce.connectors.salesforce.client import SalesforceClient
from hubforce.engine.context import SyncContext, wall_clock_ms
from hubforce.engine.runner import Transports, side_client
from hubforce.errors import AuthFailed, ConfigError, HubforceError, RateLimited
from hubforce.sync.model import Side

log = logging.getLogger("hubforce.engine.reconnect")

T = TypeVar("T")
BOTH = (Side.HUBSPOT, Side.SALESFORCE)
#: (refused sides, paused sides, failing subjects): what the digest compares.
_Health = tuple[frozenset[Side], frozenset[Side], frozenset[str]]
_HEALTHY: _Health = (frozenset(), frozenset(), frozenset())


def _reason(error: AuthFailed) -> str:
    return signals_from_outcome(error, now_ms=0).auth_failed.get(error.side, "")


async def check_credentials(client: HubSpotClient | SalesforceClient) -> bool:
    """Ask for a token with the client's credentials now; True if one was granted, False
    when the credentials cannot be checked without an API call (a private-app token).
    AuthFailed when they are refused."""
    if isinstance(client, SalesforceClient):
        if not isinstance(client.auth, SalesforceOAuth):
            return False
        await client.connect()  # logs in when the instance URL comes from the login
        if client.auth.logins == 0:
            await client.auth.login(client.session.client)
        return True
    auth = client.session.client.auth
    if isinstance(auth, HubSpotOAuth):
        await auth.refresh(client.session.client)
        return True
    return False


class Reconnector:
    """Renews refused connections of a long-lived `SyncContext` and alerts on its health."""

    def __init__(
        self,
        ctx: SyncContext,
        *,
        reload: Callable[[], HubforceConfig],
        notifier: Notifier | None = None,
        on_recovery: bool = True,
        transports: Transports | None = None,
        verify: bool | str = True,
        retry_every: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        now_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.ctx = ctx
        self.reload = reload
        self.notifier = notifier
        self.on_recovery = on_recovery
        self.transports = dict(transports or {})
        self.verify = verify
        self.retry_every = retry_every
        self.monotonic = monotonic
        self.now_ms = now_ms
        #: Sides whose credentials were refused, with the refusal.
        self.failed: dict[Side, AuthFailed] = {}
        #: Sides paused by a daily limit or budget, with the "HH:MM" of the next sync.
        self.paused: dict[Side, str] = {}
        #: Renewed sides that could not be checked without an API call: the next attempt tells.
        self.unproven: set[Side] = set()
        #: What keeps whole attempts failing, by subject (hubspot | salesforce | store |
        #: engine:<job>), with the error's one-line description.
        self.failing: dict[str, str] = {}
        #: Called (no arguments) when something recovers: a side renewed or working again.
        self.listeners: list[Callable[[], object]] = []
        self.renewals = 0
        self._announced: _Health = _HEALTHY
        self._notices = Notices()
        self._tried: dict[Side, float] = {}
        self._renewing = asyncio.Lock()
        self._alerting = asyncio.Lock()

    @classmethod
    def for_config(
        cls,
        ctx: SyncContext,
        config: HubforceConfig,
        *,
        reload: Callable[[], HubforceConfig] | None = None,
        transports: Transports | None = None,
        verify: bool | str = True,
        retry_every: float = 0.0,
    ) -> Reconnector:
        """One for `config`: its Slack notifier and recovery setting; `reload` reads the
        configuration file again (without it, only a token in the store can be renewed)."""
        return cls(
            ctx,
            reload=reload or (lambda: config),
            notifier=notifier_from_config(config.alerts),
            on_recovery=config.alerts.on_recovery,
            transports=transports,
            verify=verify,
            retry_every=retry_every,
        )

    async def attempt(
        self,
        job: Callable[[], Awaitable[T]],
        *,
        sides: Collection[Side] = BOTH,
        name: str = "sync",
        digest: bool = True,
        track_failures: bool = True,
    ) -> T:
        """Renew what failed, run `job` (which uses `sides`), record how it went and send the
        digest. The job's errors are re-raised after that; so is the refusal of renewed
        credentials for a side the job needs, without running it.

        `name` names the job in an unexpected error's subject (`engine:<name>`), cleared by
        that job's next success only. With `digest=False` (frequent small jobs: targeted syncs,
        workflow calls) the digest is sent only when the connections' health changed, so the
        store's failure groups are not read on every call. Without `track_failures`, only
        refused authentication and rate limits are recorded (a workflow action's other errors
        are its run's own business).
        """
        before = self._health()
        try:
            await self.renew(sides)
            result = await job()
        except ConfigError:
            raise  # a broken configuration stops the process: nothing to announce
        except (AuthFailed, RateLimited) as exc:
            self._observe(exc)
            await self._settle(before, digest)
            raise
        except Exception as exc:
            subject = failing_subject(exc) if track_failures else None
            if subject is not None:
                key = f"engine:{name}" if subject == "engine" else subject
                self.failing[key] = describe(exc, fix=False)
            await self._settle(before, digest)
            raise
        for side in sides:
            self.failed.pop(side, None)
            self.paused.pop(side, None)
            self.unproven.discard(side)
            self.failing.pop(side.value, None)
        self.failing.pop("store", None)  # the job ran: the store answered
        self.failing.pop(f"engine:{name}", None)
        await self._settle(before, digest)
        return result

    def _health(self) -> _Health:
        return (frozenset(self.failed), frozenset(self.paused), frozenset(self.failing))

    async def _settle(self, before: _Health, digest: bool) -> None:
        """After an attempt: tell the listeners what recovered, then send the digest."""
        now = self._health()
        if any(old - new for old, new in zip(before, now, strict=True)):
            for listener in list(self.listeners):
                try:
                    listener()
                except Exception:  # a listener's bug must not fail the attempt
                    log.exception("recovery listener failed")
        if digest or now != self._announced:
            await self.alert()

    def connections(self) -> dict[str, str]:
        """Per side (and store/engine when failing): "ok", or why it is stopped, paused or
        failing, with what to do (for `/readyz`)."""
        out: dict[str, str] = {}
        for side in BOTH:
            if side in self.failed:
                out[side.value] = f"stopped: {describe(self.failed[side])}"
            elif side in self.paused:
                out[side.value] = f"paused by the API budget: next sync at {self.paused[side]}"
            elif side.value in self.failing:
                out[side.value] = f"failing: {self.failing[side.value]}"
            else:
                out[side.value] = "ok"
        for subject, reason in sorted(self.failing.items()):
            out.setdefault(subject, f"failing: {reason}")
        return out

    def _observe(self, error: AuthFailed | RateLimited) -> None:
        side = Side(error.side)
        if isinstance(error, AuthFailed):
            self.failed[side] = error
            self.unproven.discard(side)
            return
        paused = signals_from_outcome(error, now_ms=self.now_ms()).paused
        if error.side in paused:
            self.paused[side] = paused[error.side]

    async def renew(self, sides: Collection[Side] = BOTH) -> None:
        """Rebuild every refused side's connection from the current configuration and store
        (at most once per `retry_every` each); raise the refusal of a side in `sides` that
        is still refused."""
        async with self._renewing:
            for side in list(self.failed):
                if side in self.unproven:
                    continue
                last = self._tried.get(side)
                if last is not None and self.monotonic() - last < self.retry_every:
                    continue
                self._tried[side] = self.monotonic()
                await self._renew(side)
        for side in sides:
            if side in self.failed and side not in self.unproven:
                raise self.failed[side]

    async def _renew(self, side: Side) -> None:
        current: HubSpotClient | SalesforceClient = (
            self.ctx.hubspot if side is Side.HUBSPOT else self.ctx.salesforce
        )
        try:
            config = self.reload()
            fresh = side_client(
                config,
                side,
                store=self.ctx.store,
                transport=self.transports.get(side),
                policy=self._policy(current),
                verify=self.verify,
                governor=current.governor,
            )
        except HubforceError as exc:  # a file mid-edit, no token stored yet...
            log.warning("%s credentials not renewed: %s", side.value, exc)
            if isinstance(exc, AuthFailed):
                self.failed[side] = exc
            return
        try:
            checked = await check_credentials(fresh)
        except AuthFailed as exc:
            self.failed[side] = exc  # still refused: the next interval tries again
            await fresh.aclose()
            return
        except (HubforceError, httpx.HTTPError) as exc:
            log.warning("%s credentials not checked: %s", side.value, type(exc).__name__)
            await fresh.aclose()
            return
        if isinstance(current, HubSpotClient):
            assert isinstance(fresh, HubSpotClient)
            current.swap_connection(fresh)
        else:
            assert isinstance(fresh, SalesforceClient)
            current.swap_connection(fresh)
        await fresh.aclose()  # now holds the old connection
        self.renewals += 1
        if checked:
            del self.failed[side]
            log.info("%s credentials renewed: a token was granted", side.value)
        else:
            self.unproven.add(side)

    @staticmethod
    def _policy(client: HubSpotClient | SalesforceClient) -> RetryPolicy:
        return client.session.policy

    async def alert(self) -> None:
        """Send the digest for the health now (nothing when nothing changed)."""
        if self.notifier is None:
            return
        async with self._alerting:  # two jobs ending together must not announce twice
            health = self._health()
            try:
                await alert_after_attempt(
                    self.ctx.store,
                    self.notifier,
                    auth_failed={side.value: _reason(e) for side, e in self.failed.items()},
                    paused={side.value: until for side, until in self.paused.items()},
                    failing=dict(self.failing),
                    on_recovery=self.on_recovery,
                )
            except Exception as exc:  # e.g. the store is down: an alert never fails a sync
                notice = self._notices.failed("Slack alert", exc)
                if notice is not None:
                    log.warning("%s", notice.text, exc_info=exc if notice.traceback else None)
                return
            notice = self._notices.succeeded("Slack alert")
            if notice is not None:
                log.warning("%s", notice.text)
            self._announced = health


__all__ = ["BOTH", "Reconnector", "check_credentials"]
