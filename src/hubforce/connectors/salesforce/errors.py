"""Salesforce error bodies -> hubforce's typed errors and record failures (one table).

Three shapes: REST errors are a JSON array of `{message, errorCode, fields}`; per-record errors
in sObject Collections use `statusCode`; OAuth errors are an object `{error, error_description}`.
Branch on codes, never on message text (it is localized to the API user's language).
"""

from __future__ import annotations

from typing import Any

import httpx

from hubforce.errors import (
    AuthFailed,
    Category,
    ConnectorError,
    RateLimited,
    RecordFailure,
    Transient,
)

SIDE = "salesforce"

#: `errorCode` / `statusCode` -> Category.
CODES: dict[str, Category] = {
    "INVALID_SESSION_ID": Category.AUTHENTICATION,
    "INVALID_AUTH_HEADER": Category.AUTHENTICATION,
    "REQUEST_LIMIT_EXCEEDED": Category.RATE_LIMIT,
    "UNABLE_TO_LOCK_ROW": Category.TRANSIENT,
    "SERVER_UNAVAILABLE": Category.TRANSIENT,
    "ALL_OR_NONE_OPERATION_ROLLED_BACK": Category.TRANSIENT,
    "QUERY_TIMEOUT": Category.TRANSIENT,
    "REQUIRED_FIELD_MISSING": Category.REQUIRED_FIELD,
    "INVALID_FIELD": Category.MISSING_FIELD,
    "INVALID_TYPE": Category.MISSING_FIELD,
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": Category.PICKLIST,
    "INVALID_PICKLIST_VALUE": Category.PICKLIST,
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": Category.VALIDATION_RULE,
    "FIELD_INTEGRITY_EXCEPTION": Category.VALIDATION_RULE,
    "INVALID_EMAIL_ADDRESS": Category.VALIDATION_RULE,
    "CANNOT_UPDATE_CONVERTED_LEAD": Category.VALIDATION_RULE,
    "DUPLICATES_DETECTED": Category.DUPLICATE,
    "DUPLICATE_VALUE": Category.DUPLICATE,
    "DUPLICATE_EXTERNAL_ID": Category.DUPLICATE,
    "MULTIPLE_CHOICES": Category.DUPLICATE,
    "INVALID_FIELD_FOR_INSERT_UPDATE": Category.PERMISSION,
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": Category.PERMISSION,
    "INSUFFICIENT_ACCESS_OR_READONLY": Category.PERMISSION,
    "API_DISABLED_FOR_ORG": Category.PERMISSION,
    "INVALID_CROSS_REFERENCE_KEY": Category.ASSOCIATION,
    "STRING_TOO_LONG": Category.TYPE_MISMATCH,
    "INVALID_TYPE_ON_FIELD_IN_RECORD": Category.TYPE_MISMATCH,
    "NUMBER_OUTSIDE_VALID_RANGE": Category.TYPE_MISMATCH,
    "JSON_PARSER_ERROR": Category.TYPE_MISMATCH,
    "NOT_FOUND": Category.NOT_FOUND,
    "ENTITY_IS_DELETED": Category.NOT_FOUND,
    "MALFORMED_ID": Category.NOT_FOUND,
    "INVALID_ID_FIELD": Category.NOT_FOUND,
}

#: OAuth `error` values: all mean the grant is unusable until someone reauthorizes.
OAUTH_ERRORS = frozenset(
    {
        "invalid_grant",
        "invalid_client",
        "invalid_client_id",
        "unauthorized_client",
        "invalid_request",
    }
)

#: Pause after REQUEST_LIMIT_EXCEEDED: the daily allocation is a rolling 24 h without a reset
#: time, so look again after a while; the concurrent-request variant clears in seconds.
DAILY_LIMIT_PAUSE = 900.0
CONCURRENCY_PAUSE = 5.0


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    """The error objects of a response body: array form, single object form, or []."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        return []
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    return [data] if isinstance(data, dict) else []


def category_of(code: str) -> Category:
    """Category of a Salesforce error code (UNKNOWN when not in the table)."""
    return CODES.get(code.upper(), Category.UNKNOWN)


def record_failure(error: dict[str, Any]) -> RecordFailure:
    """One per-record error (`statusCode` or `errorCode`) -> RecordFailure."""
    code = str(error.get("statusCode") or error.get("errorCode") or "")
    fields = tuple(str(f) for f in error.get("fields") or ())
    return RecordFailure.of(category_of(code), code, str(error.get("message", "")), fields)


def classify(response: httpx.Response) -> ConnectorError | None:
    """None for 2xx; otherwise the typed error the response means."""
    status = response.status_code
    if status < 300:
        return None
    errors = errors_of(response)
    first = errors[0] if errors else {}
    request_id = response.headers.get("Sforce-Request-Id", "") or response.headers.get(
        "X-Request-Id", ""
    )
    if "error" in first and "errorCode" not in first:
        code = str(first.get("error", ""))
        message = str(first.get("error_description", ""))
        if status in (400, 401, 403) and (code in OAUTH_ERRORS or status == 401):
            return AuthFailed(SIDE, status=status, api_code=code, api_message=message)
    else:
        code = str(first.get("errorCode") or first.get("statusCode") or "")
        message = str(first.get("message", ""))
    if status == 300:
        code = code or "MULTIPLE_CHOICES"
        message = message or "more than one record matches the external id"
    message = message or response.reason_phrase
    category = category_of(code)
    if status == 401 or category is Category.AUTHENTICATION:
        return AuthFailed(
            SIDE, status=status, api_code=code, api_message=message, request_id=request_id
        )
    if code == "REQUEST_LIMIT_EXCEEDED" or status == 429:
        # The message names the limit (TotalRequests vs ConcurrentRequests); it is the only hint.
        daily = "TotalRequests" in message or status == 429
        retry_after = _retry_after(response, DAILY_LIMIT_PAUSE if daily else CONCURRENCY_PAUSE)
        return RateLimited(
            SIDE,
            retry_after,
            "daily" if daily else "concurrent",
            status=status,
            api_code=code,
            api_message=message,
            request_id=request_id,
        )
    if status >= 500 or category is Category.TRANSIENT:
        return Transient(
            SIDE,
            f"Salesforce answered {status} {code}: {message}".strip(),
            status=status,
            api_code=code,
            api_message=message,
            request_id=request_id,
        )
    if category is Category.UNKNOWN and status == 404:
        category = Category.NOT_FOUND
    if category is Category.UNKNOWN and status == 403:
        category = Category.PERMISSION
    return ConnectorError(
        SIDE,
        category,
        f"Salesforce refused the call ({status} {code or 'error'}): {message}",
        status=status,
        api_code=code,
        api_message=message,
        request_id=request_id,
    )


def _retry_after(response: httpx.Response, default: float) -> float:
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    return default
