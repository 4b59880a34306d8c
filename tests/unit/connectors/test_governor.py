"""Governor: burst windows from our own sends, slow-down near the budget, pause at it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from hubforce.connectors.governor import (
    DailyUsage,
    hubspot_governor,
    hubspot_usage,
    salesforce_governor,
    salesforce_usage,
    seconds_to_utc_midnight,
)
from hubforce.errors import RateLimited
from tests.unit.connectors.conftest import FakeClock

pytestmark = pytest.mark.anyio

NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_usage_headers_are_parsed() -> None:
    assert hubspot_usage(
        {"X-HubSpot-RateLimit-Daily": "250000", "X-HubSpot-RateLimit-Daily-Remaining": "249991"}
    ) == DailyUsage(used=9, limit=250000)
    assert hubspot_usage({}) is None
    assert salesforce_usage({"Sforce-Limit-Info": "api-usage=18/15000"}) == DailyUsage(18, 15000)
    assert salesforce_usage(
        {"Sforce-Limit-Info": "api-usage=10018/100000; api-bursts=1/750"}
    ) == DailyUsage(10018, 100000)
    assert salesforce_usage({"Sforce-Limit-Info": "garbage"}) is None


def test_seconds_to_utc_midnight() -> None:
    assert seconds_to_utc_midnight(NOON) == 12 * 3600


async def test_ten_second_window_paces_the_burst_without_a_429(clock: FakeClock) -> None:
    gov = hubspot_governor(burst=3, sleep=clock.sleep, monotonic=clock.monotonic, now=lambda: NOON)
    for _ in range(3):
        await gov.before("list")
    assert clock.sleeps == []
    await gov.before("list")
    assert clock.sleeps == [pytest.approx(10.05)]
    # The search limiter is separate: five a second, not counted in the ten-second window.
    for _ in range(5):
        await gov.before("search")
    assert len(clock.sleeps) == 1
    await gov.before("search")
    assert clock.sleeps[-1] == pytest.approx(1.05)


async def test_budget_share_pauses_with_rate_limited(clock: FakeClock) -> None:
    gov = hubspot_governor(
        share=0.5, sleep=clock.sleep, monotonic=clock.monotonic, now=lambda: NOON
    )
    headers = {"X-HubSpot-RateLimit-Daily": "1000", "X-HubSpot-RateLimit-Daily-Remaining": "500"}
    gov.after("list", httpx.Response(200, headers=headers))
    assert gov.budget == 500
    with pytest.raises(RateLimited) as caught:
        await gov.before("list")
    assert caught.value.window == "budget"
    assert caught.value.retry_after == 12 * 3600


async def test_near_the_budget_sends_are_spread_until_the_reset(clock: FakeClock) -> None:
    gov = salesforce_governor(share=0.5, pause=600, sleep=clock.sleep, monotonic=clock.monotonic)
    gov.after("query", httpx.Response(200, headers={"Sforce-Limit-Info": "api-usage=460/1000"}))
    await gov.before("query")
    # 460 >= 0.9 * 500: 40 calls left, spread over the 600 s pause horizon.
    assert clock.sleeps == [pytest.approx(600 / 40)]
    gov.after("query", httpx.Response(200, headers={"Sforce-Limit-Info": "api-usage=100/1000"}))
    await gov.before("query")
    assert len(clock.sleeps) == 1


async def test_burst_follows_the_headers_and_waits_when_others_spent_it(clock: FakeClock) -> None:
    gov = hubspot_governor(
        burst=100, sleep=clock.sleep, monotonic=clock.monotonic, now=lambda: NOON
    )
    headers = {
        "X-HubSpot-RateLimit-Max": "2",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Remaining": "1",
    }
    gov.after("list", httpx.Response(200, headers=headers))
    await gov.before("list")
    await gov.before("list")
    await gov.before("list")  # the tier's window is 2, not the configured 100
    assert clock.sleeps == [pytest.approx(10.05)]
    spent = {**headers, "X-HubSpot-RateLimit-Remaining": "0"}
    clock.now += 60
    gov.after("list", httpx.Response(200, headers=spent))  # another worker used the window
    await gov.before("list")
    assert clock.sleeps[-1] == pytest.approx(10.0)
