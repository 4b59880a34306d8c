"""Rate-limit counters on the emulator clock: rolling windows and daily allocations."""

from __future__ import annotations

import threading
from collections import deque

from hubforce.emulators.common.clock import EmulatorClock


class RollingWindow:
    """At most `limit` events in any `seconds`-long window (HubSpot's ten-secondly burst)."""

    def __init__(self, clock: EmulatorClock, limit: int, seconds: float) -> None:
        self.clock = clock
        self.limit = limit
        self.seconds = seconds
        self._events: deque[float] = deque()
        self._lock = threading.Lock()

    def _prune(self, now: float) -> None:
        while self._events and self._events[0] <= now - self.seconds:
            self._events.popleft()

    def try_acquire(self) -> bool:
        """Count one event if the window has room; False (and count nothing) when it is full."""
        now = self.clock.now().timestamp()
        with self._lock:
            self._prune(now)
            if len(self._events) >= self.limit:
                return False
            self._events.append(now)
            return True

    def remaining(self) -> int:
        """Events still allowed in the current window."""
        now = self.clock.now().timestamp()
        with self._lock:
            self._prune(now)
            return max(0, self.limit - len(self._events))

    def retry_after(self) -> float:
        """Seconds until the oldest event leaves the window (0 when there is room)."""
        now = self.clock.now().timestamp()
        with self._lock:
            self._prune(now)
            if len(self._events) < self.limit:
                return 0.0
            return max(0.0, self._events[0] + self.seconds - now)

    def reset(self) -> None:
        """Empty the window."""
        with self._lock:
            self._events.clear()


class DailyAllocation:
    """A per-day (UTC, rolling over at midnight on the emulator clock) request allocation."""

    def __init__(self, clock: EmulatorClock, limit: int) -> None:
        self.clock = clock
        self.limit = limit
        self.used = 0
        self._day = clock.now().date()
        self._lock = threading.Lock()

    def _roll(self) -> None:
        today = self.clock.now().date()
        if today != self._day:
            self._day = today
            self.used = 0

    def try_acquire(self, n: int = 1) -> bool:
        """Count `n` calls if the allocation has room; False when it is spent."""
        with self._lock:
            self._roll()
            if self.used + n > self.limit:
                return False
            self.used += n
            return True

    def remaining(self) -> int:
        """Calls left today."""
        with self._lock:
            self._roll()
            return max(0, self.limit - self.used)

    def used_today(self) -> int:
        """Calls counted today."""
        with self._lock:
            self._roll()
            return self.used

    def set_used(self, used: int) -> None:
        """Set today's count (0: as right after the reset; another client's spending)."""
        if used < 0:
            raise ValueError("the daily count cannot be negative")
        with self._lock:
            self._roll()
            self.used = used

    def reset(self) -> None:
        """Start the day's count again."""
        with self._lock:
            self.used = 0
