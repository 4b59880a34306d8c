"""`POST /webhooks/hubspot`: verified, deduplicated HubSpot webhook intake.

Order of checks, cheapest refusal first: signature (v3 with the 5-minute window, or v1 when
allowed) -> replay (a signature already accepted) -> body shape. Refusals are logged with the
reason and the client address, never a secret or signature. Accepted events go to the
dispatcher and the request is answered 204 at once; processing is asynchronous.

The URI signed for v3 is the public URL HubSpot posted to: behind a proxy that differs from
what the app sees, so `public_url` (the configured target URL) wins when set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from hubforce.server.dedupe import ReplayGuard
from hubforce.server.dispatch import Dispatcher
from hubforce.server.events import MalformedPayload, parse_hubspot_batch
from hubforce.server.signatures import SignatureError, verify

logger = logging.getLogger(__name__)

MAX_BODY = 1_000_000


@dataclass
class WebhookSettings:
    """How HubSpot webhooks are checked."""

    client_secret: str = field(repr=False)  # never in a log line or an error
    public_url: str | None = None
    allow_v1: bool = True
    now_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))


@dataclass
class WebhookCounters:
    """Requests by outcome, for metrics and /readyz."""

    accepted: int = 0
    refused_signature: int = 0
    refused_replay: int = 0
    refused_malformed: int = 0
    events_new: int = 0
    events_duplicate: int = 0


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message}, status_code=status)


def build_webhook_router(
    settings: WebhookSettings, dispatcher: Dispatcher, counters: WebhookCounters
) -> APIRouter:
    """The HubSpot webhook route bound to `settings` and `dispatcher`, counting in `counters`."""
    router = APIRouter()
    replays = ReplayGuard()

    @router.post("/webhooks/hubspot", status_code=204)
    async def hubspot_webhook(request: Request) -> Response:
        body = await request.body()
        client = request.client.host if request.client else "?"
        uri = settings.public_url or str(request.url)
        now = settings.now_ms()
        try:
            verify(
                request.headers,
                secret=settings.client_secret,
                method=request.method,
                uri=uri,
                body=body,
                now_ms=now,
                allow_v1=settings.allow_v1,
            )
        except SignatureError as exc:
            counters.refused_signature += 1
            logger.warning("refused HubSpot webhook from %s: %s", client, exc)
            return _refuse(401, "invalid signature")
        signature = request.headers.get("x-hubspot-signature-v3") or request.headers.get(
            "x-hubspot-signature", ""
        )
        if not replays.check_and_remember(signature.strip(), now):
            counters.refused_replay += 1
            logger.warning("refused replayed HubSpot webhook from %s", client)
            return _refuse(401, "replayed request")
        if len(body) > MAX_BODY:
            counters.refused_malformed += 1
            return _refuse(400, "body too large")
        try:
            events = parse_hubspot_batch(body)
        except MalformedPayload as exc:
            counters.refused_malformed += 1
            logger.warning("refused malformed HubSpot webhook from %s: %s", client, exc)
            return _refuse(400, f"malformed body: {exc}")
        new = dispatcher.submit(events)
        counters.accepted += 1
        counters.events_new += new
        counters.events_duplicate += len(events) - new
        return Response(status_code=204)

    return router
