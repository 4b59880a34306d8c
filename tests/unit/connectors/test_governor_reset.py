"""A governor paused by the daily budget looks again once the reset has passed.

A paused governor sends nothing, so no answer can tell it that the day rolled over; without
forgetting the old figure at the reset, a long-running sync would stay paused for good.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from hubforce.connectors.governor import hubspot_governor, salesforce_governor
from hubforce.errors import RateLimited
from tests.unit.connectors.conftest import FakeClock

pytestmark = pytest.mark.anyio

EVENING = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
SPENT = {"X-HubSpot-RateLimit-Daily": "1000", "X-HubSpot-RateLimit-Daily-Remaining": "0"}


async def test_hubspot_budget_pause_ends_at_utc_midnight(clock: FakeClock) -> None:
    now = [EVENING]
    gov = hubspot_governor(
        share=0.5, sleep=clock.sleep, monotonic=clock.monotonic, now=lambda: now[0]
    )
    gov.after("list", httpx.Response(429, headers=SPENT))
    with pytest.raises(RateLimited) as caught:
        await gov.before("list")
    assert caught.value.window == "budget" and caught.value.retry_after == 3600
    now[0] = EVENING + timedelta(minutes=59)
    with pytest.raises(RateLimited):
        await gov.before("list")
    now[0] = EVENING + timedelta(hours=1, seconds=1)  # the next day
    await gov.before("list")  # sent: the answer brings today's figure
    fresh = {"X-HubSpot-RateLimit-Daily": "1000", "X-HubSpot-RateLimit-Daily-Remaining": "999"}
    gov.after("list", httpx.Response(200, headers=fresh))
    assert gov.usage is not None and gov.usage.used == 1


async def test_salesforce_pause_looks_again_after_the_pause(clock: FakeClock) -> None:
    now = [EVENING]
    gov = salesforce_governor(
        share=0.5, pause=900, sleep=clock.sleep, monotonic=clock.monotonic, now=lambda: now[0]
    )
    gov.after("query", httpx.Response(200, headers={"Sforce-Limit-Info": "api-usage=600/1000"}))
    with pytest.raises(RateLimited) as caught:
        await gov.before("query")
    assert caught.value.retry_after == 900
    now[0] = EVENING + timedelta(seconds=901)
    await gov.before("query")  # one look: the rolling 24 h may have freed calls
    assert gov.usage is None
