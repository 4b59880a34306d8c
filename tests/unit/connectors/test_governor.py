"""Governor: burst windows from our own sends, slow-down near the budget, pause at it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from hubforce.connectors.governor import (
    DailyUsage,
    Governor,
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


async def send(gov: Governor, kind: str, headers: dict[str, str] | None = None) -> None:
    """One call as the HTTP layer makes it: ask the governor, then hand it the answer."""
    await gov.before(kind)
    gov.after(kind, httpx.Response(200, headers=headers or {}))


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
        await send(gov, "list")
    assert clock.sleeps == []
    await send(gov, "list")
    assert clock.sleeps == [pytest.approx(10.05)]
    # The search limiter is separate: five a second, not counted in the ten-second window.
    for _ in range(5):
        await send(gov, "search")
    assert len(clock.sleeps) == 1
    await send(gov, "search")
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
    await send(gov, "list", headers)
    await send(gov, "list", headers)
    await send(gov, "list", headers)  # the tier's window is 2, not the configured 100
    assert clock.sleeps == [pytest.approx(10.05)]
    spent = {**headers, "X-HubSpot-RateLimit-Remaining": "0"}
    clock.now += 60
    gov.after("list", httpx.Response(200, headers=spent))  # another worker used the window
    await gov.before("list")
    assert clock.sleeps[-1] == pytest.approx(10.0)


async def test_window_counts_a_send_from_its_answer_so_slow_arrivals_get_no_429(
    clock: FakeClock,
) -> None:
    # The demo's 429 "secondly": five searches sent at t, answered (so arrived at the server up
    # to) 0.4 s later; a sixth sent 1.1 s after t would land 0.7 s after them, inside the
    # server's one-second window. It must wait until one second after the answers.
    gov = hubspot_governor(sleep=clock.sleep, monotonic=clock.monotonic, now=lambda: NOON)
    for _ in range(5):
        await gov.before("search")
    clock.now += 0.4
    for _ in range(5):
        gov.after("search", httpx.Response(200))
    clock.now += 0.7
    await gov.before("search")
    assert clock.sleeps == [pytest.approx(0.35)]


async def test_a_full_window_of_sends_in_flight_waits_for_their_answers(clock: FakeClock) -> None:
    gov = hubspot_governor(sleep=clock.sleep, monotonic=clock.monotonic, now=lambda: NOON)
    for _ in range(5):
        await gov.before("search")
    window = gov.windows["search"][0]
    clock.now += 5.0  # nothing answered yet: the five may all still arrive now
    assert window.wait_time(clock.now) == pytest.approx(0.05)
    for _ in range(5):
        gov.after("search", httpx.Response(200))
    assert window.wait_time(clock.now) == pytest.approx(1.05)
    # A send never answered (a transport error) stops counting after the pending timeout.
    await gov.before("search")
    clock.now += window.pending_timeout + window.seconds + 1
    assert window.count(clock.now) == 0


async def test_sends_in_flight_count_against_the_budget_so_concurrent_ones_never_overshoot(
    clock: FakeClock,
) -> None:
    gov = salesforce_governor(share=0.5, sleep=clock.sleep, monotonic=clock.monotonic)
    gov.slow_at = 1.0  # no spreading: only the budget's edge is under test
    gov.after("query", httpx.Response(200, headers={"Sforce-Limit-Info": "api-usage=6/20"}))
    let_through = 0
    refused = 0
    for _ in range(8):  # eight chunks asked for at once, none answered yet
        try:
            await gov.before("query")
            let_through += 1
        except RateLimited as exc:
            assert exc.window == "budget"
            refused += 1
    assert (let_through, refused) == (4, 4)  # 6 used + 4 in flight = the budget of 10
    gov.unanswered()  # one of them failed on the wire: it spent nothing we know of
    await gov.before("query")
    for _ in range(4):  # the answers come back, each with the server's count
        gov.after("query", httpx.Response(200, headers={"Sforce-Limit-Info": "api-usage=9/20"}))
    assert gov.in_flight == 0
    await gov.before("query")  # 9 used: one more fits
    with pytest.raises(RateLimited):
        await gov.before("query")
