"""HubSpot API errors as data; `wire.py` renders them once, through one handler on the base.

HubSpotApiError                  status, category, message, errors, context (+ extra body keys)
  BadRequest                     400 VALIDATION_ERROR
    PropertyValidationError      400 VALIDATION_ERROR "Property values were not valid: [...]"
    SearchPagingCap              400 VALIDATION_ERROR past 10,000 search results
  AuthenticationError            401 INVALID_AUTHENTICATION
    ExpiredAuthentication        401 EXPIRED_AUTHENTICATION
  ObjectNotFound                 404 OBJECT_NOT_FOUND
  Conflict                       409 CONFLICT ("Contact already exists. Existing ID: N")
  RateLimited                    429 errorType RATE_LIMIT with policyName
"""

from __future__ import annotations

import json
from typing import Any


class HubSpotApiError(Exception):
    """An error answered with HubSpot's JSON error body."""

    status = 400
    category = "VALIDATION_ERROR"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        category: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if category is not None:
            self.category = category
        self.errors = errors
        self.context = context
        self.extra = extra or {}
        self.headers = headers or {}


class BadRequest(HubSpotApiError):
    """400 VALIDATION_ERROR."""


class PropertyValidationError(BadRequest):
    """400 for invalid property values; the message embeds HubSpot's per-property JSON list."""

    def __init__(self, failures: list[dict[str, Any]], portal_id: int) -> None:
        items = [{**f, "portalId": portal_id} for f in failures]
        super().__init__(
            "Property values were not valid: " + json.dumps(items, separators=(",", ":")),
            errors=[{"message": f["message"], "code": f["error"], "in": f["name"]} for f in items],
        )
        self.failures = items


class SearchPagingCap(BadRequest):
    """400 when `after` + `limit` pages past the 10,000 search results HubSpot will return."""


class AuthenticationError(HubSpotApiError):
    """401 INVALID_AUTHENTICATION."""

    status = 401
    category = "INVALID_AUTHENTICATION"


class ExpiredAuthentication(AuthenticationError):
    """401 EXPIRED_AUTHENTICATION for an OAuth token past its expiry."""

    category = "EXPIRED_AUTHENTICATION"


class ObjectNotFound(HubSpotApiError):
    """404 OBJECT_NOT_FOUND."""

    status = 404
    category = "OBJECT_NOT_FOUND"


class Conflict(HubSpotApiError):
    """409 CONFLICT (duplicate unique value, e.g. a contact email)."""

    status = 409
    category = "CONFLICT"


class RateLimited(HubSpotApiError):
    """429 with `errorType: RATE_LIMIT` and the limit's `policyName`."""

    status = 429
    category = "RATE_LIMITS"

    def __init__(self, message: str, policy_name: str, headers: dict[str, str]) -> None:
        super().__init__(
            message,
            extra={"errorType": "RATE_LIMIT", "policyName": policy_name},
            headers=headers,
        )
        self.policy_name = policy_name
