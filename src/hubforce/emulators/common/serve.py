"""Serving an emulator: in the foreground for the CLI, or on a background thread for tests."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from hubforce.emulators.common.tls import CertFiles, ensure_local_certificates


def default_cert_dir() -> Path:
    """Where generated certificates live (HUBFORCE_CERT_DIR or ~/.hubforce/certs)."""
    configured = os.environ.get("HUBFORCE_CERT_DIR")
    return Path(configured) if configured else Path.home() / ".hubforce" / "certs"


def _uvicorn_config(app: Any, certs: CertFiles | None, **kwargs: Any) -> uvicorn.Config:
    tls: dict[str, Any] = {}
    if certs is not None:
        tls = {"ssl_certfile": str(certs.cert_file), "ssl_keyfile": str(certs.key_file)}
    return uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", **tls, **kwargs
    )


def serve_forever(app: Any, *, host: str, port: int, certs: CertFiles | None) -> None:
    """Run until interrupted (Ctrl-C / SIGTERM)."""
    uvicorn.Server(_uvicorn_config(app, certs, host=host, port=port)).run()


class BackgroundServer:
    """An app served by uvicorn on a free loopback port, on a daemon thread.

    >>> with BackgroundServer(app) as server:
    ...     httpx.get(server.url + "/path")
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        cert_dir: Path | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.certs = ensure_local_certificates(cert_dir or default_cert_dir()) if tls else None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # asyncio only sets TCP_NODELAY when sock.proto == IPPROTO_TCP, which a plain
        # socket.socket() is not (proto 0); accepted sockets inherit it from here. Without it
        # Nagle + delayed ACK cap a keep-alive client at ~25 requests/s.
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self._server = uvicorn.Server(_uvicorn_config(app, self.certs))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL, e.g. 'http://127.0.0.1:54321'."""
        scheme = "https" if self.certs else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def host_port(self) -> str:
        """'127.0.0.1:54321'."""
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        """Start serving and wait (polling, with a deadline) until it accepts requests."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator server thread exited during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {self.url} did not start within {timeout}s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
