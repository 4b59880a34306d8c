"""Loading the configuration: secrets by reference only, and errors with key path and hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubforce.config.defaults import DEFAULT_CONFIG_YAML
from hubforce.config.load import load_config, parse_config
from hubforce.errors import ConfigError
from hubforce.server.service import workflows_of
from hubforce.sync.model import DeletePolicy, Rule

ENV = {
    "HUBSPOT_TOKEN": "pat-na1-secret",
    "SALESFORCE_CLIENT_SECRET": "s3",
    "SALESFORCE_REFRESH_TOKEN": "r",
}

MINIMAL = """
connections:
  hubspot: {token: "${HS_TOKEN}"}
  salesforce:
    password: {username: u@example.com, password: "${SF_PASSWORD}"}
objects:
  contacts:
    hubspot: contacts
    salesforce: [Lead, Contact]
    create_as: Lead
    fields:
      - {hubspot: email, salesforce: Email, type: email}
      - {hubspot: jobtitle, salesforce: Title, rule: RULE}
"""
MINIMAL_ENV = {"HS_TOKEN": "pat-abc", "SF_PASSWORD": "pw"}


def error_of(text: str, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file="hubforce.yaml", env=MINIMAL_ENV if env is None else env)
    return caught.value


def test_default_config_loads_and_resolves_secrets() -> None:
    config = parse_config(DEFAULT_CONFIG_YAML, env=ENV)
    token = config.connections.hubspot.token
    assert token is not None
    assert token.get_secret_value() == "pat-na1-secret"
    assert "pat-na1-secret" not in repr(config)
    assert set(config.objects) == {"owners", "companies", "contacts", "deals"}
    contacts = config.objects["contacts"]
    assert contacts.create_as == "Lead"
    assert contacts.delete_policy is DeletePolicy.UNLINK
    assert config.schedule.reconcile_seconds == 900


def test_minimal_config_with_a_valid_rule() -> None:
    config = parse_config(MINIMAL.replace("RULE", "always_salesforce"), env=MINIMAL_ENV)
    assert config.objects["contacts"].fields[1].rule is Rule.ALWAYS_SALESFORCE


def test_inline_secret_is_refused_with_what_to_do() -> None:
    error = error_of(
        MINIMAL.replace('"${HS_TOKEN}"', "pat-na1-inline-token").replace("RULE", "two_way")
    )
    assert error.key_path == "connections.hubspot.token"
    assert "inline" in error.message
    assert "environment variable" in error.hint
    assert "pat-na1-inline-token" not in str(error)


def test_missing_env_var_names_the_key_and_the_variable() -> None:
    error = error_of(MINIMAL.replace("RULE", "two_way"), env={"HS_TOKEN": "x"})
    assert error.key_path == "connections.salesforce.password.password"
    assert "SF_PASSWORD" in error.message
    assert "export SF_PASSWORD" in error.hint


def test_unknown_key_has_its_path_and_a_suggestion() -> None:
    text = MINIMAL.replace("RULE", "two_way").replace("create_as: Lead", "create_ass: Lead")
    error = error_of(text)
    assert error.key_path == "objects.contacts.create_ass"
    assert "unknown key 'create_ass'" in error.message
    assert error.hint == "did you mean 'create_as'?"


def test_unknown_key_in_a_list_item() -> None:
    text = MINIMAL.replace("RULE", "two_way").replace("type: email}", "typ: email}")
    error = error_of(text)
    assert error.key_path == "objects.contacts.fields[0].typ"
    assert error.hint == "did you mean 'type'?"


def test_bad_rule_name_suggests_the_right_one() -> None:
    error = error_of(MINIMAL.replace("RULE", "two-way"))
    assert error.key_path == "objects.contacts.fields[1].rule"
    assert "'two-way' is not a valid value" in error.message
    assert error.hint == "did you mean 'two_way'?"
    assert str(error).startswith("hubforce.yaml: objects.contacts.fields[1].rule:")


def test_unknown_object_pair_is_refused() -> None:
    text = MINIMAL.replace("RULE", "two_way").replace("  contacts:\n", "  contakts:\n")
    error = error_of(text)
    assert error.key_path == "objects"
    assert "contakts" in error.message


def test_two_auth_methods_are_refused() -> None:
    text = MINIMAL.replace("RULE", "two_way").replace(
        'hubspot: {token: "${HS_TOKEN}"}',
        'hubspot: {token: "${HS_TOKEN}", oauth: {client_id: a, client_secret: "${HS_TOKEN}", '
        'refresh_token: "${HS_TOKEN}"}}',
    )
    error = error_of(text)
    assert error.key_path == "connections.hubspot"
    assert "exactly one" in error.message


def test_store_url_with_inline_password_is_refused() -> None:
    text = MINIMAL.replace("RULE", "two_way").replace(
        "objects:", "  store: {url: 'postgresql://app:hunter2@db/hubforce'}\nobjects:"
    )
    error = error_of(text)
    assert error.key_path == "connections.store.url"
    assert "hunter2" not in str(error)
    assert "HUBFORCE_STORE_URL" in error.message


def test_create_as_must_be_one_of_the_pair_types() -> None:
    error = error_of(
        MINIMAL.replace("RULE", "two_way").replace("create_as: Lead", "create_as: Account")
    )
    assert error.key_path == "objects.contacts"
    assert "create_as 'Account'" in error.message


def test_yaml_syntax_error_has_a_line() -> None:
    error = error_of("connections: [unclosed\n")
    assert error.key_path.startswith("line ")
    assert "not valid YAML" in error.message


def test_missing_file_suggests_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert caught.value.hint == "create one with `hubforce init`"


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "hubforce.yaml"
    path.write_text(DEFAULT_CONFIG_YAML, encoding="utf-8")
    config = load_config(path, env=ENV)
    assert config.objects["deals"].create_as == "Opportunity"


def test_several_problems_are_counted() -> None:
    text = MINIMAL.replace("RULE", "nope").replace("type: email}", "typ: email}")
    error = error_of(text)
    assert "and 1 more problem(s)" in error.message


def test_default_config_ships_the_seed_workflows_and_a_server_section() -> None:
    config = parse_config(DEFAULT_CONFIG_YAML, env=ENV)
    # Seed workflow 1 and the closed-won example are workflows; they validate as such.
    workflows = workflows_of(config).workflows
    assert [(w.name, w.enabled) for w in workflows] == [
        ("form-to-lead", True),
        ("closed-won-customer", True),
    ]
    # Seed workflow 2 (e-mail both ways) is the contacts pair's two-way e-mail mapping.
    (email,) = [f for f in config.objects["contacts"].fields if f.hubspot == "email"]
    assert (email.salesforce, email.rule) == ("Email", Rule.TWO_WAY)
    assert "Seed workflow 2" in DEFAULT_CONFIG_YAML
    # The server section needs no secret to load (they are commented out).
    server = config.server
    assert (server.host, server.port, server.webhook_secret, server.hook_token) == (
        "127.0.0.1",
        8080,
        None,
        None,
    )
