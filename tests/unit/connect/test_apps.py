"""Reading the OAuth app of each side from a configuration that has no refresh token yet."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hubforce.connect.apps import oauth_app, store_url
from hubforce.connect.flow import authorize_url
from hubforce.errors import ConfigError
from hubforce.sync.model import Side

ENV = {"HS_SECRET": "hs-secret", "SF_SECRET": "sf-secret", "STORE": "sqlite:///x.db"}


def _data(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def test_real_hubspot_sends_users_to_app_hubspot_com_and_trades_codes_on_the_api() -> None:
    data = _data('connections: {hubspot: {oauth: {client_id: abc, client_secret: "${HS_SECRET}"}}}')
    app = oauth_app(Side.HUBSPOT, data, file="f.yaml", env=ENV)
    assert app.authorize_url == "https://app.hubspot.com/oauth/authorize"
    assert app.token_url == "https://api.hubapi.com/oauth/v1/token"
    assert app.client_secret is not None and app.client_secret.get_secret_value() == "hs-secret"
    url = authorize_url(app, redirect_uri="http://127.0.0.1:5000/callback", state="st")
    assert url.startswith(
        "https://app.hubspot.com/oauth/authorize?response_type=code&client_id=abc"
    )
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback" in url and "state=st" in url
    assert "hs-secret" not in url and "hs-secret" not in repr(app)


def test_salesforce_uses_the_login_url_and_may_have_no_secret() -> None:
    data = _data(
        "connections: {salesforce: {login_url: https://test.salesforce.com/, "
        "oauth: {client_id: cid}}}"
    )
    app = oauth_app(Side.SALESFORCE, data, file="f.yaml", env=ENV)
    assert app.authorize_url == "https://test.salesforce.com/services/oauth2/authorize"
    assert app.token_url == "https://test.salesforce.com/services/oauth2/token"
    assert app.client_secret is None and app.scopes == ("api", "refresh_token")


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('connections: {hubspot: {token: "${T}"}}', "connections.hubspot.oauth", "missing"),
        ("connections: {}", "connections.hubspot", "missing"),
        (
            "connections: {hubspot: {oauth: {client_id: a, client_secret: inline}}}",
            "connections.hubspot.oauth.client_secret",
            "inline",
        ),
        (
            'connections: {hubspot: {oauth: {client_id: a, client_secret: "${NOPE}"}}}',
            "connections.hubspot.oauth.client_secret",
            "NOPE is not set",
        ),
        (
            'connections: {hubspot: {oauth: {client_secret: "${HS_SECRET}"}}}',
            "connections.hubspot.oauth.client_id",
            "missing",
        ),
    ],
)
def test_configuration_problems_name_the_key(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        oauth_app(Side.HUBSPOT, _data(text), file="f.yaml", env=ENV)
    assert caught.value.key_path == key
    assert words in caught.value.message


def test_store_url_resolves_an_env_reference_and_defaults_to_sqlite() -> None:
    assert store_url(_data('connections: {store: {url: "${STORE}"}}'), ENV) == "sqlite:///x.db"
    assert store_url(_data("connections: {}"), ENV) == "sqlite:///hubforce.db"
    assert store_url(_data("connections: {store: {url: 'sqlite:///y.db'}}"), ENV) == (
        "sqlite:///y.db"
    )
