"""A one-shot local HTTP listener for the OAuth redirect (`http://127.0.0.1:<port>/callback`).

It serves on a thread until one request to the callback path arrives, checks its `state`
against the value the flow sent, and hands back the `code`. Nothing it receives is logged:
the query string carries the authorization code.
"""

from __future__ import annotations

import contextlib
import html
import queue
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlparse

from hubforce.errors import HubforceError

CALLBACK_PATH = "/callback"


class CallbackError(HubforceError):
    """The redirect did not bring a usable authorization code."""


def _page(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(body)}</p>"
    ).encode()


class CallbackListener:
    """Waits for the authorization server to redirect the browser back with `?code=`.

    >>> with CallbackListener(state="s3cr3t") as listener:
    ...     open_browser(authorize_url(redirect_uri=listener.redirect_uri, state="s3cr3t"))
    ...     code = listener.wait(timeout=300)
    """

    def __init__(self, state: str, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self._state = state
        self._results: queue.Queue[str | CallbackError] = queue.Queue(maxsize=1)
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return  # the request line holds the authorization code

        try:
            self._server = HTTPServer((host, port), Handler)
        except OSError as exc:
            raise CallbackError(
                f"cannot listen on {host}:{port} for the OAuth redirect ({exc.strerror})",
                "choose another port with --port (and register its redirect URL in the app)",
            ) from None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The port actually listened on."""
        return int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        """The redirect URL to register in the OAuth app and send with the authorize request."""
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def __enter__(self) -> CallbackListener:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlparse(request.path)
        if url.path != CALLBACK_PATH:
            self._reply(request, 404, _page("Not found", "This listener only takes the redirect."))
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        outcome: str | CallbackError
        if "error" in query:
            reason = query.get("error_description") or query["error"]
            outcome = CallbackError(
                f"the authorization was refused: {reason}",
                "run `hubforce connect` again and approve the access",
            )
        elif query.get("state") != self._state:
            outcome = CallbackError(
                "the redirect's state parameter does not match this login attempt",
                "run `hubforce connect` again and finish it in the browser window it opens",
            )
        elif not query.get("code"):
            outcome = CallbackError("the redirect carried no authorization code", "")
        else:
            outcome = query["code"]
        if isinstance(outcome, CallbackError):
            self._reply(request, 400, _page("hubforce: not connected", outcome.message))
        else:
            self._reply(request, 200, _page("hubforce: connected", "You can close this window."))
        with contextlib.suppress(queue.Full):  # only the first redirect counts
            self._results.put_nowait(outcome)

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def wait(self, timeout: float) -> str:
        """The authorization code; CallbackError if refused, forged or not back in time."""
        try:
            outcome = self._results.get(timeout=timeout)
        except queue.Empty:
            raise CallbackError(
                f"no redirect came back within {timeout:.0f} s",
                "open the printed URL in a browser and approve the access, "
                "or pass a larger --timeout",
            ) from None
        if isinstance(outcome, CallbackError):
            raise outcome
        return outcome
