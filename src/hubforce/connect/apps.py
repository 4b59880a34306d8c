"""Which OAuth app to connect with: endpoints and client credentials per side.

They are read from the configuration file's `connections.<side>` (and its `oauth` block) on
their own, without validating the rest: before `hubforce connect` has run there is no refresh
token yet, so the full configuration would not load.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from pydantic import SecretStr

from hubforce.config.base import ENV_REF
from hubforce.errors import ConfigError
from hubforce.sync.model import Side

HUBSPOT_API = "https://api.hubapi.com"
HUBSPOT_APP = "https://app.hubspot.com"
SALESFORCE_LOGIN = "https://login.salesforce.com"
DEFAULT_STORE = "sqlite:///hubforce.db"
# What the sync reads and writes (HubSpot asks for each scope on the consent screen).
HUBSPOT_SCOPES = (
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.owners.read",
    "crm.schemas.contacts.read",
    "crm.schemas.companies.read",
    "crm.schemas.deals.read",
)
SALESFORCE_SCOPES = ("api", "refresh_token")


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """An OAuth app on one side: where to send the user, where to trade the code, as whom."""

    side: Side
    authorize_url: str
    token_url: str
    client_id: str
    client_secret: SecretStr | None
    scopes: tuple[str, ...]


def _secret(value: Any, file: str, key: str, env: Mapping[str, str]) -> SecretStr | None:
    if value is None:
        return None
    match = ENV_REF.match(str(value).strip())
    if match is None:
        raise ConfigError(
            file, key, "a secret is written inline", "write it as a ${ENV_VAR} reference"
        )
    found = env.get(match.group(1), "")
    if not found:
        raise ConfigError(
            file, key, f"environment variable {match.group(1)} is not set", "export it and retry"
        )
    return SecretStr(found)


def _section(data: Any, file: str, *keys: str) -> dict[str, Any]:
    node = data
    for depth, key in enumerate(keys):
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            path = ".".join(keys[: depth + 1])
            raise ConfigError(
                file,
                path,
                "missing",
                "add the OAuth app's client_id and client_secret (as ${ENV_VAR}) under "
                f"connections.{keys[1] if len(keys) > 1 else '<side>'}.oauth",
            )
    if not isinstance(node, dict):
        raise ConfigError(file, ".".join(keys), "must be a mapping", "")
    return node


def read_config(path: Path) -> dict[str, Any]:
    """The configuration file as plain data; ConfigError if missing or not YAML."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            str(path), "", "file not found", "create one with `hubforce init`"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "", f"not valid YAML ({exc})", "") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "the file must hold a mapping", "")
    return data


def store_url(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> str:
    """`connections.store.url` (an ${ENV} reference resolved), or the default SQLite file."""
    connections = data.get("connections") or {}
    url = ((connections.get("store") or {}) if isinstance(connections, dict) else {}).get("url")
    if not url:
        return DEFAULT_STORE
    match = ENV_REF.match(str(url).strip())
    if match is None:
        return str(url)
    return (os.environ if env is None else env).get(match.group(1), "") or DEFAULT_STORE


def oauth_app(
    side: Side, data: Mapping[str, Any], *, file: str, env: Mapping[str, str] | None = None
) -> OAuthApp:
    """The OAuth app configured for `side` in the configuration data."""
    environ = os.environ if env is None else env
    connection = _section(data, file, "connections", side.value)
    oauth = _section(data, file, "connections", side.value, "oauth")
    client_id = str(oauth.get("client_id") or "")
    if not client_id:
        raise ConfigError(
            file, f"connections.{side.value}.oauth.client_id", "missing", "copy it from the app"
        )
    secret_key = f"connections.{side.value}.oauth.client_secret"
    secret = _secret(oauth.get("client_secret"), file, secret_key, environ)
    if side is Side.HUBSPOT:
        if secret is None:
            raise ConfigError(file, secret_key, "missing", "HubSpot apps always have a secret")
        base = str(connection.get("base_url") or HUBSPOT_API).rstrip("/")
        # Real HubSpot shows its consent page on app.hubspot.com; an emulator serves both.
        pages = HUBSPOT_APP if urlparse(base).hostname == "api.hubapi.com" else base
        return OAuthApp(
            side,
            f"{pages}/oauth/authorize",
            f"{base}/oauth/v1/token",
            client_id,
            secret,
            HUBSPOT_SCOPES,
        )
    login = str(connection.get("login_url") or SALESFORCE_LOGIN).rstrip("/")
    return OAuthApp(
        side,
        f"{login}/services/oauth2/authorize",
        f"{login}/services/oauth2/token",
        client_id,
        secret,
        SALESFORCE_SCOPES,
    )
