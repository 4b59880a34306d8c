"""`POST /hooks/sync`: sync given records now (for Zapier, Make or any tool).

Authorised by `Authorization: Bearer <token>` (or `X-Hubforce-Token`), compared in constant
time with the token the config names by environment variable (`${HUBFORCE_HOOK_TOKEN}`).
Body: `{"records": [{"side": "hubspot", "object_type": "contacts", "id": "123"}, ...]}`
(at most 1000). Answers 202 with how many records were queued; 401 without a valid token,
400 with the first problem in the body, 503 when no token is configured (the hook is off).
"""

from __future__ import annotations

import hmac
import time
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hubforce.server.dispatch import Dispatcher
from hubforce.server.events import ChangeEvent
from hubforce.sync.model import Side


class HookRecord(BaseModel):
    """One record to sync."""

    model_config = ConfigDict(extra="forbid")

    side: Literal["hubspot", "salesforce"]
    object_type: str = Field(min_length=1, max_length=64)
    id: str = Field(min_length=1, max_length=64)


class HookBody(BaseModel):
    """The request body."""

    model_config = ConfigDict(extra="forbid")

    records: list[HookRecord] = Field(min_length=1, max_length=1000)


def _token_of(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-hubforce-token", "").strip()


def build_hooks_router(dispatcher: Dispatcher, token: str | None) -> APIRouter:
    """The sync hook bound to `token` (None or empty disables the hook)."""
    router = APIRouter()

    @router.post("/hooks/sync")
    async def sync_hook(request: Request) -> JSONResponse:
        if not token:
            return JSONResponse({"error": "the sync hook has no token configured"}, 503)
        if not hmac.compare_digest(_token_of(request).encode(), token.encode()):
            return JSONResponse({"error": "missing or invalid token"}, 401)
        try:
            body = HookBody.model_validate_json(await request.body())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return JSONResponse({"error": f"{where}: {first['msg']}"}, 400)
        now = int(time.time() * 1000)
        queued = dispatcher.submit(
            ChangeEvent(
                side=Side(record.side),
                object_type=record.object_type,
                object_id=record.id,
                kind="requested",
                occurred_at=now,
                event_id=f"hook:{now}:{index}",
            )
            for index, record in enumerate(body.records)
        )
        return JSONResponse({"queued": queued}, 202)

    return router
