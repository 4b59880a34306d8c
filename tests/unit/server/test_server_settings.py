"""`hubforce run`'s settings: flags over the `server:` section over defaults; the environment
variables over the section's secrets; clear errors; secrets never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from hubforce.cli import app
from hubforce.config import HubforceConfig
from hubforce.config.load import parse_config
from hubforce.errors import ConfigError
from hubforce.server.service import RunOptions, run_options, server_settings

BASE: dict[str, Any] = {
    "connections": {
        "hubspot": {"token": "${HS_TOKEN}"},
        "salesforce": {
            "instance_url": "https://example.my.salesforce.com",
            "password": {"username": "u@example.com", "password": "${SF_PASSWORD}"},
        },
    },
}
ENV = {"HS_TOKEN": "pat-na1-hs-secret", "SF_PASSWORD": "pw-secret"}
SERVER = {
    "host": "0.0.0.0",
    "port": 9090,
    "public_url": "https://hubforce.example.com/",
    "webhook_secret": "${MY_WEBHOOK_SECRET}",
    "hook_token": "${MY_HOOK_TOKEN}",
    "salesforce_org_id": "00D000000000001AAA",
}
SERVER_ENV = {**ENV, "MY_WEBHOOK_SECRET": "whsec-from-config", "MY_HOOK_TOKEN": "hook-from-config"}


def config(
    server: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> HubforceConfig:
    data = dict(BASE)
    if server is not None:
        data["server"] = server
    return parse_config(yaml.safe_dump(data), env=env or SERVER_ENV)


def test_defaults_without_a_server_section() -> None:
    cfg = config()
    assert run_options(cfg) == RunOptions("127.0.0.1", 8080, None)
    assert cfg.server.webhook_secret is None and cfg.server.hook_token is None


def test_flags_win_over_the_section_and_the_section_over_defaults() -> None:
    cfg = config(SERVER)
    assert run_options(cfg) == RunOptions("0.0.0.0", 9090, "https://hubforce.example.com")
    flags = run_options(cfg, host="127.0.0.2", port=1234, public_url="https://other.example")
    assert flags == RunOptions("127.0.0.2", 1234, "https://other.example")
    assert run_options(cfg, port=1234) == RunOptions("0.0.0.0", 1234, cfg.server.public_url)


def test_secrets_come_from_the_section() -> None:
    cfg = config(SERVER)
    settings = server_settings(cfg, run_options(cfg), env={})
    assert settings.webhook.client_secret == "whsec-from-config"
    assert settings.webhook.public_url == "https://hubforce.example.com/webhooks/hubspot"
    assert settings.hook_token == "hook-from-config"
    assert settings.salesforce_org_id == "00D000000000001AAA"


def test_environment_variables_win_over_the_section() -> None:
    cfg = config(SERVER)
    env = {
        "HUBFORCE_WEBHOOK_SECRET": "whsec-from-env",
        "HUBFORCE_HOOK_TOKEN": "hook-from-env",
        "HUBFORCE_SALESFORCE_ORG_ID": "00D000000000002",
    }
    settings = server_settings(cfg, run_options(cfg), env=env)
    assert settings.webhook.client_secret == "whsec-from-env"
    assert settings.hook_token == "hook-from-env"
    assert settings.salesforce_org_id == "00D000000000002"


def test_webhook_secret_falls_back_to_the_oauth_app() -> None:
    data = dict(BASE)
    data["connections"] = {
        **BASE["connections"],
        "hubspot": {"oauth": {"client_id": "app", "client_secret": "${HS_APP_SECRET}"}},
    }
    cfg = parse_config(yaml.safe_dump(data), env={**ENV, "HS_APP_SECRET": "oauth-secret"})
    assert server_settings(cfg, RunOptions(), env={}).webhook.client_secret == "oauth-secret"
    section = config(SERVER)  # the section wins over the OAuth app's secret
    assert server_settings(section, RunOptions(), env={}).webhook.client_secret == (
        "whsec-from-config"
    )


def test_no_webhook_secret_anywhere_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        server_settings(config(), RunOptions(), env={})
    assert caught.value.key_path == "server.webhook_secret"
    assert "HUBFORCE_WEBHOOK_SECRET" in caught.value.hint
    # Without webhooks no secret is needed, and the hook stays off without a token.
    no_hooks = parse_config(yaml.safe_dump({**BASE, "schedule": {"webhooks": False}}), env=ENV)
    settings = server_settings(no_hooks, RunOptions(), env={})
    assert settings.hook_token is None and settings.salesforce_org_id is None


def test_unset_variable_names_the_key_and_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        config(SERVER, env={**ENV, "MY_WEBHOOK_SECRET": "x"})
    assert caught.value.key_path == "server.hook_token"
    assert "MY_HOOK_TOKEN" in caught.value.message
    assert "export MY_HOOK_TOKEN" in caught.value.hint


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("webhook_secret", "whsec-inline-value", "inline"),
        ("salesforce_org_id", "00Dtooshort", "15 or 18"),
        ("public_url", "hubforce.example.com", "http(s) base URL"),
        ("port", 70000, "less than or equal to 65535"),
        ("hots", "0.0.0.0", "unknown key 'hots'"),
    ],
)
def test_bad_server_values_are_config_errors(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config({key: value})
    assert caught.value.key_path == f"server.{key}"
    assert message in caught.value.message
    assert "whsec-inline-value" not in str(caught.value)


def test_a_bad_org_id_in_the_environment_is_a_config_error() -> None:
    cfg = config(SERVER)
    with pytest.raises(ConfigError) as caught:
        server_settings(cfg, RunOptions(), env={"HUBFORCE_SALESFORCE_ORG_ID": "acme"})
    assert caught.value.key_path == "HUBFORCE_SALESFORCE_ORG_ID"


def test_secrets_never_appear_in_reprs() -> None:
    cfg = config(SERVER)
    settings = server_settings(cfg, run_options(cfg), env={})
    for text in (repr(cfg), repr(cfg.server), repr(settings), str(cfg.model_dump())):
        assert "whsec-from-config" not in text and "hook-from-config" not in text


def test_schema_has_the_server_section() -> None:
    schema = HubforceConfig.model_json_schema()
    server = schema["$defs"]["Server"]
    assert server["additionalProperties"] is False
    assert set(server["properties"]) == {
        "host",
        "port",
        "public_url",
        "webhook_secret",
        "hook_token",
        "salesforce_org_id",
    }
    assert "ENV_VAR" in server["properties"]["webhook_secret"]["description"]


def test_run_refuses_to_start_when_the_section_names_an_unset_variable(tmp_path: Path) -> None:
    path = tmp_path / "hubforce.yaml"
    data = {**BASE, "server": {"webhook_secret": "${MY_WEBHOOK_SECRET}"}}
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["run", "-c", str(path)], env=ENV)
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert "server.webhook_secret" in out and "export MY_WEBHOOK_SECRET" in out
    assert "Traceback" not in out and "pw-secret" not in out
