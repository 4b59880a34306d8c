"""The JSON Schema export and the `hubforce init` / `hubforce schema` commands."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hubforce.cli import app
from hubforce.config.defaults import DEFAULT_CONFIG_YAML
from hubforce.config.schema import config_schema

runner = CliRunner()


def test_schema_forbids_unknown_keys_and_lists_rules() -> None:
    schema = config_schema()
    assert schema["additionalProperties"] is False
    assert schema["$schema"].endswith("2020-12/schema")
    rules = schema["$defs"]["Rule"]["enum"]
    assert set(rules) == {
        "two_way",
        "prefer_salesforce_unless_blank",
        "always_salesforce",
        "always_hubspot",
        "prefer_hubspot_unless_blank",
        "dont_sync",
    }
    assert schema["$defs"]["FieldMapping"]["additionalProperties"] is False


def test_schema_command_prints_json() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "HubforceConfig"


def test_init_writes_the_default_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "hubforce.yaml"
    first = runner.invoke(app, ["init", str(target)])
    assert first.exit_code == 0
    assert target.read_text(encoding="utf-8") == DEFAULT_CONFIG_YAML
    target.write_text("mine", encoding="utf-8")
    second = runner.invoke(app, ["init", str(target)])
    assert second.exit_code == 1
    assert "--force" in second.output
    assert target.read_text(encoding="utf-8") == "mine"
    third = runner.invoke(app, ["init", str(target), "--force"])
    assert third.exit_code == 0
    assert target.read_text(encoding="utf-8") == DEFAULT_CONFIG_YAML


def test_default_config_is_commented() -> None:
    comments = [line for line in DEFAULT_CONFIG_YAML.splitlines() if "#" in line]
    assert len(comments) > 20
    assert "${" in DEFAULT_CONFIG_YAML


def test_schema_has_the_server_section_and_the_default_config_fills_it() -> None:
    schema = config_schema()
    assert schema["properties"]["server"]["$ref"] == "#/$defs/Server"
    assert "server:" in DEFAULT_CONFIG_YAML and "# webhook_secret: ${" in DEFAULT_CONFIG_YAML
