"""Per-side API budget: pace inside burst windows, slow down near the daily share, then pause.

The governor sits before every request (`before(kind)`) and reads every response's usage headers
(`after(kind, response)`). Burst windows are counted locally from our own sends, so the limit is
never reached by us (HubSpot's ten-second window; the search API's per-second limit). The daily
budget is `share` of the side's daily limit as the API reports it (HubSpot
`X-HubSpot-RateLimit-Daily[-Remaining]`, Salesforce `Sforce-Limit-Info: api-usage=U/M`): past
`slow_at` of that budget sends are spread over the time left until the reset; at the budget the
governor raises RateLimited(window="budget") instead of sending, and the cycle pauses.
"""

from __future__ import annotations

import asyncio
import re
import time
from bisect import bisect_right, insort
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from hubforce.errors import RateLimited

Sleep = Callable[[float], Awaitable[None]]

_SF_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """Calls used and allowed today, as last reported by the API."""

    used: int
    limit: int


def hubspot_usage(headers: Mapping[str, str]) -> DailyUsage | None:
    """Daily usage from HubSpot's rate-limit headers (absent on search and OAuth calls)."""
    limit = headers.get("X-HubSpot-RateLimit-Daily")
    remaining = headers.get("X-HubSpot-RateLimit-Daily-Remaining")
    if limit is None or remaining is None:
        return None
    try:
        total = int(limit)
        return DailyUsage(used=max(0, total - int(remaining)), limit=total)
    except ValueError:
        return None


def salesforce_usage(headers: Mapping[str, str]) -> DailyUsage | None:
    """Daily usage from `Sforce-Limit-Info: api-usage=18/15000`."""
    match = _SF_USAGE.search(headers.get("Sforce-Limit-Info", ""))
    if match is None:
        return None
    return DailyUsage(used=int(match.group(1)), limit=int(match.group(2)))


def hubspot_burst(headers: Mapping[str, str]) -> tuple[int, float, int] | None:
    """(max, interval seconds, remaining) of HubSpot's burst window, from its headers."""
    try:
        limit = int(headers["X-HubSpot-RateLimit-Max"])
        interval = int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")) / 1000
        remaining = int(headers.get("X-HubSpot-RateLimit-Remaining", str(limit)))
    except (KeyError, ValueError):
        return None
    return limit, interval, remaining


class Window:
    """A rolling window of our own sends: at most `limit` in any `seconds`.

    The server counts arrival times, which trail our send times by a latency that varies (a
    loaded machine, TLS, a slow proxy), so a send is counted from the moment its response comes
    back (`confirm`), the latest time it can have arrived; until then it stays in the window.
    A send never answered (a transport error) is taken as answered `pending_timeout` after it
    left. `slack` still widens the window for clock granularity.
    """

    def __init__(
        self, limit: int, seconds: float, slack: float = 0.05, pending_timeout: float = 120.0
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self.slack = slack
        self.pending_timeout = pending_timeout
        self._pending: deque[float] = deque()  # send times of requests not answered yet
        self._sent: list[float] = []  # answer times, sorted
        self.blocked_until = 0.0

    def _prune(self, now: float) -> None:
        while self._pending and self._pending[0] <= now - self.pending_timeout:
            insort(self._sent, self._pending.popleft() + self.pending_timeout)
        span = self.seconds + self.slack
        cut = bisect_right(self._sent, now - span)
        if cut:
            del self._sent[:cut]

    def wait_time(self, now: float) -> float:
        """Seconds until one more send fits (0 when it fits now)."""
        self._prune(now)
        wait = max(0.0, self.blocked_until - now)
        over = len(self._pending) + len(self._sent) - self.limit
        if over >= 0:
            if over < len(self._sent):
                wait = max(wait, self._sent[over] + self.seconds + self.slack - now)
            else:
                # Full of requests still in flight: at best the oldest is answered right away.
                oldest = self._pending[over - len(self._sent)]
                wait = max(wait, self.slack, oldest + self.seconds + self.slack - now)
        return wait

    def count(self, now: float) -> int:
        """Our sends still inside the window at `now`."""
        self._prune(now)
        return len(self._pending) + len(self._sent)

    def record(self, now: float) -> None:
        """Count one send leaving at `now` (in the window until answered, then from then)."""
        self._pending.append(now)

    def confirm(self, now: float) -> None:
        """An answer came back at `now`: the oldest send in flight arrived by then."""
        if self._pending:
            self._pending.popleft()
            insort(self._sent, now)


class Governor:
    """One side's pacing and budget; clock and sleep are injectable for tests."""

    def __init__(
        self,
        side: str,
        *,
        windows: Mapping[str, list[Window]] | None = None,
        share: float = 0.5,
        slow_at: float = 0.9,
        usage_reader: Callable[[Mapping[str, str]], DailyUsage | None] | None = None,
        burst_reader: Callable[[Mapping[str, str]], tuple[int, float, int] | None] | None = None,
        daily_reset: Callable[[datetime], float] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Sleep = asyncio.sleep,
        max_spread_delay: float = 60.0,
    ) -> None:
        self.side = side
        self.windows = {kind: list(ws) for kind, ws in (windows or {}).items()}
        self.share = share
        self.slow_at = slow_at
        self.usage_reader = usage_reader
        self.burst_reader = burst_reader
        self.daily_reset = daily_reset or seconds_to_utc_midnight
        self.monotonic = monotonic
        self.now = now
        self.sleep = sleep
        self.max_spread_delay = max_spread_delay
        self.usage: DailyUsage | None = None
        # When the reported usage stops being true (the daily reset after it was read): a
        # paused governor sends nothing, so it would never hear that the reset happened.
        self.usage_until: datetime | None = None
        self.slept = 0.0
        # Sends let through and not answered yet: the usage an answer reports may not count
        # them, so the budget counts them on top (a batch's chunks go several at a time).
        self.in_flight = 0

    @property
    def budget(self) -> int | None:
        """Calls we may spend today (share of the reported daily limit), when known."""
        return None if self.usage is None else int(self.usage.limit * self.share)

    def _windows_for(self, kind: str) -> list[Window]:
        return self.windows.get(kind) or self.windows.get("*", [])

    async def before(self, kind: str) -> None:
        """Wait until a send of `kind` fits every window; raise RateLimited past the budget.
        The send counts against the budget from now until `after` or `unanswered`."""
        spread = self._reserve()  # before any await: concurrent sends see each other
        try:
            if spread:
                await self._sleep(spread)
            windows = self._windows_for(kind)
            while True:
                now = self.monotonic()
                wait = max((w.wait_time(now) for w in windows), default=0.0)
                if wait <= 0:
                    break
                await self._sleep(wait)
        except BaseException:
            self.unanswered()
            raise
        now = self.monotonic()
        for window in windows:
            window.record(now)

    def unanswered(self) -> None:
        """A send `before` let through got no answer (a transport error, a cancellation)."""
        self.in_flight = max(0, self.in_flight - 1)

    def after(self, kind: str, response: httpx.Response) -> None:
        """Read usage headers of a response (every response, errors included)."""
        self.in_flight = max(0, self.in_flight - 1)
        now = self.monotonic()
        for window in self._windows_for(kind):
            window.confirm(now)
        if self.usage_reader is not None:
            usage = self.usage_reader(response.headers)
            if usage is not None:
                self.usage = usage
                read_at = self.now()
                self.usage_until = read_at + timedelta(seconds=self.daily_reset(read_at))
        burst = self.burst_reader(response.headers) if self.burst_reader else None
        windows = self.windows.get("*")
        if burst is not None and windows:
            limit, interval, remaining = burst
            # The API tells the real window (its tier); follow it rather than a guess.
            windows[0].limit, windows[0].seconds = limit, interval
            if remaining <= 0 and windows[0].count(self.monotonic()) < limit:
                # Someone else (another worker of this app) spent the window: wait it out.
                windows[0].blocked_until = self.monotonic() + interval

    def _reserve(self) -> float:
        """Count one send against the budget, or raise RateLimited at it; the seconds to
        wait first when past `slow_at` of it (sends spread over the time to the reset)."""
        if self.usage_until is not None and self.now() >= self.usage_until:
            self.usage = self.usage_until = None  # past the reset: the next answer tells
        usage, budget = self.usage, self.budget
        if usage is None or budget is None:
            self.in_flight += 1
            return 0.0
        used = usage.used + self.in_flight
        reset_in = self.daily_reset(self.now())
        if used >= budget:
            raise RateLimited(self.side, reset_in, "budget")
        self.in_flight += 1
        if used >= budget * self.slow_at:
            return min(self.max_spread_delay, reset_in / max(1, budget - used))
        return 0.0

    async def _sleep(self, seconds: float) -> None:
        self.slept += seconds
        await self.sleep(seconds)


def seconds_to_utc_midnight(now: datetime) -> float:
    """Seconds from `now` to the next midnight UTC (HubSpot's daily reset, UTC assumed)."""
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


def rolling_day_pause(seconds: float = 900.0) -> Callable[[datetime], float]:
    """Salesforce's allocation is a rolling 24 h: pause a fixed while, then look again."""
    return lambda _now: seconds


def hubspot_governor(
    *,
    burst: int = 100,
    search_per_second: int = 5,
    share: float = 0.5,
    sleep: Sleep = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Governor:
    """HubSpot: `burst` calls per ten seconds for the app, search at its own per-second rate."""
    ten = Window(burst, 10.0)
    return Governor(
        "hubspot",
        windows={"*": [ten], "search": [Window(search_per_second, 1.0)]},
        share=share,
        usage_reader=hubspot_usage,
        burst_reader=hubspot_burst,
        sleep=sleep,
        monotonic=monotonic,
        now=now,
    )


def salesforce_governor(
    *,
    share: float = 0.5,
    pause: float = 900.0,
    sleep: Sleep = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Governor:
    """Salesforce: no burst window, a daily allocation read from `Sforce-Limit-Info`."""
    return Governor(
        "salesforce",
        share=share,
        usage_reader=salesforce_usage,
        daily_reset=rolling_day_pause(pause),
        sleep=sleep,
        monotonic=monotonic,
        now=now,
    )
