"""Exact request counts, by route, kept by an ASGI middleware: benchmarks and tests read them."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

CONTROL_PREFIX = "/__emulator__"


class RequestStats:
    """Counts of vendor-API requests (control API excluded), by route and by status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self.total = 0
            self.by_route: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.api_calls = 0  # what the vendor would count against the daily limit

    def record(self, route: str, status: int) -> None:
        """Count one answered request."""
        with self._lock:
            self.total += 1
            self.by_route[route] += 1
            self.by_status[status] += 1

    def count_api_call(self, n: int = 1) -> None:
        """Count calls the vendor bills against the org's or portal's limit."""
        with self._lock:
            self.api_calls += n

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of the counts."""
        with self._lock:
            return {
                "total": self.total,
                "api_calls": self.api_calls,
                "by_route": dict(sorted(self.by_route.items())),
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            }


def route_key(scope: Scope, routes: list[BaseRoute]) -> str:
    """'METHOD /route/{template}', also for requests a fault answered before routing."""
    route = scope.get("route")
    if route is None:  # not routed (a fault answered first): find the route it would take
        for candidate in routes:
            match, child_scope = candidate.matches(scope)
            if match == Match.FULL:
                route = child_scope.get("route", candidate)
                break
    template = getattr(route, "path", None) or scope.get("path", "?")
    return f"{scope.get('method', '?')} {template}"


class StatsMiddleware:
    """Records every non-control request with its route template and final status."""

    def __init__(
        self, app: ASGIApp, stats: RequestStats, routes: Callable[[], list[BaseRoute]]
    ) -> None:
        self.app = app
        self.stats = stats
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.stats.record(route_key(scope, self.routes()), status)
