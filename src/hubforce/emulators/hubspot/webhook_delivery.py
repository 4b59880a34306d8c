"""The webhook deliverer: portal events in, signed batched POSTs out, with retries.

Like HubSpot (reference section 9) delivery is at least once and unordered: each matching
subscription gets its own event, events travel in JSON arrays of up to `batch_size` (100),
a batch that fails (non-2xx, timeout, connection error) is retried event by event after the
configured delays with `attemptNumber` incremented, and up to `max_concurrent` POSTs are in
flight. Retry due times are on the emulator clock, so advancing the clock makes them due.

Listeners run on whatever thread the portal changed on, so the queue is guarded by a lock;
the POSTs run on the app's event loop, from a background task or from `flush()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx

from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.hubspot.events import EventBus, PortalEvent
from hubforce.emulators.hubspot.signatures import signature_headers
from hubforce.emulators.hubspot.webhook_models import WebhookSettings, render_event

logger = logging.getLogger(__name__)

USER_AGENT = "HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon"
DELIVERY_LOG_SIZE = 500


class EventSource(Protocol):
    """What the deliverer needs from the portal."""

    clock: EmulatorClock
    portal_id: int
    events: EventBus


@dataclass
class PendingEvent:
    """One rendered event waiting for (re)delivery."""

    payload: dict[str, Any]
    due_at_ms: int
    duplicate: bool = False


@dataclass
class DeliveryCounts:
    """Running totals shown by `GET /__emulator__/webhooks`."""

    attempts: int = 0  # POST requests made
    successes: int = 0  # POSTs answered 2xx
    failures: int = 0  # POSTs answered otherwise or not at all
    events_queued: int = 0
    events_delivered: int = 0  # events in 2xx batches, duplicates included
    events_retried: int = 0
    events_dropped: int = 0  # gave up after the last attempt
    duplicates_sent: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


class WebhookDeliverer:
    """Queues matching portal events and POSTs them to the configured target URL."""

    def __init__(self, portal: EventSource, settings: WebhookSettings | None = None) -> None:
        self.portal = portal
        self._lock = threading.Lock()
        self._pending: list[PendingEvent] = []
        self._event_ids = itertools.count(1)
        self._batch_ids = itertools.count(1)
        self.counts = DeliveryCounts()
        self.log: deque[dict[str, Any]] = deque(maxlen=DELIVERY_LOG_SIZE)
        self._bus: EventBus | None = None
        self._data: object = getattr(portal, "stores", None)
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self.settings = WebhookSettings()
        self._rng = random.Random(0)
        self._semaphore = asyncio.Semaphore(self.settings.max_concurrent)
        self.configure(settings or WebhookSettings())
        self.ensure_subscribed()

    # -- configuration -------------------------------------------------------------------

    def configure(self, settings: WebhookSettings) -> None:
        """Replace the settings; events already queued stay queued for the new target."""
        settings.assign_subscription_ids()
        with self._lock:
            self.settings = settings
            self._rng = random.Random(settings.shuffle_seed or 0)
            self._semaphore = asyncio.Semaphore(settings.max_concurrent)

    def reset(self) -> None:
        """Forget settings, queue, counts, log and id sequences."""
        with self._lock:
            self._event_ids = itertools.count(1)
            self._batch_ids = itertools.count(1)
            self._pending.clear()
            self.counts = DeliveryCounts()
            self.log.clear()
        self.configure(WebhookSettings())

    def ensure_subscribed(self) -> None:
        """Listen to the portal's current event bus (a portal reset may replace it)."""
        bus = self.portal.events
        if bus is not self._bus:
            bus.subscribe(self.on_event)
            self._bus = bus

    def _forget_events_of_a_reset_portal(self) -> None:
        # A portal reset or state import replaces its stores: events about the old data must
        # not reach the receiver afterwards. Settings stay, like an app's subscriptions.
        data = getattr(self.portal, "stores", None)
        if data is not self._data:
            self._data = data
            self._pending.clear()
            self.counts = DeliveryCounts()
            self.log.clear()

    # -- intake --------------------------------------------------------------------------

    def on_event(self, event: PortalEvent) -> None:
        """Queue one rendered copy of `event` per matching subscription (any thread)."""
        with self._lock:
            self._forget_events_of_a_reset_portal()
            settings = self.settings
            if settings.target_url is None:
                return
            now = self.portal.clock.now_ms()
            for sub in settings.subscriptions:
                if sub.id is None or not sub.matches(event):
                    continue
                payload = render_event(
                    event,
                    event_id=next(self._event_ids),
                    subscription_id=sub.id,
                    portal_id=self.portal.portal_id,
                    app_id=settings.app_id,
                )
                self._pending.append(PendingEvent(payload, due_at_ms=now))
                self.counts.events_queued += 1

    def pending_count(self) -> int:
        """Events waiting for delivery or for a retry."""
        with self._lock:
            return len(self._pending)

    # -- delivery ------------------------------------------------------------------------

    def _take_batches(self, *, include_not_due: bool) -> list[list[PendingEvent]]:
        with self._lock:
            self._forget_events_of_a_reset_portal()
            settings = self.settings
            if settings.target_url is None:
                return []
            now = self.portal.clock.now_ms()
            due = [p for p in self._pending if include_not_due or p.due_at_ms <= now]
            if not due:
                return []
            taken = {id(p) for p in due}
            self._pending = [p for p in self._pending if id(p) not in taken]
            if settings.shuffle_seed is not None:
                self._rng.shuffle(due)
            size = settings.batch_size
            return [due[i : i + size] for i in range(0, len(due), size)]

    async def flush(self, *, include_not_due: bool = False) -> int:
        """Deliver every due event now (all queued ones if asked); return the POSTs made."""
        self.ensure_subscribed()
        batches = self._take_batches(include_not_due=include_not_due)
        tasks = [asyncio.ensure_future(self._deliver(batch)) for batch in batches]
        for task in tasks:
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        # Also wait for POSTs the background loop already started, so callers see a quiet state.
        waiting = list(self._in_flight)
        if waiting:
            await asyncio.gather(*waiting, return_exceptions=True)
        return len(batches)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(headers={"User-Agent": USER_AGENT})
        return self._client

    async def _deliver(self, batch: list[PendingEvent]) -> None:
        settings = self.settings
        url = settings.target_url
        if url is None:  # unset after the batch was taken: keep the events for later
            with self._lock:
                self._pending.extend(batch)
            return
        body = json.dumps([p.payload for p in batch], separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Timeout-Millis": str(int(settings.timeout_seconds * 1000)),
            # v3 timestamps are checked against the receiver's wall clock, not the emulator's.
            **signature_headers(
                settings.signature_versions,
                client_secret=settings.client_secret,
                method="POST",
                uri=url,
                body=body,
                timestamp_ms=int(time.time() * 1000),
            ),
        }
        status: int | None = None
        error: str | None = None
        started = time.monotonic()
        async with self._semaphore:
            try:
                response = await self._http().post(
                    url, content=body, headers=headers, timeout=settings.timeout_seconds
                )
                status = response.status_code
            except httpx.HTTPError as exc:
                error = type(exc).__name__
        ok = status is not None and 200 <= status < 300
        self._record(batch, url, status, error, ok, time.monotonic() - started)
        if ok:
            self._after_success(batch)
        else:
            self._after_failure(batch)

    def _record(
        self,
        batch: list[PendingEvent],
        url: str,
        status: int | None,
        error: str | None,
        ok: bool,
        seconds: float,
    ) -> None:
        with self._lock:
            counts = self.counts
            counts.attempts += 1
            key = str(status) if status is not None else (error or "error")
            counts.by_status[key] = counts.by_status.get(key, 0) + 1
            if ok:
                counts.successes += 1
                counts.events_delivered += len(batch)
                counts.duplicates_sent += sum(1 for p in batch if p.duplicate)
            else:
                counts.failures += 1
            self.log.append(
                {
                    "batch": next(self._batch_ids),
                    "at": self.portal.clock.now_ms(),
                    "url": url,
                    "status": status,
                    "error": error,
                    "ok": ok,
                    "events": len(batch),
                    "eventIds": [p.payload["eventId"] for p in batch],
                    "attemptNumbers": sorted({p.payload["attemptNumber"] for p in batch}),
                    "durationMs": round(seconds * 1000, 1),
                }
            )

    def _after_success(self, batch: list[PendingEvent]) -> None:
        with self._lock:
            rate = self.settings.duplicate_rate
            if rate <= 0:
                return
            now = self.portal.clock.now_ms()
            for item in batch:
                if not item.duplicate and self._rng.random() < rate:
                    self._pending.append(replace(item, due_at_ms=now, duplicate=True))

    def _after_failure(self, batch: list[PendingEvent]) -> None:
        with self._lock:
            settings = self.settings
            now = self.portal.clock.now_ms()
            for item in batch:
                attempt = int(item.payload["attemptNumber"]) + 1
                if attempt > len(settings.retry_schedule):
                    self.counts.events_dropped += 1
                    continue
                delay = settings.retry_schedule[attempt - 1]
                jitter = 1 + settings.retry_jitter * (2 * self._rng.random() - 1)
                retry = PendingEvent(
                    payload={**item.payload, "attemptNumber": attempt},
                    due_at_ms=now + int(delay * jitter * 1000),
                    duplicate=item.duplicate,
                )
                self._pending.append(retry)
                self.counts.events_retried += 1

    # -- background task -----------------------------------------------------------------

    def start(self) -> None:
        """Run the delivery loop on the current event loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the loop and close the HTTP client."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close_client()

    async def _close_client(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def _run(self) -> None:
        last_round = time.monotonic()
        try:
            while True:
                # Short naps, so a newly configured interval takes effect at once.
                interval = self.settings.flush_interval_ms / 1000
                await asyncio.sleep(min(interval, 0.05))
                if time.monotonic() - last_round < self.settings.flush_interval_ms / 1000:
                    continue
                last_round = time.monotonic()
                try:
                    await self.flush()
                except Exception:  # the loop must outlive any one bad batch
                    logger.exception("webhook delivery round failed")
        finally:
            await self._close_client()

    def snapshot(self, *, log_limit: int = 100) -> dict[str, Any]:
        """Settings (secret masked), counts, pending events and the latest deliveries."""
        with self._lock:
            self._forget_events_of_a_reset_portal()
            counts = dict(vars(self.counts))
            counts["by_status"] = dict(self.counts.by_status)
            counts["pending"] = len(self._pending)
            counts["in_flight"] = len(self._in_flight)
            deliveries = list(self.log)[-log_limit:] if log_limit > 0 else []
            return {
                "settings": self.settings.public_view(),
                "stats": counts,
                "running": self._task is not None and not self._task.done(),
                "deliveries": deliveries,
            }
