"""A direct route to the CRM handlers, skipping FastAPI's router for the hottest paths.

FastAPI's router spends about a third of a simple GET's server time choosing a route. CRM
routes are plain Starlette routes, so a Starlette `Router` can run them directly; anything it
does not match falls through to the full app (and its HubSpot-format 404/405). Errors are
rendered here exactly as the app's handlers render them.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from hubforce.emulators.hubspot.exceptions import HubSpotApiError
from hubforce.emulators.hubspot.wire import error_response


class CrmDispatch:
    """Runs the CRM routes; unmatched requests go to `fallback`."""

    def __init__(self, routes: Sequence[BaseRoute], fallback: ASGIApp) -> None:
        self.router = Router(routes=list(routes), default=fallback)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        correlation = scope.get("hubspot.correlation_id")
        try:
            await self.router(scope, receive, send)
        except HubSpotApiError as exc:
            await error_response(exc, correlation)(scope, receive, send)
        except StarletteHTTPException as exc:  # 405 from a route matched by path only
            category = "OBJECT_NOT_FOUND" if exc.status_code == 404 else "VALIDATION_ERROR"
            err = HubSpotApiError(str(exc.detail), status=exc.status_code, category=category)
            await error_response(err, correlation)(scope, receive, send)
