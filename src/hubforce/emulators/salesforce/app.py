"""`create_app(settings)`: the Salesforce emulator as one FastAPI app.

Middleware, outermost first: server errors (the vendor 500 body), request stats, fault
injection, then `SalesforceGuard` (trailing slashes, API version, session, edition, daily limit,
`Sforce-Limit-Info`), which covers every `/services/data/` route, including the query and Bulk
routers, so no route does its own auth. A handler reaches the org as `request.app.state.backend`
and the acting user / API version as `request.state.sf_user_id` / `request.state.sf_version`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hubforce.emulators.common.app import build_emulator_app
from hubforce.emulators.salesforce.bulk import build_bulk_router
from hubforce.emulators.salesforce.config import OrgConfig, default_config, load_config
from hubforce.emulators.salesforce.dispatch import HotRoutes
from hubforce.emulators.salesforce.exceptions import (
    JsonParserError,
    MethodNotAllowed,
    NotFound,
    SalesforceApiError,
)
from hubforce.emulators.salesforce.guard import SalesforceGuard
from hubforce.emulators.salesforce.models import Org
from hubforce.emulators.salesforce.query import build_query_router
from hubforce.emulators.salesforce.routes import build_routers
from hubforce.emulators.salesforce.sessions import SessionStore
from hubforce.emulators.salesforce.wire import (
    error_response,
    handle_api_error,
    handle_server_error,
    render_fault,
)


class SalesforceEmulatorSettings(BaseModel):
    """How to build one emulated org."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    static_token: str = "emulator-token"
    edition: str = "enterprise"
    token_lifetime: int = Field(default=7200, ge=1, description="seconds an access token lives")
    config_path: Path | None = None
    config: OrgConfig | None = None
    default_latency_ms: int = Field(default=0, ge=0)
    max_body_bytes: int = Field(default=150 * 1024 * 1024, ge=1024)  # Bulk 2.0's upload cap
    seed: int | None = None

    def org_config(self) -> OrgConfig:
        """The parsed config: explicit, from `config_path`, or the embedded default."""
        if self.config is not None:
            return self.config
        if self.config_path is not None:
            return load_config(self.config_path)
        return default_config()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not request.url.path.startswith("/services/"):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    if exc.status_code == 405:
        return error_response(
            MethodNotAllowed(f"HTTP Method '{request.method}' not allowed for this resource")
        )
    return error_response(NotFound("The requested resource does not exist"))


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not request.url.path.startswith("/services/"):
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"detail": str(exc.errors())}, status_code=422)
    return error_response(JsonParserError(f"Invalid request: {exc}"))


def _internal_app(app: FastAPI, guard_options: dict[str, Any]) -> ASGIApp:
    """The routes behind the guard, without stats and faults: /composite subrequests use it,
    so they count neither as requests nor as API calls (the composite call itself does)."""
    handlers = {k: v for k, v in app.exception_handlers.items() if k not in (500, Exception)}
    stack = ExceptionMiddleware(
        AsyncExitStackMiddleware(SalesforceGuard(app.router, **guard_options)), handlers=handlers
    )

    async def internal(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app
        await stack(scope, receive, send)

    return internal


def create_app(settings: SalesforceEmulatorSettings | None = None) -> FastAPI:
    """Build the emulator app around a fresh in-memory org."""
    settings = settings or SalesforceEmulatorSettings()
    org = Org(settings.org_config(), edition=settings.edition)
    sessions = SessionStore(org.clock, org.org_id, settings.static_token, settings.token_lifetime)
    internal_key = secrets.token_hex(16)
    guard_options: dict[str, Any] = {
        "org": org,
        "sessions": sessions,
        "max_body_bytes": settings.max_body_bytes,
        "internal_key": internal_key,
    }
    error_handlers: dict[type[Exception], Any] = {
        SalesforceApiError: handle_api_error,
        StarletteHTTPException: _http_error,
        RequestValidationError: _validation_error,
    }

    def hot_routes(fallback: ASGIApp) -> ASGIApp:
        return HotRoutes(fallback, error_handlers=error_handlers, server_error=handle_server_error)

    app = build_emulator_app(
        title="hubforce Salesforce emulator",
        backend=org,
        routers=[*build_routers(), build_query_router(), build_bulk_router()],
        render_fault=render_fault,
        server_error=handle_server_error,
        exception_handlers=error_handlers,
        default_latency_ms=lambda: settings.default_latency_ms,
        # Only the outer guard dispatches: /composite subrequests keep the plain app path.
        inner_middleware=[(SalesforceGuard, {**guard_options, "dispatch": hot_routes})],
    )
    app.state.sessions = sessions
    app.state.internal_app = _internal_app(app, guard_options)
    app.state.internal_key = internal_key
    app.state.settings = settings
    if settings.seed is not None:
        org.seed({"seed": settings.seed})
    return app
