"""The CLI over real sockets: both emulators served on loopback, `hubforce` commands run by
Typer's runner with a configuration file, secrets from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from hubforce.cli import app
from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.engine.local import EMULATOR_ENV, local_config

TOKEN = {"Authorization": "Bearer emulator-token"}


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    """Both emulators on free loopback ports, seeded from one world."""
    hubspot = create_hubspot_app(HubSpotEmulatorSettings(tier="enterprise"))
    salesforce = create_salesforce_app()
    with BackgroundServer(hubspot) as hs, BackgroundServer(salesforce) as sf:
        for url in (hs.url, sf.url):
            reply = httpx.post(
                f"{url}/__emulator__/seed",
                json={"seed": 11, "people": 20, "companies": 6, "deals": 4},
                timeout=30,
            )
            assert reply.status_code == 200
        yield hs.url, sf.url


def _write_config(tmp_path: Path, hs: str, sf: str, edit: Any = None) -> Path:
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    config = local_config(hs, sf, store, edit=edit)
    data = config.model_dump(mode="json", exclude_defaults=False)
    # Write the file as a user would: secrets as ${ENV} references, never inline.
    data["connections"]["hubspot"]["token"] = "${HUBSPOT_TOKEN}"
    password = data["connections"]["salesforce"]["password"]
    password["password"] = "${SALESFORCE_PASSWORD}"
    password["security_token"] = "${SALESFORCE_SECURITY_TOKEN}"
    password["client_secret"] = "${SALESFORCE_CLIENT_SECRET}"
    data["alerts"].pop("slack_webhook_url", None)
    path = tmp_path / "hubforce.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_sync_status_and_no_echo_over_sockets(servers: tuple[str, str], tmp_path: Path) -> None:
    hs, sf = servers
    path = _write_config(tmp_path, hs, sf)
    runner = CliRunner()

    first = runner.invoke(app, ["sync", "--once", "-c", str(path)], env=EMULATOR_ENV)
    assert first.exit_code == 0, first.output
    assert "Sync run 1" in first.output
    before = httpx.get(f"{sf}/__emulator__/stats").json()["by_route"]

    second = runner.invoke(app, ["sync", "--once", "-c", str(path)], env=EMULATOR_ENV)
    assert second.exit_code == 0, second.output
    after = httpx.get(f"{sf}/__emulator__/stats").json()["by_route"]
    composite = [r for r in after if "composite" in r]
    assert all(after[r] == before.get(r, 0) for r in composite)  # no write in cycle 2

    status = runner.invoke(app, ["status", "-c", str(path)], env=EMULATOR_ENV)
    assert status.exit_code == 0, status.output
    assert "succeeded" in status.output and "contacts" in status.output

    contacts = httpx.post(
        f"{hs}/crm/v3/objects/contacts/search", json={"limit": 1}, headers=TOKEN
    ).json()
    assert contacts["total"] > 0


def test_dry_run_lists_the_plan(servers: tuple[str, str], tmp_path: Path) -> None:
    hs, sf = servers
    created = httpx.post(
        f"{hs}/crm/v3/objects/contacts",
        json={"properties": {"email": "dry.run@plan.example", "lastname": "Planned"}},
        headers=TOKEN,
    ).json()["id"]
    path = _write_config(tmp_path, hs, sf)
    result = CliRunner().invoke(app, ["sync", "--dry-run", "-c", str(path)], env=EMULATOR_ENV)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Dry run: nothing was written" in out
    assert f"create salesforce Lead from {created}" in out
    leads = httpx.get(
        f"{sf}/services/data/v62.0/query",
        params={"q": "SELECT Id FROM Lead WHERE Email = 'dry.run@plan.example'"},
        headers=TOKEN,
    ).json()
    assert leads["totalSize"] == 0


def test_validate_finds_a_broken_mapping(servers: tuple[str, str], tmp_path: Path) -> None:
    hs, sf = servers

    def break_it(data: dict[str, Any]) -> None:
        fields = data["objects"]["contacts"]["fields"]
        fields.append({"hubspot": "favourite_colour", "salesforce": "Favourite_Colour__c"})
        for field in fields:
            if field["hubspot"] == "hs_lead_status":
                field["picklist"]["NEW"] = "Brand New"

    good = CliRunner().invoke(
        app, ["validate", "-c", str(_write_config(tmp_path, hs, sf))], env=EMULATOR_ENV
    )
    assert good.exit_code == 0, good.output
    path = _write_config(tmp_path, hs, sf, break_it)

    result = CliRunner().invoke(app, ["validate", "-c", str(path)], env=EMULATOR_ENV)

    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "HubSpot has no contacts property 'favourite_colour'" in out
    assert "Lead has no field 'Favourite_Colour__c'" in out
    assert "restricted picklist refuses 'Brand New'" in out
    assert "fix:" in out


def test_missing_secret_is_a_clear_error(servers: tuple[str, str], tmp_path: Path) -> None:
    hs, sf = servers
    path = _write_config(tmp_path, hs, sf)
    env = {k: v for k, v in EMULATOR_ENV.items() if k != "HUBSPOT_TOKEN"}
    result = CliRunner().invoke(app, ["sync", "--once", "-c", str(path)], env=env)
    assert result.exit_code == 2
    assert "HUBSPOT_TOKEN" in result.output
    assert "Traceback" not in result.output
