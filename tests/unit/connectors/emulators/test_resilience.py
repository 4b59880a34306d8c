"""Retries, auth refresh and the governor against the emulators' faults and real rate limiters.

The governor and retry policy sleep on a fake clock that also advances the (frozen) emulator
clock, so the limiters see exactly the time the client waited, and no test really waits.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hubforce.connectors.governor import Governor, hubspot_governor, salesforce_governor
from hubforce.connectors.http import RetryPolicy
from hubforce.connectors.hubspot.auth import PrivateAppToken
from hubforce.connectors.hubspot.client import HubSpotClient
from hubforce.connectors.salesforce.auth import PasswordGrant
from hubforce.connectors.salesforce.client import SalesforceClient
from hubforce.emulators.hubspot.app import create_app as create_hubspot
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import SalesforceEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce
from hubforce.errors import RateLimited, Transient

pytestmark = pytest.mark.anyio

HS = "http://hubspot.emulator.test"
SF = "http://salesforce.emulator.test"


class SharedClock:
    """Client-side fake time that moves the emulator's frozen clock along with it."""

    def __init__(self, app: Any) -> None:
        self.backend = app.state.backend
        self.backend.clock.freeze(True)
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.backend.clock.advance(seconds)


def set_faults(app: Any, *rules: dict[str, Any]) -> None:
    from hubforce.emulators.common.faults import FaultRule

    app.state.backend.faults.set_rules([FaultRule(**rule) for rule in rules])


def hubspot(app: Any, clock: SharedClock, governor: Governor | None = None) -> HubSpotClient:
    return HubSpotClient(
        HS,
        auth=PrivateAppToken("emulator-token"),
        transport=httpx.ASGITransport(app=app),
        governor=governor or hubspot_governor(sleep=clock.sleep, monotonic=clock.monotonic),
        policy=RetryPolicy(max_attempts=5, sleep=clock.sleep),
    )


def salesforce(app: Any, clock: SharedClock, *, share: float = 0.5) -> SalesforceClient:
    creds = SalesforceEmulatorSettings().org_config().credentials
    auth = PasswordGrant(
        login_url=SF,
        client_id=creds.consumer_key,
        client_secret=creds.consumer_secret,
        username=creds.username,
        password=creds.password + creds.security_token,
    )
    return SalesforceClient(
        auth=auth,
        transport=httpx.ASGITransport(app=app),
        governor=salesforce_governor(share=share, sleep=clock.sleep, monotonic=clock.monotonic),
        policy=RetryPolicy(max_attempts=5, sleep=clock.sleep),
    )


async def test_governor_keeps_a_free_tier_burst_free_of_429s() -> None:
    app = create_hubspot(HubSpotEmulatorSettings(tier="free"))
    clock = SharedClock(app)
    async with hubspot(app, clock) as hs:
        for _ in range(230):
            await hs.properties("contacts")
        assert hs.calls.rate_limited == 0
        assert hs.calls.total == 230
    # 230 calls at 100 per ten seconds cannot take less than 20 s; the pacer adds only slack.
    assert 20.0 <= clock.now <= 20.0 * 1.05


async def test_without_pacing_the_emulator_answers_429_and_retries_absorb_them() -> None:
    app = create_hubspot(HubSpotEmulatorSettings(tier="free"))
    clock = SharedClock(app)
    unpaced = Governor("hubspot", sleep=clock.sleep, monotonic=clock.monotonic)
    async with hubspot(app, clock, unpaced) as hs:
        for _ in range(130):
            await hs.properties("contacts")
        assert hs.calls.rate_limited >= 1
        assert hs.calls.total > 130


async def test_503_storm_on_batch_update_is_retried_then_succeeds() -> None:
    app = create_hubspot(HubSpotEmulatorSettings(tier="enterprise"))
    clock = SharedClock(app)
    async with hubspot(app, clock) as hs:
        rid = (await hs.create("contacts", [{"email": "storm@example.com"}]))[0].id
        assert rid is not None
        set_faults(
            app, {"route": "/crm/v3/objects/contacts/batch/update", "sequence": ["503", "503"]}
        )
        results = await hs.update("contacts", [(rid, {"firstname": "Calm"})])
        assert results[0].ok
        assert hs.calls.by_kind["batch_update"] == 3
        found = await hs.read("contacts", [rid], ["firstname"])
    assert found[rid].values["firstname"] == "Calm"
    assert len(clock.sleeps) == 2


async def test_503_storm_longer_than_the_attempts_ends_in_transient() -> None:
    app = create_hubspot(HubSpotEmulatorSettings(tier="enterprise"))
    clock = SharedClock(app)
    set_faults(app, {"route": "/crm/v3/properties/*", "fault": "503"})
    async with hubspot(app, clock) as hs:
        with pytest.raises(Transient) as caught:
            await hs.properties("contacts")
        assert hs.calls.total == 5
    assert caught.value.status == 503


async def test_search_429_waits_the_window_then_reads() -> None:
    app = create_hubspot(HubSpotEmulatorSettings(tier="enterprise"))
    clock = SharedClock(app)
    async with hubspot(app, clock) as hs:
        await hs.create("contacts", [{"email": f"p{n}@example.com"} for n in range(3)])
        set_faults(app, {"route": "/crm/v3/objects/contacts/search", "sequence": ["429"]})
        seen = [r async for p in hs.changed_since("contacts", 0, ["email"]) for r in p.records]
        assert len(seen) == 3
        assert hs.calls.rate_limited == 1
    assert max(clock.sleeps) >= 10.0


async def test_locked_row_on_a_create_is_retried_without_a_duplicate() -> None:
    app = create_salesforce(SalesforceEmulatorSettings())
    clock = SharedClock(app)
    async with salesforce(app, clock) as sf:
        set_faults(
            app,
            {
                "route": "/services/data/*/composite/sobjects",
                "method": "POST",
                "sequence": ["unable_to_lock_row"],
            },
        )
        results = await sf.create(
            "Lead", [{"LastName": "Once", "Company": "C", "Email": "once@example.com"}]
        )
        assert results[0].ok
        assert sf.calls.by_kind["collections_create"] == 2
        found = await sf.find_by("Lead", "Email", ["once@example.com"], [])
    assert [r.id for r in found] == [results[0].id]


async def test_500_on_a_create_is_not_resent() -> None:
    app = create_salesforce(SalesforceEmulatorSettings())
    clock = SharedClock(app)
    async with salesforce(app, clock) as sf:
        set_faults(
            app,
            {"route": "/services/data/*/composite/sobjects", "method": "POST", "sequence": ["500"]},
        )
        with pytest.raises(Transient):
            await sf.create(
                "Lead", [{"LastName": "Maybe", "Company": "C", "Email": "maybe@example.com"}]
            )
        assert sf.calls.by_kind["collections_create"] == 1


async def test_expired_session_mid_sync_refreshes_once() -> None:
    app = create_salesforce(SalesforceEmulatorSettings())
    clock = SharedClock(app)
    async with salesforce(app, clock) as sf:
        set_faults(app, {"route": "/services/data/*/limits*", "sequence": ["expired_session"]})
        limits = await sf.limits()
        assert limits["DailyApiRequests"]["Max"] > 0
        assert isinstance(sf.auth, PasswordGrant) and sf.auth.logins == 2


async def test_budget_share_pauses_before_the_org_limit() -> None:
    app = create_salesforce(SalesforceEmulatorSettings())
    clock = SharedClock(app)
    app.state.backend.set_limits({"daily_api_requests": 1000, "used": 498})
    async with salesforce(app, clock, share=0.5) as sf:
        await sf.describe_global()  # usage now 499/1000: under the 500 share
        await sf.describe_global()  # 500/1000
        with pytest.raises(RateLimited) as caught:
            await sf.describe_global()
        assert sf.calls.total == 2
    assert caught.value.window == "budget"


async def test_request_limit_exceeded_surfaces_as_rate_limited() -> None:
    app = create_salesforce(SalesforceEmulatorSettings())
    clock = SharedClock(app)
    async with salesforce(app, clock) as sf:
        set_faults(app, {"route": "/services/data/*/query*", "fault": "request_limit_exceeded"})
        with pytest.raises(RateLimited) as caught:
            async for _ in sf.query("SELECT Id FROM Lead"):
                pass
        assert sf.calls.total == 1
    assert caught.value.window == "daily"
