"""Assembles an emulator app: the middleware order is written here, once.

Outermost to innermost: server errors (the vendor's 500 body, never a traceback), request stats,
fault injection, then the vendor routes and the control API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubforce.emulators.common.control import EmulatorBackend, build_control_router
from hubforce.emulators.common.faults import FaultMiddleware, FaultRenderer
from hubforce.emulators.common.stats import StatsMiddleware

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


class VendorServerError:
    """Answers an unhandled exception with the vendor's 500 body, keeping the connection open.

    Starlette's ServerErrorMiddleware re-raises after answering, which makes uvicorn close the
    keep-alive connection under a client that is already sending its next request.
    """

    def __init__(self, app: ASGIApp, handler: ExceptionHandler) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if started:
                raise
            response = await self.handler(Request(scope, receive), exc)
            await response(scope, receive, send)


def build_emulator_app(
    *,
    title: str,
    backend: EmulatorBackend,
    routers: Sequence[APIRouter],
    render_fault: FaultRenderer,
    server_error: ExceptionHandler,
    exception_handlers: dict[type[Exception], ExceptionHandler] | None = None,
    default_latency_ms: Callable[[], int] = lambda: 0,
    inner_middleware: Sequence[tuple[Any, dict[str, Any]]] = (),
) -> FastAPI:
    """A FastAPI app with the shared plumbing around the vendor routers.

    `inner_middleware` (class, options) pairs run innermost, after fault injection and stats,
    in the order given (the first is the outermost of them): e.g. a vendor's auth gate.
    """
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend
    for exc_type, handler in (exception_handlers or {}).items():
        app.add_exception_handler(exc_type, handler)
    # Registered for Exception, Starlette runs this in ServerErrorMiddleware (outermost).
    app.add_exception_handler(Exception, server_error)
    app.include_router(build_control_router(backend))
    for router in routers:
        app.include_router(router)
    # add_middleware puts the last one added outermost.
    for middleware_class, options in reversed(list(inner_middleware)):
        app.add_middleware(middleware_class, **options)
    app.add_middleware(
        FaultMiddleware,
        plan=backend.faults,
        render=render_fault,
        default_latency_ms=default_latency_ms,
    )
    # Innermost: unhandled errors get the vendor 500 without dropping the connection.
    app.user_middleware.append(Middleware(VendorServerError, handler=server_error))
    vendor_routes = [route for router in routers for route in router.routes]
    app.add_middleware(StatsMiddleware, stats=backend.stats, routes=lambda: vendor_routes)
    return app
