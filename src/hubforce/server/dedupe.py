"""Deduplication of at-least-once, unordered deliveries and replayed requests.

- `EventDeduper`: an event already seen (same dedupe key) is dropped; a property change older
  than the newest one already seen for the same record and property is marked stale, so a
  "changed to X" trigger never fires on an out-of-order older value.
- `ReplayGuard`: a request whose exact signature was accepted within the timestamp window is
  refused (HubSpot's own retries change `attemptNumber`, so they never repeat a signature).

Both are bounded in memory; the durable guard against double actions is the workflow
idempotency ledger, not this cache.
"""

from __future__ import annotations

from collections import OrderedDict

from hubforce.server.events import ChangeEvent


class EventDeduper:
    """Remembers the last `capacity` events and the newest change time per property."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, ...], None] = OrderedDict()
        self._newest: OrderedDict[tuple[str, str, str, str], int] = OrderedDict()
        self.duplicates = 0
        self.stale = 0

    def admit(self, event: ChangeEvent) -> tuple[bool, bool]:
        """(new, current): new is False for a duplicate; current is False for an older change."""
        key = event.dedupe_key
        if key in self._seen:
            self.duplicates += 1
            return False, False
        self._seen[key] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        record_key = (
            event.side.value,
            event.object_type,
            event.object_id,
            event.property_name or "",
        )
        newest = self._newest.get(record_key)
        if newest is not None and event.occurred_at < newest:
            self.stale += 1
            return True, False
        self._newest[record_key] = event.occurred_at
        self._newest.move_to_end(record_key)
        if len(self._newest) > self.capacity:
            self._newest.popitem(last=False)
        return True, True


class ReplayGuard:
    """Signatures accepted within the last `window_ms`."""

    def __init__(self, window_ms: int = 5 * 60 * 1000) -> None:
        self.window_ms = window_ms
        self._seen: OrderedDict[str, int] = OrderedDict()

    def check_and_remember(self, signature: str, now_ms: int) -> bool:
        """True the first time a signature is seen within the window, False on a replay."""
        while self._seen:
            oldest_sig, at = next(iter(self._seen.items()))
            if now_ms - at <= self.window_ms:
                break
            del self._seen[oldest_sig]
        if signature in self._seen:
            return False
        self._seen[signature] = now_ms
        return True
