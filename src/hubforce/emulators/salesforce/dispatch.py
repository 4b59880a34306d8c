"""A direct route to the hottest REST handlers, skipping FastAPI's router and dependency solving.

FastAPI tries each of ~30 routes in turn and solves every endpoint's parameters; for a record
GET that is most of the emulator's own time. The guard hands admitted `/services/data/` requests
here: a request whose path and method match a hot route runs its handler directly, anything
else goes to the full app unchanged (its 404 / 405 bodies included). Handler results, errors and
the `route` left in the scope for request stats are the same as through FastAPI.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hubforce.emulators.salesforce import composite, query, responses

Handler = Callable[..., Awaitable[Any]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]

V = "/services/data/v{version}"
ONE = f"{V}/sobjects/{{sobject}}/{{record_id}}"
COLLECTIONS = f"{V}/composite/sobjects"

# (path, method, handler), tried in order: the same templates as routes.py / query.py.
HOT: list[tuple[str, str, Handler]] = [
    (ONE, "GET", responses.retrieve),
    (ONE, "PATCH", responses.update),
    (ONE, "DELETE", responses.delete),
    (f"{V}/sobjects/{{sobject}}", "POST", responses.create),
    (f"{V}/query", "GET", query.query),
    (f"{V}/queryAll", "GET", query.query_all),
    (f"{V}/query/{{locator}}", "GET", query.query_more),
    (f"{V}/queryAll/{{locator}}", "GET", query.query_more),
    (COLLECTIONS, "POST", composite.collections_create),
    (COLLECTIONS, "PATCH", composite.collections_update),
    (COLLECTIONS, "DELETE", composite.collections_delete),
    (f"{COLLECTIONS}/{{sobject}}", "GET", composite.collections_retrieve),
    (f"{COLLECTIONS}/{{sobject}}", "POST", composite.collections_retrieve),
]
# Sub-resources the record route's `{record_id}` would also match: left to the full app.
NOT_RECORDS = frozenset(("describe", "updated", "deleted"))


class _Hot:
    """One hot route: its template (for stats), method and handler with its parameter names."""

    def __init__(self, path: str, method: str, handler: Handler) -> None:
        self.route = Route(path, handler, methods=[method])
        self.method = method
        self.handler = handler
        self.params = tuple(p for p in inspect.signature(handler).parameters if p != "request")


class HotRoutes:
    """ASGI app: the hot routes run here; every other request goes to `fallback`."""

    def __init__(
        self,
        fallback: ASGIApp,
        *,
        error_handlers: Mapping[type[Exception], ErrorHandler],
        server_error: ErrorHandler,
    ) -> None:
        self.fallback = fallback
        self.error_handlers = dict(error_handlers)
        self.server_error = server_error
        self.hot = [_Hot(path, method, handler) for path, method, handler in HOT]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        for hot in self.hot:
            if hot.method != method:
                continue
            match, child = hot.route.matches(scope)
            if match is not Match.FULL:
                continue
            params = child["path_params"]
            if hot.route.path == ONE and params["record_id"] in NOT_RECORDS:
                break
            scope.update(child)
            scope["route"] = hot.route
            response = await self._run(hot, Request(scope, receive), params)
            await response(scope, receive, send)
            return
        await self.fallback(scope, receive, send)

    async def _run(self, hot: _Hot, request: Request, params: dict[str, Any]) -> Response:
        try:
            result = await hot.handler(request, **{name: params[name] for name in hot.params})
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                return await self.server_error(request, exc)
            return await handler(request, exc)
        return result if isinstance(result, Response) else JSONResponse(result)

    def _handler_for(self, exc: Exception) -> ErrorHandler | None:
        for cls in type(exc).__mro__:
            if cls in self.error_handlers:
                return self.error_handlers[cls]
        return None
