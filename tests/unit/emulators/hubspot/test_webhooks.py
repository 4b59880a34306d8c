"""Webhook delivery: a real local receiver (served on loopback) hears signed, batched,
retried deliveries of portal events, exactly as a HubSpot app's endpoint would."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.responses import Response

from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.events import EventBus, PortalEvent
from hubforce.emulators.hubspot.webhooks import (
    attach_deliverer,
    build_webhooks_control_router,
    detach_deliverer,
)

SECRET = "test-client-secret"
PORTAL_ID = 62515


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    url: str
    started: float = 0.0
    ended: float = float("inf")  # until answered

    @property
    def events(self) -> list[dict[str, Any]]:
        parsed: list[dict[str, Any]] = json.loads(self.body)
        return parsed


class Receiver:
    """A webhook endpoint that answers a scripted sequence of statuses (then 200)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.script: deque[int | float] = deque()  # int: status; float: seconds to stall
        self.stall = 0.0  # seconds every request takes
        self.app = FastAPI()
        self.app.add_api_route("/hook", self.hook, methods=["POST"])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        received = Received(body, dict(request.headers), str(request.url), time.monotonic())
        with self.lock:
            self.received.append(received)
            step = self.script.popleft() if self.script else 200
        try:
            return await self._answer(step)
        finally:
            received.ended = time.monotonic()

    async def _answer(self, step: int | float) -> Response:
        if self.stall:
            await asyncio.sleep(self.stall)  # a slow endpoint, so requests overlap
        if isinstance(step, float):
            await asyncio.sleep(step)  # a slow endpoint, to trip the sender's timeout
            return Response(status_code=200)
        return Response(status_code=step)

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.script.clear()
            self.stall = 0.0

    def max_overlap(self) -> int:
        """Most requests (since the last reset) that were being answered at one moment."""
        moments = [(r.started, 1) for r in self.snapshot()]
        moments += [(r.ended, -1) for r in self.snapshot()]
        active = peak = 0
        for _, step in sorted(moments, key=lambda m: (m[0], m[1])):  # ends before starts
            active += step
            peak = max(peak, active)
        return peak

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def events(self) -> list[dict[str, Any]]:
        return [e for r in self.snapshot() for e in r.events]


class FakePortal:
    def __init__(self) -> None:
        self.clock = EmulatorClock()
        self.portal_id = PORTAL_ID
        self.events = EventBus()
        self.stores: dict[str, object] = {}


def emulator_app(portal: FakePortal) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        attach_deliverer(app, portal)
        yield
        await detach_deliverer(app)

    app = FastAPI(lifespan=lifespan)
    app.state.backend = portal
    app.include_router(build_webhooks_control_router())
    return app


@dataclass
class World:
    portal: FakePortal
    receiver: Receiver
    hook_url: str
    control: httpx.Client

    def configure(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "targetUrl": self.hook_url,
            "appId": 777,
            "clientSecret": SECRET,
            "subscriptions": [{"subscriptionType": "contact.creation"}],
            "flushIntervalMs": 60_000,  # tests flush explicitly unless they say otherwise
            "retryJitter": 0.0,
        }
        body.update(overrides)
        response = self.control.put("/__emulator__/webhooks", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def flush(self, *, everything: bool = False) -> dict[str, Any]:
        params = {"all": "true"} if everything else {}
        response = self.control.post("/__emulator__/webhooks/flush", params=params)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.control.get("/__emulator__/webhooks").json()["stats"]
        return stats

    def create_contacts(self, n: int, first_id: int = 1) -> None:
        now = self.portal.clock.now_ms()
        for i in range(first_id, first_id + n):
            self.portal.events.emit(PortalEvent("contact.creation", i, now, "API"))


@pytest.fixture(scope="module")
def served_world() -> Iterator[World]:
    portal = FakePortal()
    receiver = Receiver()
    with (
        BackgroundServer(receiver.app) as rx,
        BackgroundServer(emulator_app(portal)) as em,
        httpx.Client(base_url=em.url, timeout=30) as control,
    ):
        yield World(portal, receiver, rx.url + "/hook", control)


@pytest.fixture
def world(served_world: World) -> World:
    """The module's servers with webhooks unconfigured and an empty receiver."""
    assert served_world.control.delete("/__emulator__/webhooks").status_code == 200
    served_world.receiver.reset()
    return served_world


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(0.01)


def independent_v1(body: bytes) -> str:
    return hashlib.sha256(SECRET.encode() + body).hexdigest()


def independent_v3(uri: str, body: bytes, timestamp: str) -> str:
    message = b"POST" + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest()).decode()


def test_250_events_arrive_in_three_signed_batches_of_at_most_100(world: World) -> None:
    world.configure()
    world.create_contacts(250)
    assert world.flush()["posts"] == 3
    received = world.receiver.snapshot()
    assert sorted(len(r.events) for r in received) == [50, 100, 100]
    ids = sorted(e["objectId"] for e in world.receiver.events())
    assert ids == list(range(1, 251))
    now_ms = time.time() * 1000
    for request in received:
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-hubspot-signature-version"] == "v1"
        assert request.headers["x-hubspot-signature"] == independent_v1(request.body)
        timestamp = request.headers["x-hubspot-request-timestamp"]
        assert abs(int(timestamp) - now_ms) < 60_000
        assert request.headers["x-hubspot-signature-v3"] == independent_v3(
            request.url, request.body, timestamp
        )
        assert request.headers["user-agent"].startswith("HubSpot Connect 2.0")
    stats = world.stats()
    assert (stats["attempts"], stats["successes"], stats["failures"]) == (3, 3, 0)
    assert (stats["events_delivered"], stats["pending"]) == (250, 0)


def test_payload_fields_and_ids(world: World) -> None:
    world.configure(
        subscriptions=[
            {"id": 25, "subscriptionType": "contact.propertyChange", "propertyName": "email"}
        ]
    )
    portal = world.portal
    now = portal.clock.now_ms()
    portal.events.emit(
        PortalEvent("contact.propertyChange", 9, now, "FORM", "email", "a@example.com")
    )
    portal.events.emit(PortalEvent("contact.propertyChange", 9, now, "FORM", "firstname", "A"))
    world.flush()
    assert world.receiver.events() == [
        {
            "eventId": 1,
            "subscriptionId": 25,
            "portalId": PORTAL_ID,
            "appId": 777,
            "occurredAt": now,
            "subscriptionType": "contact.propertyChange",
            "attemptNumber": 0,
            "objectId": 9,
            "changeSource": "FORM",
            "propertyName": "email",
            "propertyValue": "a@example.com",
        }
    ]


def test_receiver_500_then_200_is_retried_with_incremented_attempt_number(world: World) -> None:
    world.receiver.script.extend([500])
    world.configure(retrySchedule=[0.2], flushIntervalMs=20)
    world.create_contacts(3)
    wait_until(lambda: len(world.receiver.snapshot()) >= 2)
    first, second = world.receiver.snapshot()[:2]
    assert [e["attemptNumber"] for e in first.events] == [0, 0, 0]
    assert [e["attemptNumber"] for e in second.events] == [1, 1, 1]
    assert [e["eventId"] for e in second.events] == [e["eventId"] for e in first.events]
    # The retry body is new, so it carries its own valid signature.
    assert second.headers["x-hubspot-signature"] == independent_v1(second.body)
    wait_until(lambda: world.stats()["in_flight"] == 0)
    stats = world.stats()
    assert stats["attempts"] == 2
    assert (stats["successes"], stats["failures"]) == (1, 1)
    assert (stats["events_retried"], stats["events_delivered"], stats["pending"]) == (3, 3, 0)
    assert stats["by_status"] == {"500": 1, "200": 1}


def test_retry_waits_for_its_backoff_on_the_emulator_clock(world: World) -> None:
    world.receiver.script.extend([503])
    world.configure(retrySchedule=[3600])
    world.create_contacts(1)
    assert world.flush()["posts"] == 1
    assert world.flush()["posts"] == 0  # the retry is an hour away
    assert world.stats()["pending"] == 1
    world.portal.clock.advance(3601)
    assert world.flush()["posts"] == 1
    attempts = [e["attemptNumber"] for e in world.receiver.events()]
    assert attempts == [0, 1]
    assert world.stats()["pending"] == 0


def test_flush_all_delivers_retries_before_they_are_due(world: World) -> None:
    world.receiver.script.extend([500])
    world.configure(retrySchedule=[3600])
    world.create_contacts(1)
    world.flush()
    assert world.flush()["posts"] == 0
    assert world.flush(everything=True)["posts"] == 1
    assert [e["attemptNumber"] for e in world.receiver.events()] == [0, 1]
    assert world.stats()["pending"] == 0


def test_events_are_dropped_after_the_last_attempt(world: World) -> None:
    world.receiver.script.extend([500, 404, 500])
    world.configure(retrySchedule=[0, 0])
    world.create_contacts(2)
    for _ in range(3):
        world.flush()
    stats = world.stats()
    assert stats["attempts"] == 3
    assert (stats["events_dropped"], stats["pending"], stats["events_delivered"]) == (2, 0, 0)
    assert [r.events[0]["attemptNumber"] for r in world.receiver.snapshot()] == [0, 1, 2]
    assert world.flush()["posts"] == 0


def test_timeout_counts_as_a_failure_and_is_retried(world: World) -> None:
    world.receiver.script.extend([2.5])
    world.configure(timeoutSeconds=1.0, retrySchedule=[0])
    world.create_contacts(1)
    world.flush()
    world.flush()
    stats = world.stats()
    assert stats["by_status"] == {"ReadTimeout": 1, "200": 1}
    assert [e["attemptNumber"] for e in world.receiver.events()] == [0, 1]


def test_unreachable_target_counts_connection_errors(world: World) -> None:
    with BackgroundServer(FastAPI()) as gone:
        dead_url = gone.url + "/hook"
    world.configure(targetUrl=dead_url, retrySchedule=[0])
    world.create_contacts(1)
    world.flush()
    stats = world.stats()
    assert stats["by_status"] == {"ConnectError": 1}
    assert (stats["failures"], stats["pending"]) == (1, 1)
    world.configure(retrySchedule=[0])  # point back at the live receiver
    world.flush()
    assert [e["attemptNumber"] for e in world.receiver.events()] == [1]


def test_shuffle_delivers_every_event_once_in_another_order(world: World) -> None:
    world.configure(shuffleSeed=7, batchSize=10)
    world.create_contacts(50)
    world.flush()
    ids = [e["objectId"] for e in world.receiver.events()]
    assert sorted(ids) == list(range(1, 51))
    assert ids != list(range(1, 51))


def test_duplicate_rate_one_delivers_each_event_twice(world: World) -> None:
    world.configure(duplicateRate=1.0)
    world.create_contacts(4)
    world.flush()
    world.flush()
    events = world.receiver.events()
    assert len(events) == 8
    by_id: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        by_id.setdefault(event["eventId"], []).append(event)
    assert all(len(copies) == 2 and copies[0] == copies[1] for copies in by_id.values())
    assert world.stats()["duplicates_sent"] == 4


def test_background_loop_delivers_without_a_flush(world: World) -> None:
    world.configure(flushIntervalMs=20)
    world.create_contacts(5)
    wait_until(lambda: len(world.receiver.events()) == 5)
    assert sorted(e["objectId"] for e in world.receiver.events()) == [1, 2, 3, 4, 5]


def test_subscriptions_filter_by_type_and_property(world: World) -> None:
    world.configure(
        subscriptions=[
            {"subscriptionType": "company.creation"},
            {"subscriptionType": "contact.propertyChange", "propertyName": "lifecyclestage"},
            {"subscriptionType": "contact.propertyChange", "active": False},
        ]
    )
    now = world.portal.clock.now_ms()
    emit = world.portal.events.emit
    emit(PortalEvent("contact.creation", 1, now))
    emit(PortalEvent("company.creation", 2, now))
    emit(PortalEvent("contact.propertyChange", 1, now, "API", "lifecyclestage", "lead"))
    emit(PortalEvent("contact.propertyChange", 1, now, "API", "firstname", "X"))
    world.flush()
    got = sorted((e["subscriptionType"], e["subscriptionId"]) for e in world.receiver.events())
    assert got == [("company.creation", 1), ("contact.propertyChange", 2)]


def test_nothing_is_queued_without_a_target_url(world: World) -> None:
    world.configure(targetUrl=None)
    world.create_contacts(3)
    assert world.flush()["posts"] == 0
    assert world.stats()["events_queued"] == 0


def test_get_masks_the_secret_and_lists_deliveries(world: World) -> None:
    world.configure()
    world.create_contacts(2)
    world.flush()
    view = world.control.get("/__emulator__/webhooks").json()
    assert view["settings"]["clientSecret"] == "***"
    assert SECRET not in json.dumps(view)
    assert view["settings"]["subscriptions"][0]["id"] == 1
    assert view["running"] is True
    [delivery] = view["deliveries"]
    assert (delivery["status"], delivery["events"], delivery["ok"]) == (200, 2, True)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"subscriptions": [{"subscriptionType": "contact.bogus"}]}, "unknown subscription"),
        (
            {
                "subscriptions": [
                    {
                        "subscriptionType": "contact.propertyChange",
                        "propertyName": "hs_lastmodifieddate",
                    }
                ]
            },
            "cannot be subscribed",
        ),
        ({"signatureVersions": ["v1", "v2"]}, "choose one"),
        ({"batchSize": 101}, "batchSize"),
        ({"targetUrl": "ftp://example.com/x"}, "http(s) URL"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_settings_answer_400_with_the_reason(
    world: World, change: dict[str, Any], fragment: str
) -> None:
    body = {"targetUrl": world.hook_url, **change}
    response = world.control.put("/__emulator__/webhooks", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["detail"]


def test_delete_forgets_settings_and_queue(world: World) -> None:
    world.receiver.script.extend([500])
    world.configure(retrySchedule=[3600])
    world.create_contacts(2)
    world.flush()
    assert world.stats()["pending"] == 2
    response = world.control.delete("/__emulator__/webhooks")
    assert response.status_code == 200
    assert response.json()["stats"]["pending"] == 0
    assert response.json()["settings"]["targetUrl"] is None


def test_no_more_than_max_concurrent_posts_are_in_flight(world: World) -> None:
    world.receiver.stall = 0.3
    world.configure(maxConcurrent=2, batchSize=1)
    world.create_contacts(6)
    assert world.flush()["posts"] == 6
    assert len(world.receiver.events()) == 6
    assert world.receiver.max_overlap() == 2


def test_a_portal_reset_drops_queued_events_but_keeps_settings(world: World) -> None:
    world.receiver.script.extend([500])
    world.configure(retrySchedule=[0])
    world.create_contacts(2)
    world.flush()
    assert world.stats()["pending"] == 2
    world.portal.stores = {}  # what Portal.reset() does: fresh stores
    stats = world.stats()
    assert (stats["pending"], stats["attempts"]) == (0, 0)
    assert world.flush()["posts"] == 0
    assert world.control.get("/__emulator__/webhooks").json()["settings"]["targetUrl"]
    world.create_contacts(1, first_id=9)
    world.flush()
    assert [e["objectId"] for e in world.receiver.events()][-1] == 9
