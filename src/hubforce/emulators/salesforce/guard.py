"""The one gate in front of every `/services/data/` route (REST, query and Bulk alike).

It accepts trailing slashes, checks the API version, the bearer token, the edition's API access
and the daily allocation, counts the call, and stamps `Sforce-Limit-Info` on the response. The
acting user id and the API version are left in `request.state.sf_user_id` / `.sf_version`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubforce.emulators.salesforce.exceptions import (
    ApiDisabledForOrg,
    InvalidSessionId,
    NotFound,
    RequestEntityTooLarge,
    RequestLimitExceeded,
    SalesforceApiError,
)
from hubforce.emulators.salesforce.wire import error_response

if TYPE_CHECKING:
    from hubforce.emulators.salesforce.models import Org
    from hubforce.emulators.salesforce.sessions import SessionStore

MIN_VERSION, MAX_VERSION = 40, 64
DATA_PREFIX = "/services/data"
_VERSION_RE = re.compile(r"^/services/data/v(\d+)\.0(?:/|$)")


class SalesforceGuard:
    """Pure ASGI middleware (cheap enough for 500+ simple GETs per second)."""

    def __init__(
        self,
        app: ASGIApp,
        org: Org,
        sessions: SessionStore,
        max_body_bytes: int,
        internal_key: str = "",
        dispatch: Callable[[ASGIApp], ASGIApp] | None = None,
    ) -> None:
        self.app = app
        # Admitted API requests go here: `dispatch(app)` may answer hot routes itself.
        self.api_app = dispatch(app) if dispatch is not None else app
        self.internal_key = internal_key.encode()
        self.org = org
        self.sessions = sessions
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/services/") and len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
            scope["path"] = path
            scope["raw_path"] = path.encode()
        if path == DATA_PREFIX or not path.startswith(DATA_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        try:
            user_id, version = self._admit(scope)
        except SalesforceApiError as exc:
            await error_response(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})
        scope["state"]["sf_user_id"] = user_id
        scope["state"]["sf_version"] = version
        usage = self._usage_header()

        async def send_with_usage(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"sforce-limit-info", usage))
                message["headers"] = headers
            await send(message)

        await self.api_app(scope, receive, send_with_usage)

    def _usage_header(self) -> bytes:
        usage = self.org.api_usage
        return f"api-usage={usage.limit - usage.remaining()}/{usage.limit}".encode()

    def _admit(self, scope: Scope) -> tuple[str, str]:
        match = _VERSION_RE.match(scope["path"])
        if not match or not MIN_VERSION <= int(match.group(1)) <= MAX_VERSION:
            raise NotFound("The requested resource does not exist")
        raw_auth = length = composite = None
        # One pass over the raw header list, no dict built: this runs on every API call.
        # A repeated header counts by its last value, as a dict of the list would have it.
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                raw_auth = value
            elif name == b"content-length":
                length = value
            elif name == b"x-hubforce-composite":
                composite = value
        auth = raw_auth.decode("latin-1") if raw_auth is not None else ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token.strip():
            raise InvalidSessionId("Session expired or invalid")
        user_id = self.sessions.user_of(token.strip(), self.org.integration_user_id)
        if not self.org.api_enabled:
            raise ApiDisabledForOrg("The REST API is not enabled for this Organization.")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            raise RequestEntityTooLarge(
                f"Request body exceeds the maximum size of {self.max_body_bytes} bytes"
            )
        if self.internal_key and composite == self.internal_key:
            return user_id, f"{match.group(1)}.0"  # a /composite subrequest: already counted
        if not self.org.api_usage.try_acquire():
            raise RequestLimitExceeded("TotalRequests Limit exceeded.")
        self.org.stats.count_api_call()
        return user_id, f"{match.group(1)}.0"


def state_of(scope_state: Any) -> tuple[str, str]:
    """(user id, version) the guard stored on the request."""
    return str(scope_state.sf_user_id), str(scope_state.sf_version)
