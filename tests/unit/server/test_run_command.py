"""`hubforce run` refuses to start with a clear message when its secrets or workflows are wrong."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from hubforce.cli import app
from hubforce.config.defaults import DEFAULT_CONFIG_YAML


def _config(tmp_path: Path, workflows: list[dict[str, object]] | None = None) -> Path:
    data = yaml.safe_load(DEFAULT_CONFIG_YAML)
    data["connections"] = {
        "hubspot": {"token": "${HUBSPOT_TOKEN}"},
        "salesforce": {
            "instance_url": "https://example.my.salesforce.com",
            "password": {"username": "u@example.com", "password": "${SF_PASSWORD}"},
        },
        "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
    }
    if workflows is not None:
        data["workflows"] = workflows
    path = tmp_path / "hubforce.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


ENV = {"HUBSPOT_TOKEN": "pat-secret-token", "SF_PASSWORD": "pw-secret"}


def test_missing_webhook_secret_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "-c", str(_config(tmp_path))], env=ENV)
    assert result.exit_code == 2
    assert "client secret to verify signatures" in result.output
    assert "HUBFORCE_WEBHOOK_SECRET" in result.output
    assert "pat-secret-token" not in result.output and "Traceback" not in result.output


def test_bad_workflow_is_named_before_listening(tmp_path: Path) -> None:
    bad: list[dict[str, object]] = [
        {
            "name": "broken",
            "trigger": {"type": "hubspot.record_created"},
            "condition": "email = ",
            "actions": [{"type": "slack", "channel": "#sales", "text": "new {email}"}],
        }
    ]
    env = {**ENV, "HUBFORCE_WEBHOOK_SECRET": "whsec"}
    result = CliRunner().invoke(app, ["run", "-c", str(_config(tmp_path, bad))], env=env)
    assert result.exit_code == 2
    assert "workflows" in result.output and "invalid condition" in result.output
    assert "whsec" not in result.output
