"""The `hubforce run` app in process (httpx.ASGITransport): intake, refusals, dedupe, hooks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from hubforce.server.app import ServerSettings, build_app
from hubforce.server.batching import ChangeBatcher
from hubforce.server.dispatch import Dispatcher
from hubforce.server.webhooks import WebhookSettings
from hubforce.sync.model import Side

SECRET = "client-secret-under-test"
URL = "http://hubforce.test/webhooks/hubspot"
NOW = 1_800_000_000_000
TOKEN = "hook-token-under-test"
ORG = "00D000000000001AAA"


class RecordingTarget:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Side, list[str]]] = []

    async def sync_records(self, pair: str, side: Side, ids: Sequence[str]) -> None:
        self.calls.append((pair, side, list(ids)))


def sign(body: bytes, ts: int = NOW) -> dict[str, str]:
    message = b"POST" + URL.encode() + body + str(ts).encode()
    digest = hmac.new(SECRET.encode(), message, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": str(ts),
    }


def event(
    event_id: int, object_id: int, *, attempt: int = 0, at: int = NOW - 1000, **extra: Any
) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 1,
        "portalId": 62515,
        "appId": 1,
        "occurredAt": at,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": attempt,
        "objectId": object_id,
        "changeSource": "CRM_UI",
        "propertyName": "email",
        "propertyValue": f"{object_id}@example.com",
        **extra,
    }


class Server:
    def __init__(self) -> None:
        self.target = RecordingTarget()
        batcher = ChangeBatcher(self.target, window_s=0.01)
        pairs = {(Side.HUBSPOT, "contacts"): "contacts", (Side.SALESFORCE, "Lead"): "contacts"}
        self.dispatcher = Dispatcher(batcher=batcher, workflows=None, pairs=pairs)
        settings = ServerSettings(
            WebhookSettings(SECRET, public_url=URL, now_ms=lambda: NOW),
            hook_token=TOKEN,
            salesforce_org_id=ORG,
        )
        self.app = build_app(settings, self.dispatcher)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://hubforce.test"
        )

    async def post_events(self, events: list[dict[str, Any]], ts: int = NOW) -> httpx.Response:
        body = json.dumps(events).encode()
        return await self.client.post("/webhooks/hubspot", content=body, headers=sign(body, ts))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_signed_batch_is_accepted_and_synced_in_one_batch() -> None:
    async def go() -> Server:
        server = Server()
        response = await server.post_events(
            [event(1, 11), event(2, 12), event(3, 11, at=NOW - 500)]
        )
        assert response.status_code == 204
        await server.dispatcher.drain()
        return server

    server = run(go())
    assert server.target.calls == [("contacts", Side.HUBSPOT, ["11", "12"])]
    assert server.app.state.webhook_counters.events_new == 3


def test_redelivered_and_duplicated_events_are_processed_once() -> None:
    async def go() -> Server:
        server = Server()
        assert (await server.post_events([event(1, 11), event(2, 12)])).status_code == 204
        await server.dispatcher.drain()
        # HubSpot's retry: same events, attemptNumber 1, a new timestamp and signature.
        retry = [event(1, 11, attempt=1), event(2, 12, attempt=1)]
        assert (await server.post_events(retry, ts=NOW + 5)).status_code == 204
        await server.dispatcher.drain()
        return server

    server = run(go())
    assert server.target.calls == [("contacts", Side.HUBSPOT, ["11", "12"])]
    counters = server.app.state.webhook_counters
    assert (counters.events_new, counters.events_duplicate) == (2, 2)


def test_out_of_order_older_change_is_marked_stale() -> None:
    async def go() -> Server:
        server = Server()
        await server.post_events([event(5, 11, at=NOW - 100)])
        await server.post_events([event(4, 11, at=NOW - 900)], ts=NOW + 1)
        return server

    server = run(go())
    assert server.dispatcher.deduper.stale == 1


@pytest.mark.parametrize("case", ["forged", "stale", "no-signature", "wrong-secret-v1"])
def test_bad_signatures_are_refused_with_401(case: str, caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps([event(1, 11)]).encode()
    headers = sign(body)
    if case == "forged":
        headers["X-HubSpot-Signature-v3"] = base64.b64encode(b"x" * 32).decode()
    elif case == "stale":
        headers = sign(body, ts=NOW - 301_000)
    elif case == "no-signature":
        headers = {"Content-Type": "application/json"}
    else:
        headers = {"X-HubSpot-Signature": hashlib.sha256(b"wrong" + body).hexdigest()}

    async def go() -> tuple[httpx.Response, Server]:
        server = Server()
        response = await server.client.post("/webhooks/hubspot", content=body, headers=headers)
        await server.dispatcher.drain()
        return response, server

    response, server = run(go())
    assert response.status_code == 401
    assert response.json() == {"status": "error", "message": "invalid signature"}
    assert server.target.calls == []
    assert "refused HubSpot webhook" in caplog.text and SECRET not in caplog.text


def test_replayed_request_is_refused() -> None:
    async def go() -> tuple[int, int, Server]:
        server = Server()
        body = json.dumps([event(1, 11)]).encode()
        headers = sign(body)
        first = await server.client.post("/webhooks/hubspot", content=body, headers=headers)
        second = await server.client.post("/webhooks/hubspot", content=body, headers=headers)
        return first.status_code, second.status_code, server

    first, second, server = run(go())
    assert (first, second) == (204, 401)
    assert server.app.state.webhook_counters.refused_replay == 1


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"eventId": 1}',
        b"[1, 2]",
        b'[{"subscriptionType": "contact.creation"}]',
        b'[{"subscriptionType":"contact.creation","eventId":1,"occurredAt":"yesterday","objectId":1}]',
    ],
)
def test_malformed_bodies_are_refused_with_400(body: bytes) -> None:
    async def go() -> httpx.Response:
        server = Server()
        return await server.client.post("/webhooks/hubspot", content=body, headers=sign(body))

    response = run(go())
    assert response.status_code == 400
    assert response.json()["message"].startswith("malformed body")


def test_sync_hook_needs_the_token_and_a_valid_body() -> None:
    async def go() -> tuple[list[int], Server]:
        server = Server()
        good = {"records": [{"side": "salesforce", "object_type": "Lead", "id": "00Q1"}]}
        statuses = [
            (await server.client.post("/hooks/sync", json=good)).status_code,
            (
                await server.client.post(
                    "/hooks/sync", json=good, headers={"Authorization": "Bearer nope"}
                )
            ).status_code,
            (
                await server.client.post(
                    "/hooks/sync",
                    json={"records": []},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
            ).status_code,
            (
                await server.client.post(
                    "/hooks/sync", json=good, headers={"X-Hubforce-Token": TOKEN}
                )
            ).status_code,
        ]
        await server.dispatcher.drain()
        return statuses, server

    statuses, server = run(go())
    assert statuses == [401, 401, 400, 202]
    assert server.target.calls == [("contacts", Side.SALESFORCE, ["00Q1"])]


def test_health_and_readiness_follow_the_lifespan() -> None:
    async def go() -> list[int]:
        server = Server()
        codes = [
            (await server.client.get("/healthz")).status_code,
            (await server.client.get("/readyz")).status_code,
        ]
        server.dispatcher.start()
        codes.append((await server.client.get("/readyz")).status_code)
        await server.dispatcher.stop()
        return codes

    assert run(go()) == [200, 503, 200]


def test_metrics_expose_outcomes() -> None:
    async def go() -> str:
        server = Server()
        await server.post_events([event(1, 11)])
        await server.post_events([event(1, 11, attempt=1)], ts=NOW + 1)
        await server.client.post("/webhooks/hubspot", content=b"[]")
        await server.dispatcher.drain()
        return (await server.client.get("/metrics")).text

    text = run(go())
    assert 'hubforce_webhook_requests_total{outcome="accepted"} 2.0' in text
    assert 'hubforce_webhook_requests_total{outcome="bad_signature"} 1.0' in text
    assert 'hubforce_change_events_total{outcome="duplicate"} 1.0' in text
    assert 'hubforce_targeted_syncs_total{outcome="ok"} 1.0' in text
    assert "hubforce_idle 1.0" in text
