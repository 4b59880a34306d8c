"""`create_app`: the HubSpot emulator as a FastAPI app, state on `app.state.portal`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware

from hubforce.emulators.common.app import build_emulator_app
from hubforce.emulators.hubspot import forms, webhooks
from hubforce.emulators.hubspot.auth import AuthLimitMiddleware
from hubforce.emulators.hubspot.exceptions import HubSpotApiError
from hubforce.emulators.hubspot.models import Portal
from hubforce.emulators.hubspot.routes import (
    build_control_extras,
    build_crm_router,
    build_oauth_router,
)
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.hubspot.wire import (
    handle_api_error,
    handle_http_error,
    handle_server_error,
    handle_validation_error,
    render_fault,
)


def create_app(settings: HubSpotEmulatorSettings | None = None) -> FastAPI:
    """A fresh emulated portal served as an ASGI app (seeded when `settings.seed` is set)."""
    settings = settings or HubSpotEmulatorSettings()
    portal = Portal(settings)
    if settings.seed is not None:
        portal.seed({"seed": settings.seed})
    crm_router = build_crm_router(portal)
    app = build_emulator_app(
        title="HubSpot CRM API emulator",
        backend=portal,
        routers=[
            crm_router,
            build_oauth_router(portal),
            forms.build_forms_router(),
            build_control_extras(portal),
            webhooks.build_webhooks_control_router(),
        ],
        render_fault=render_fault,
        server_error=handle_server_error,
        exception_handlers={
            HubSpotApiError: handle_api_error,
            RequestValidationError: handle_validation_error,
            StarletteHTTPException: handle_http_error,
        },
    )
    app.state.portal = portal
    # CRM routes first: the router tries routes in order and the control API is rarely hit.
    crm = [r for r in app.router.routes if getattr(r, "path", "").startswith("/crm/")]
    app.router.routes[:] = crm + [r for r in app.router.routes if r not in crm]
    # Innermost middleware (after faults and stats): auth and rate limits for every CRM route.
    app.user_middleware.append(
        Middleware(AuthLimitMiddleware, portal=portal, crm_routes=crm_router.routes)
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        attach = getattr(webhooks, "attach_deliverer", None)
        if attach is not None:
            attach(app, portal)
        yield
        detach = getattr(webhooks, "detach_deliverer", None)
        if detach is not None:
            await detach(app)

    app.router.lifespan_context = lifespan
    return app
