"""Reading HubSpot requests: JSON bodies, repeated or comma-separated lists, Python-cased bools."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from hubforce.emulators.hubspot.exceptions import BadRequest
from hubforce.emulators.hubspot.models import Portal


def portal_of(request: Request) -> Portal:
    """The portal serving this request."""
    portal: Portal = request.app.state.portal
    return portal


async def json_body(request: Request) -> Any:
    """The parsed JSON body; 400 with the parser's position for malformed JSON."""
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("Invalid input JSON: the request body is empty")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = (
            f" on line {exc.lineno}, column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise BadRequest(f"Invalid input JSON{where}: {exc}") from None


async def json_object(request: Request) -> dict[str, Any]:
    """A JSON object body."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise BadRequest("Invalid input JSON: expected an object")
    return body


def query_list(request: Request, name: str) -> list[str] | None:
    """`?p=a&p=b` and `?p=a,b` alike; None when absent."""
    values = request.query_params.getlist(name)
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    """`true`/`True`/`false`/`False` (the Python SDK capitalises booleans)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false, got {raw!r}")
    return raw.lower() == "true"


def query_int(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    """An integer query parameter, clamped to [low, high]; 400 when not an integer."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    return max(low, min(high, value))


def inputs_of(body: dict[str, Any], *, limit: int = 100) -> list[Any]:
    """The `inputs` list of a batch body, at most `limit` long."""
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise BadRequest("Invalid input JSON: `inputs` must be a list")
    if len(inputs) > limit:
        raise BadRequest(
            f"Batch input limit exceeded: {len(inputs)} inputs were sent, the maximum is {limit}",
            context={"limit": [str(limit)], "received": [str(len(inputs))]},
        )
    return inputs
