"""`hubforce connect` end to end against both emulators served on loopback.

A scripted "browser" (httpx) walks the authorize page and follows the redirect to the
command's one-shot listener; the test then checks the refresh token is stored encrypted and
that, decrypted, the emulator accepts it.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hubforce.cli import app, connect_commands
from hubforce.config import load_config
from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app as create_hubspot
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import SalesforceEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce
from hubforce.emulators.salesforce.config import Credentials
from hubforce.engine.runner import sync_context
from hubforce.store import SecretBox, open_store
from hubforce.store.tables import credentials

runner = CliRunner()
HS = HubSpotEmulatorSettings()
SF = Credentials()
KEY = SecretBox.generate_key()
CONFIG = """\
version: 1
connections:
  hubspot:
    base_url: {hubspot}
    oauth:
      client_id: {hs_client}
      client_secret: "${{HS_SECRET}}"
      refresh_token: "${{HS_REFRESH}}"
  salesforce:
    login_url: {salesforce}
    oauth:
      client_id: {sf_client}
      client_secret: "${{SF_SECRET}}"
      refresh_token: "${{SF_REFRESH}}"
  store: {{url: "{store}"}}
"""


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    with (
        BackgroundServer(create_hubspot(HS)) as hubspot,
        BackgroundServer(create_salesforce(SalesforceEmulatorSettings())) as salesforce,
    ):
        yield hubspot.url, salesforce.url


@pytest.fixture
def setup(tmp_path: Path, servers: tuple[str, str]) -> tuple[Path, str, dict[str, str]]:
    store = f"sqlite:///{tmp_path / 'state.db'}"
    config = tmp_path / "hubforce.yaml"
    config.write_text(
        CONFIG.format(
            hubspot=servers[0],
            salesforce=servers[1],
            hs_client=HS.client_id,
            sf_client=SF.consumer_key,
            store=store,
        )
    )
    env = {
        "HUBFORCE_SECRET_KEY": KEY,
        "HS_SECRET": HS.client_secret,
        "SF_SECRET": SF.consumer_secret,
        "COLUMNS": "250",
    }
    return config, store, env


def scripted_browser(tamper: Callable[[str], str] = lambda url: url) -> Callable[[str], object]:
    """Approve on the authorize page and follow the redirect back, as a user's browser would."""

    def browse(url: str) -> object:
        with httpx.Client(timeout=10) as http:
            response = http.get(url)
            approve = re.search(r'id="approve" href="([^"]+)"', response.text)
            if response.status_code == 200 and approve is not None:  # HubSpot's consent page
                response = http.get(html.unescape(approve.group(1)))
            assert response.status_code == 302, response.text
            back = http.get(tamper(response.headers["location"]))
            return back.status_code

    return browse


def _raw_ciphertext(store: str, name: str) -> bytes:
    with open_store(store) as opened, opened.engine.connect() as conn:
        row = conn.execute(select(credentials.c.ciphertext).where(credentials.c.name == name))
        return bytes(row.scalar_one())


def _stored(store: str, name: str) -> str:
    with open_store(store) as opened:
        token = opened.secrets.get(name, SecretBox(KEY))
    assert token is not None
    return token


def test_connect_hubspot_stores_an_encrypted_refresh_token_the_emulator_accepts(
    setup: tuple[Path, str, dict[str, str]],
    servers: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, store, env = setup
    monkeypatch.setattr(connect_commands, "open_browser", scripted_browser())
    result = runner.invoke(app, ["connect", "hubspot", "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output
    assert "Connected to hubspot" in result.output and "hubspot.refresh_token" in result.output
    token = _stored(store, "hubspot.refresh_token")
    assert token not in result.output
    raw = _raw_ciphertext(store, "hubspot.refresh_token")
    assert token.encode() not in raw and raw.startswith(b"gAAAAA")  # a Fernet token
    with httpx.Client(base_url=servers[0], timeout=10) as http:
        grant = http.post(
            "/oauth/v1/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": token,
                "client_id": HS.client_id,
                "client_secret": HS.client_secret,
            },
        )
        assert grant.status_code == 200, grant.text
        access = grant.json()["access_token"]
        contacts = http.get(
            "/crm/v3/objects/contacts", headers={"Authorization": f"Bearer {access}"}
        )
    assert contacts.status_code == 200 and contacts.json()["results"] == []


def test_connect_salesforce_stores_an_encrypted_refresh_token_the_emulator_accepts(
    setup: tuple[Path, str, dict[str, str]],
    servers: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, store, env = setup
    monkeypatch.setattr(connect_commands, "open_browser", scripted_browser())
    result = runner.invoke(app, ["connect", "salesforce", "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output
    assert f"instance_url: {servers[1]}" in result.output
    token = _stored(store, "salesforce.refresh_token")
    assert token.encode() not in _raw_ciphertext(store, "salesforce.refresh_token")
    with httpx.Client(base_url=servers[1], timeout=10) as http:
        grant = http.post(
            "/services/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": token,
                "client_id": SF.consumer_key,
                "client_secret": SF.consumer_secret,
            },
        )
        assert grant.status_code == 200, grant.text
        access = grant.json()["access_token"]
        query = http.get(
            "/services/data/v59.0/query",
            params={"q": "SELECT Id FROM Account"},
            headers={"Authorization": f"Bearer {access}"},
        )
    assert query.status_code == 200 and query.json()["totalSize"] == 0


def test_a_redirect_with_a_forged_state_is_refused_and_nothing_is_stored(
    setup: tuple[Path, str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, store, env = setup

    def forge(location: str) -> str:
        url = urlparse(location)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        return url._replace(query=urlencode({**query, "state": "attacker"})).geturl()

    monkeypatch.setattr(connect_commands, "open_browser", scripted_browser(forge))
    result = runner.invoke(app, ["connect", "salesforce", "--config", str(config)], env=env)
    assert result.exit_code == 1
    assert "state parameter does not match" in result.output
    with open_store(store) as opened:
        assert opened.secrets.names() == []


def test_without_a_secret_key_it_says_how_to_make_one_before_any_browser(
    setup: tuple[Path, str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _, env = setup
    opened: list[str] = []
    monkeypatch.setattr(connect_commands, "open_browser", opened.append)
    env = {**env, "HUBFORCE_SECRET_KEY": ""}
    result = runner.invoke(app, ["connect", "hubspot", "--config", str(config)], env=env)
    assert result.exit_code == 1
    assert "HUBFORCE_SECRET_KEY is not set" in result.output
    assert "SecretBox.generate_key()" in result.output
    assert opened == []


def test_a_config_without_an_oauth_app_is_a_clear_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hubforce.yaml"
    config.write_text('connections:\n  hubspot: {token: "${HS_TOKEN}"}\n')
    monkeypatch.setattr(connect_commands, "open_browser", scripted_browser())
    env = {"HUBFORCE_SECRET_KEY": KEY, "COLUMNS": "250"}
    result = runner.invoke(app, ["connect", "hubspot", "--config", str(config)], env=env)
    assert result.exit_code == 2
    assert "connections.hubspot.oauth: missing" in result.output
    assert "client_id and client_secret" in result.output


def test_a_wrong_client_secret_is_reported_with_the_apis_words(
    setup: tuple[Path, str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, store, env = setup
    monkeypatch.setattr(connect_commands, "open_browser", scripted_browser())
    env = {**env, "SF_SECRET": "not-the-secret"}
    result = runner.invoke(app, ["connect", "salesforce", "--config", str(config)], env=env)
    assert result.exit_code == 3
    assert "Authentication failed: reauthorize Salesforce" in result.output
    assert "invalid_client" in result.output
    assert "not-the-secret" not in result.output
    with open_store(store) as opened:
        assert opened.secrets.names() == []


def test_the_engine_uses_the_stored_refresh_tokens_when_the_config_names_none(
    setup: tuple[Path, str, dict[str, str]],
    servers: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, _store, env = setup
    monkeypatch.setattr(connect_commands, "open_browser", scripted_browser())
    for side in ("hubspot", "salesforce"):
        result = runner.invoke(app, ["connect", side, "--config", str(config)], env=env)
        assert result.exit_code == 0, result.output
    # What `connect` tells the user to do: leave refresh_token out of the file.
    text = "\n".join(
        line for line in config.read_text().splitlines() if "refresh_token" not in line
    )
    config.write_text(
        text.replace(
            f"login_url: {servers[1]}", f"login_url: {servers[1]}\n    instance_url: {servers[1]}"
        )
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_config(config)
    assert settings.connections.hubspot.oauth is not None
    assert settings.connections.hubspot.oauth.refresh_token is None

    async def reach_both() -> tuple[int, int]:
        async with sync_context(settings) as ctx:
            owners = await ctx.hubspot.owners()
            pages = [page async for page in ctx.salesforce.query("SELECT Id FROM User")]
            return len(owners), sum(len(page) for page in pages)

    # Both calls need an access token, which only the stored refresh tokens can give.
    hubspot_owners, salesforce_users = asyncio.run(reach_both())
    assert hubspot_owners == 0 and salesforce_users >= 1  # unseeded: no owners, one admin user
