"""`hubforce connect`: the OAuth authorization-code flow with a local redirect, per side."""

from hubforce.connect.apps import OAuthApp, oauth_app, read_config, store_url
from hubforce.connect.flow import (
    Connected,
    authorize_url,
    connect,
    credential_name,
    exchange_code,
    stored_refresh_token,
)
from hubforce.connect.listener import CallbackError, CallbackListener

__all__ = [
    "CallbackError",
    "CallbackListener",
    "Connected",
    "OAuthApp",
    "authorize_url",
    "connect",
    "credential_name",
    "exchange_code",
    "oauth_app",
    "read_config",
    "store_url",
    "stored_refresh_token",
]
