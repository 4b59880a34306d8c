"""`ServiceApp`: `hubforce run`'s app inside a server that owns its loop (the demo's way).

It opens the clients and the store at lifespan start-up, serves the assembled app, and at
shutdown drains then closes; a start-up error is reported as a failed start, not raised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.engine.local import local_config
from hubforce.server.app import ServerSettings
from hubforce.server.service import ServiceApp
from hubforce.server.webhooks import WebhookSettings

SETTINGS = ServerSettings(WebhookSettings("unit-secret"), hook_token="unit-token")


def _no_workflows(data: dict[str, Any]) -> None:
    data["workflows"] = []  # this test is about the app's life, not about workflows


def test_serves_the_assembled_app_and_stops_cleanly(tmp_path: Path) -> None:
    with (
        BackgroundServer(create_hubspot_app(HubSpotEmulatorSettings())) as hs,
        BackgroundServer(create_salesforce_app()) as sf,
    ):
        config = local_config(hs.url, sf.url, f"sqlite:///{tmp_path / 's.db'}", edit=_no_workflows)
        app = ServiceApp(config, SETTINGS, salesforce_poll_seconds=0.5)
        server = BackgroundServer(app).start()
        try:
            assert httpx.get(server.url + "/readyz").status_code == 200
            hook = httpx.post(
                server.url + "/hooks/sync",
                json={"records": [{"side": "hubspot", "object_type": "contacts", "id": "1"}]},
                headers={"Authorization": "Bearer unit-token"},
            )
            assert hook.status_code == 202
            assert app.service is not None and app.startup_error is None
        finally:
            server.stop()
    assert app.stopped_cleanly


# uvicorn ends its server thread with SystemExit(3) after a failed start-up, by design.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_start_up_error_is_reported_not_raised(tmp_path: Path) -> None:
    def oauth_without_refresh_token(data: dict[str, Any]) -> None:
        _no_workflows(data)
        data["connections"]["hubspot"] = {
            "oauth": {"client_id": "app", "client_secret": "${HUBSPOT_TOKEN}"}
        }

    # No refresh token configured and none stored by `hubforce connect`: a ConfigError.
    config = local_config(
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        f"sqlite:///{tmp_path / 's.db'}",
        edit=oauth_without_refresh_token,
    )
    app = ServiceApp(config, SETTINGS)
    with pytest.raises(RuntimeError, match="exited during start-up"):
        BackgroundServer(app).start()
    assert app.startup_error  # the hubforce error's message (what to configure)
    assert app.service is None and not app.stopped_cleanly
