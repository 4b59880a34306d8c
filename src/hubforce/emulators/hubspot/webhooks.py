"""Webhook control routes and the hook that starts delivery with the app.

HubSpot configures app webhooks in its developer portal; the emulator takes the same settings
through its control API instead:

- `PUT /__emulator__/webhooks`: target URL, app id, client secret, subscriptions, batch size,
  concurrency, signature versions, retry schedule, flush interval, shuffle seed, duplicates.
  App id and client secret default to the emulated OAuth app's (`appId`, `client_secret`).
- `GET /__emulator__/webhooks`: the settings (secret masked), counts and the delivery log.
- `POST /__emulator__/webhooks/flush[?all=true]`: deliver due (or all queued) events now and
  return once every POST in flight has been answered.
- `DELETE /__emulator__/webhooks`: stop delivering and forget queue, counts and log.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, Body, FastAPI, HTTPException, Query, Request
from pydantic import ValidationError

from hubforce.emulators.common.stats import CONTROL_PREFIX
from hubforce.emulators.hubspot.webhook_delivery import EventSource, WebhookDeliverer
from hubforce.emulators.hubspot.webhook_models import WebhookSettings


def get_deliverer(app: FastAPI, portal: EventSource | None = None) -> WebhookDeliverer:
    """The app's deliverer, created on first use for `portal` (default: the app's backend)."""
    deliverer: WebhookDeliverer | None = getattr(app.state, "webhooks", None)
    if deliverer is None:
        deliverer = WebhookDeliverer(portal if portal is not None else app.state.backend)
        app.state.webhooks = deliverer
    return deliverer


def _start_if_possible(deliverer: WebhookDeliverer) -> None:
    # No running event loop (app built outside a server): flush still delivers on demand.
    with contextlib.suppress(RuntimeError):
        deliverer.start()


def attach_deliverer(app: FastAPI, portal: Any) -> None:
    """Create the deliverer for `portal` and start its loop (call from the app's lifespan)."""
    deliverer = get_deliverer(app, portal)
    deliverer.ensure_subscribed()
    _start_if_possible(deliverer)


async def detach_deliverer(app: FastAPI) -> None:
    """Stop delivery and close its HTTP client (call when the lifespan ends)."""
    deliverer: WebhookDeliverer | None = getattr(app.state, "webhooks", None)
    if deliverer is not None:
        await deliverer.stop()


def _app_defaults(portal: object) -> dict[str, Any]:
    """HubSpot signs with the app's client secret: default to the emulated OAuth app's."""
    settings = getattr(portal, "settings", None)
    defaults: dict[str, Any] = {}
    for key, attr in (("appId", "app_id"), ("clientSecret", "client_secret")):
        value = getattr(settings, attr, None)
        if value is not None:
            defaults[key] = value
    return defaults


def _settings_from(body: dict[str, Any]) -> WebhookSettings:
    try:
        return WebhookSettings.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors()
        )
        raise HTTPException(
            status_code=400, detail=f"invalid webhook settings: {problems}"
        ) from exc


def build_webhooks_control_router() -> APIRouter:
    """Control routes for webhook settings, flushing and the delivery log."""
    router = APIRouter(prefix=f"{CONTROL_PREFIX}/webhooks", tags=["emulator control"])

    @router.put("")
    async def put_webhooks(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
        deliverer = get_deliverer(request.app)
        settings = _settings_from({**_app_defaults(deliverer.portal), **body})
        deliverer.configure(settings)
        deliverer.ensure_subscribed()
        _start_if_possible(deliverer)
        return deliverer.snapshot(log_limit=0)

    @router.get("")
    async def get_webhooks(request: Request, limit: int = 100) -> dict[str, Any]:
        return get_deliverer(request.app).snapshot(log_limit=max(0, min(limit, 500)))

    @router.delete("")
    async def delete_webhooks(request: Request) -> dict[str, Any]:
        deliverer = get_deliverer(request.app)
        deliverer.reset()
        return deliverer.snapshot(log_limit=0)

    @router.post("/flush")
    async def flush_webhooks(
        request: Request,
        include_not_due: bool = Query(default=False, alias="all"),
        timeout: float = Query(default=30.0, gt=0, le=300),
    ) -> dict[str, Any]:
        deliverer = get_deliverer(request.app)
        # Shielded: a timed-out caller must not cancel POSTs (their events would be lost).
        flushing = asyncio.shield(deliverer.flush(include_not_due=include_not_due))
        try:
            posts = await asyncio.wait_for(flushing, timeout)
        except TimeoutError as exc:
            raise HTTPException(status_code=504, detail="webhook flush timed out") from exc
        return {"posts": posts, **deliverer.snapshot(log_limit=0)}

    return router
