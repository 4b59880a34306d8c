"""HubSpot error bodies -> hubforce's typed errors and record failures (one table, one place).

HubSpot errors carry a `category` (`VALIDATION_ERROR`, `CONFLICT`, `OBJECT_NOT_FOUND`, ...) and,
for property validation, a JSON array embedded in the message with one `error` code per
property (`PROPERTY_DOESNT_EXIST`, `INVALID_OPTION`, `INVALID_EMAIL`, ...). 429 bodies use
`errorType: RATE_LIMIT` and a `policyName` (`TEN_SECONDLY_ROLLING`, `SECONDLY`, `DAILY`).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from hubforce.connectors.governor import seconds_to_utc_midnight
from hubforce.errors import (
    AuthFailed,
    Category,
    ConnectorError,
    RateLimited,
    RecordFailure,
    Transient,
)

SIDE = "hubspot"

#: HubSpot `category` -> Category.
CATEGORIES: dict[str, Category] = {
    "INVALID_AUTHENTICATION": Category.AUTHENTICATION,
    "EXPIRED_AUTHENTICATION": Category.AUTHENTICATION,
    "MISSING_SCOPES": Category.PERMISSION,
    "RATE_LIMITS": Category.RATE_LIMIT,
    "RATE_LIMIT": Category.RATE_LIMIT,
    "OBJECT_NOT_FOUND": Category.NOT_FOUND,
    "CONFLICT": Category.DUPLICATE,
    "OBJECT_ALREADY_EXISTS": Category.DUPLICATE,
    "VALIDATION_ERROR": Category.VALIDATION_RULE,
    "LOCKED": Category.TRANSIENT,
}

#: Per-property `error` code -> Category.
PROPERTY_CODES: dict[str, Category] = {
    "PROPERTY_DOESNT_EXIST": Category.MISSING_FIELD,
    "INVALID_OPTION": Category.PICKLIST,
    "INVALID_EMAIL": Category.VALIDATION_RULE,
    "READ_ONLY_VALUE": Category.PERMISSION,
    "INVALID_INTEGER": Category.TYPE_MISMATCH,
    "INVALID_FLOAT": Category.TYPE_MISMATCH,
    "INVALID_DATE": Category.TYPE_MISMATCH,
    "INVALID_DATETIME": Category.TYPE_MISMATCH,
    "INVALID_BOOLEAN": Category.TYPE_MISMATCH,
    "INVALID_LONG": Category.TYPE_MISMATCH,
    "REQUIRED_PROPERTY": Category.REQUIRED_FIELD,
    "MISSING_REQUIRED_PROPERTY": Category.REQUIRED_FIELD,
}

_POLICY_WAIT = {"TEN_SECONDLY_ROLLING": 10.0, "SECONDLY": 1.0}
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


def body_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON error object of a response, or {} when there is none."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def property_errors(message: str) -> list[dict[str, Any]]:
    """The per-property array HubSpot embeds in "Property values were not valid: [...]"."""
    start = message.find("[")
    if start < 0:
        return []
    try:
        items = json.loads(message[start:])
    except ValueError:
        return []
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def describe(error: dict[str, Any]) -> tuple[Category, str, str, tuple[str, ...]]:
    """(category, api code, message, fields) of one HubSpot error object."""
    message = str(error.get("message", ""))
    category_code = str(error.get("category") or error.get("errorType") or "")
    per_property = property_errors(message)
    details = [d for d in error.get("errors") or () if isinstance(d, dict)]
    codes = [str(p.get("error", "")) for p in per_property if p.get("error")]
    codes += [str(d.get("code", "")) for d in details if d.get("code")]
    fields = tuple(str(p["name"]) for p in per_property if p.get("name"))
    for detail in details:
        names = (detail.get("context") or {}).get("propertyName") or []
        fields += tuple(str(n) for n in names)
    for code in codes:
        if code.upper() in PROPERTY_CODES:
            return PROPERTY_CODES[code.upper()], code, message, fields
    if error.get("error") and str(error["error"]).upper() in PROPERTY_CODES:
        code = str(error["error"])
        return PROPERTY_CODES[code.upper()], code, message, fields
    category = CATEGORIES.get(category_code.upper(), Category.UNKNOWN)
    return category, (codes[0] if codes else category_code), message, fields


def record_failure(error: dict[str, Any]) -> RecordFailure:
    """One per-item error of a 207 batch (or a whole-batch error) -> RecordFailure."""
    category, code, message, fields = describe(error)
    return RecordFailure.of(category, code, message, fields)


def classify(response: httpx.Response) -> ConnectorError | None:
    """None for 2xx; otherwise the typed error the response means."""
    status = response.status_code
    if status < 300:
        return None
    body = body_of(response)
    request_id = str(
        body.get("correlationId") or response.headers.get("X-HubSpot-Correlation-Id", "")
    )
    category, code, message, _fields = describe(body)
    message = message or response.reason_phrase
    if status == 401:
        return AuthFailed(
            SIDE, status=status, api_code=code, api_message=message, request_id=request_id
        )
    if status == 429:
        policy = str(body.get("policyName", "")).upper()
        return RateLimited(
            SIDE,
            retry_after_seconds(response, policy),
            policy.lower() or "ten_seconds",
            status=status,
            api_code=code or "RATE_LIMIT",
            api_message=message,
            request_id=request_id,
        )
    if status >= 500 or status in (408, 423):
        return Transient(
            SIDE,
            f"HubSpot answered {status}: {message}",
            status=status,
            api_code=code,
            api_message=message,
            request_id=request_id,
        )
    if status == 403 and category is Category.UNKNOWN:
        category = Category.PERMISSION
    if status == 404 and category is Category.UNKNOWN:
        category = Category.NOT_FOUND
    return ConnectorError(
        SIDE,
        category,
        f"HubSpot refused the call ({status} {code or 'error'}): {message}",
        status=status,
        api_code=code,
        api_message=message,
        request_id=request_id,
    )


def retry_after_seconds(response: httpx.Response, policy: str) -> float:
    """Wait after a 429: Retry-After when sent, else the window of the policy hit (the
    burst window's length from its interval header when present)."""
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    if policy == "DAILY":
        return seconds_to_utc_midnight(datetime.now(UTC))
    if policy in ("TEN_SECONDLY_ROLLING", ""):
        # The burst window's own length, as the 429 announces it (ten seconds on HubSpot).
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        try:
            return max(0.0, float(interval) / 1000) if interval else 10.0
        except ValueError:
            pass
    return _POLICY_WAIT.get(policy, 10.0)


def existing_id(failure: RecordFailure) -> str | None:
    """The id HubSpot names in "Contact already exists. Existing ID: 123" (a 409 CONFLICT)."""
    if failure.category is not Category.DUPLICATE:
        return None
    match = _EXISTING_ID.search(failure.message)
    return match.group(1) if match else None
