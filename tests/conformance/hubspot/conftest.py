"""Shared fixtures for driving the HubSpot emulator with the unmodified hubspot-api-client.

- `hubspot_server` (session): the emulator served on a free loopback port (BackgroundServer),
  `enterprise` tier, with `.url`, and `.app.state.portal` for white-box checks.
- `hubspot_url` (function): its base URL after `POST /__emulator__/reset` (fresh empty portal).
- `hubspot_client` (function): a fresh `hubspot.HubSpot(access_token=STATIC_TOKEN, host=url)`
  with SDK retries switched off, so 429s and 5xx surface at once.
- `portal` (function): the served `Portal` (same process), e.g. to advance its clock.
- `hubspot_control` (session): an `httpx.Client` on the server's base URL for
  `/__emulator__/` calls (one client: building a fresh one costs ~0.2 s of TLS setup).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hubspot import HubSpot
from urllib3.util.retry import Retry

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app
from hubforce.emulators.hubspot.models import Portal
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings

STATIC_TOKEN = "conformance-token"


@pytest.fixture(scope="session")
def hubspot_server() -> Iterator[BackgroundServer]:
    """The emulator on loopback for the whole session."""
    settings = HubSpotEmulatorSettings(static_token=STATIC_TOKEN, tier="enterprise")
    with BackgroundServer(create_app(settings)) as server:
        yield server


@pytest.fixture(scope="session")
def hubspot_control(hubspot_server: BackgroundServer) -> Iterator[httpx.Client]:
    """One HTTP client for the control API."""
    with httpx.Client(base_url=hubspot_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def hubspot_url(hubspot_server: BackgroundServer, hubspot_control: httpx.Client) -> str:
    """Base URL of a freshly reset portal (limits back on, clock untouched)."""
    reset = hubspot_control.post("/__emulator__/reset")
    assert reset.status_code == 200
    limits = hubspot_control.put(
        "/__emulator__/limits",
        json={"enabled": True, "tier": "enterprise", "index_lag_ms": 0, "search_per_second": 1000},
    )
    assert limits.status_code == 200
    return hubspot_server.url


@pytest.fixture
def portal(hubspot_server: BackgroundServer, hubspot_url: str) -> Portal:
    """The served portal object."""
    served: Portal = hubspot_server.app.state.portal
    return served


@pytest.fixture
def hubspot_client(hubspot_url: str) -> HubSpot:
    """The official SDK pointed at the emulator, retries off."""
    return HubSpot(
        access_token=STATIC_TOKEN,
        host=hubspot_url,
        retry=Retry(0, respect_retry_after_header=False, raise_on_status=False),
    )
