"""`hubforce sync` announces failures in Slack: one digest for a new failure group, none while
it only persists, one when it is resolved (a local receiver stands in for Slack)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from typer.testing import CliRunner

from hubforce.cli import app
from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.engine.local import EMULATOR_ENV, local_config

TOKEN = {"Authorization": "Bearer emulator-token"}


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Both emulators, a Slack stand-in recording posts, and a config file pointing at them."""
    received: list[dict[str, Any]] = []

    async def incoming_webhook(request: Request) -> PlainTextResponse:
        received.append(json.loads(await request.body()))
        return PlainTextResponse("ok")

    slack = Starlette(routes=[Route("/services/T0/B0/secret", incoming_webhook, methods=["POST"])])
    hubspot = create_hubspot_app(HubSpotEmulatorSettings(tier="enterprise"))
    with (
        BackgroundServer(hubspot) as hs,
        BackgroundServer(create_salesforce_app()) as sf,
        BackgroundServer(slack) as receiver,
    ):
        for url in (hs.url, sf.url):
            seeded = httpx.post(
                f"{url}/__emulator__/seed",
                json={"seed": 5, "people": 10, "companies": 3, "deals": 2},
                timeout=30,
            )
            assert seeded.status_code == 200
        config = local_config(hs.url, sf.url, f"sqlite:///{tmp_path / 'alerts.db'}")
        data = config.model_dump(mode="json")
        data["connections"]["hubspot"]["token"] = "${HUBSPOT_TOKEN}"
        password = data["connections"]["salesforce"]["password"]
        password["password"] = "${SALESFORCE_PASSWORD}"
        password["security_token"] = "${SALESFORCE_SECURITY_TOKEN}"
        password["client_secret"] = "${SALESFORCE_CLIENT_SECRET}"
        data["alerts"]["slack_webhook_url"] = "${SLACK_WEBHOOK_URL}"
        path = tmp_path / "hubforce.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        env = {**EMULATOR_ENV, "SLACK_WEBHOOK_URL": f"{receiver.url}/services/T0/B0/secret"}
        yield {"hs": hs.url, "sf": sf.url, "config": path, "env": env, "received": received}


def _sync(world: dict[str, Any]) -> str:
    result = CliRunner().invoke(
        app, ["sync", "--once", "-c", str(world["config"])], env=world["env"]
    )
    assert result.exit_code == 0, result.output
    assert "secret" not in result.output  # the webhook URL is a secret
    return result.output


def test_a_new_failure_group_is_announced_once_and_its_recovery_too(
    world: dict[str, Any],
) -> None:
    created = httpx.post(
        f"{world['hs']}/crm/v3/objects/contacts",
        headers=TOKEN,
        json={
            "properties": {
                "email": "no.phone@alerts.example",
                "lastname": "Worked",
                "hs_lead_status": "IN_PROGRESS",
            }
        },
    )
    assert created.status_code == 201
    contact_id = created.json()["id"]

    _sync(world)
    assert len(world["received"]) == 1
    message = json.dumps(world["received"][0])
    assert "1 contacts record rejected: validation_rule" in message
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in message
    assert "hubforce retry --category validation_rule" in message

    _sync(world)  # the same failure persists: no second message
    assert len(world["received"]) == 1

    fixed = httpx.patch(
        f"{world['hs']}/crm/v3/objects/contacts/{contact_id}",
        headers=TOKEN,
        json={"properties": {"phone": "+1 555 0100"}},
    )
    assert fixed.status_code == 200
    _sync(world)
    assert len(world["received"]) == 2
    assert "the validation_rule failures are resolved" in json.dumps(world["received"][1])
