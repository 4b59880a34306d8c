"""Fixtures serving the Salesforce emulator over TLS for unmodified simple-salesforce.

- `sf_server` (session): a `BackgroundServer` running `create_app()` with TLS; `.url`,
  `.host_port`, `.certs.ca_file`, and the org as `sf_server.app.state.backend`.
- `sf_control` (function): an `httpx.Client` on the server (CA trusted) after
  `POST /__emulator__/reset`; use it for `/__emulator__/...` calls (seed, faults, clock...).
- `sf` (function): a fresh `simple_salesforce.Salesforce` in direct mode (static token),
  `REQUESTS_CA_BUNDLE` pointing at the generated CA; the org was reset first.
- `login_session` (function): a `requests.Session` whose https://login.salesforce.com (and
  test., and *.my.) requests are re-addressed to the emulator, for the SOAP/OAuth logins.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.salesforce.app import create_app

STATIC_TOKEN = "emulator-token"


@pytest.fixture(scope="session")
def sf_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    """The emulator on a free loopback port, HTTPS with a generated CA."""
    server = BackgroundServer(create_app(), tls=True, cert_dir=tmp_path_factory.mktemp("certs"))
    with server:
        yield server
        # Connections simple-salesforce left checked out after error replies stay open; without
        # this uvicorn waits for them and the stop times out after 10 s.
        uvicorn_server = getattr(server, "_server", None)
        if uvicorn_server is not None:
            uvicorn_server.force_exit = True


@pytest.fixture
def sf_control(sf_server: BackgroundServer) -> Iterator[httpx.Client]:
    """A reset org and an httpx client for its control API."""
    assert sf_server.certs is not None
    with httpx.Client(
        base_url=sf_server.url,
        verify=ssl.create_default_context(cafile=str(sf_server.certs.ca_file)),
    ) as client:
        reply = client.post("/__emulator__/reset")
        assert reply.status_code == 200
        client.delete("/__emulator__/faults")
        client.put("/__emulator__/limits", json={"edition": "enterprise"})
        yield client


@pytest.fixture
def sf(
    sf_server: BackgroundServer, sf_control: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Salesforce]:
    """simple-salesforce in direct mode with the static token, trusting the emulator CA."""
    assert sf_server.certs is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sf_server.certs.ca_file))
    client = Salesforce(instance_url=sf_server.url, session_id=STATIC_TOKEN, version="59.0")
    yield client
    client.session.close()  # an idle keep-alive connection would hold up the server's shutdown


class _ToEmulator(HTTPAdapter):
    """Sends any https://*.salesforce.com request to the emulator instead."""

    def __init__(self, host_port: str, **kwargs: Any) -> None:
        self.host_port = host_port
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        assert request.url is not None
        request.url = re.sub(r"^https://[^/]+", f"https://{self.host_port}", request.url)
        request.headers["Host"] = self.host_port
        return super().send(request, **kwargs)


@pytest.fixture
def login_session(
    sf_server: BackgroundServer, sf_control: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> Iterator[requests.Session]:
    """A requests session that routes the Salesforce login hosts to the emulator."""
    assert sf_server.certs is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sf_server.certs.ca_file))
    session = requests.Session()
    session.verify = str(sf_server.certs.ca_file)
    adapter = _ToEmulator(sf_server.host_port)
    for host in ("login.salesforce.com", "test.salesforce.com", "emulator.my.salesforce.com"):
        session.mount(f"https://{host}", adapter)
    yield session
    session.close()
