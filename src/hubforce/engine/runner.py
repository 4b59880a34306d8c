"""Building a sync context from the configuration: clients with their auth, store, mappings.

Tests and the demo pass `transports` (e.g. `httpx.ASGITransport` into an emulator app) so the
same code runs without sockets; production passes nothing and reaches the real APIs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
from pydantic import SecretStr

from hubforce.config.model import HubforceConfig
from hubforce.connect.flow import stored_refresh_token
from hubforce.connectors.governor import Governor, hubspot_governor, salesforce_governor
from hubforce.connectors.http import RetryPolicy
from hubforce.connectors.hubspot.auth import HubSpotOAuth, PrivateAppToken
from hubforce.connectors.hubspot.client import HubSpotClient
from hubforce.connectors.salesforce.auth import JwtBearerGrant, PasswordGrant, RefreshTokenGrant
from hubforce.connectors.salesforce.client import SalesforceClient
from hubforce.engine.context import CycleOptions, SyncContext
from hubforce.errors import ConfigError
from hubforce.store import Store, open_store
from hubforce.sync.fields import PairMapping, compile_pair
from hubforce.sync.model import Side

Transports = dict[Side, httpx.AsyncBaseTransport]


def compile_mappings(config: HubforceConfig) -> dict[str, PairMapping]:
    """Every enabled object pair, compiled for the planner."""
    return {name: compile_pair(name, pair) for name, pair in config.objects.items() if pair.enabled}


def _refresh_token(secret: SecretStr | None, store: Store | None, side: Side) -> str:
    """The configured refresh token, else the one `hubforce connect` stored encrypted."""
    if secret is not None:
        return secret.get_secret_value()
    if store is None:
        raise ConfigError(
            "config",
            f"connections.{side.value}.oauth.refresh_token",
            "no refresh token is configured",
            f"run `hubforce connect {side.value}` or set refresh_token: ${{ENV_VAR}}",
        )
    return stored_refresh_token(store, side)


def hubspot_client(
    config: HubforceConfig,
    *,
    store: Store | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    policy: RetryPolicy | None = None,
    verify: bool | str = True,
    governor: Governor | None = None,
) -> HubSpotClient:
    """A HubSpot client from `connections.hubspot`."""
    conn = config.connections.hubspot
    auth: httpx.Auth
    if conn.token is not None:
        auth = PrivateAppToken(conn.token.get_secret_value())
    else:
        assert conn.oauth is not None  # the model requires exactly one
        auth = HubSpotOAuth(
            client_id=conn.oauth.client_id,
            client_secret=conn.oauth.client_secret.get_secret_value(),
            refresh_token=_refresh_token(conn.oauth.refresh_token, store, Side.HUBSPOT),
        )
    return HubSpotClient(
        conn.base_url,
        auth=auth,
        transport=transport,
        policy=policy,
        verify=verify,
        governor=governor or hubspot_governor(share=config.budgets.hubspot.daily_share),
    )


def salesforce_client(
    config: HubforceConfig,
    *,
    store: Store | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    policy: RetryPolicy | None = None,
    verify: bool | str = True,
    governor: Governor | None = None,
) -> SalesforceClient:
    """A Salesforce client from `connections.salesforce`."""
    conn = config.connections.salesforce
    login = conn.login_url
    auth: httpx.Auth
    if conn.oauth is not None:
        secret = conn.oauth.client_secret
        auth = RefreshTokenGrant(
            login_url=login,
            client_id=conn.oauth.client_id,
            refresh_token=_refresh_token(conn.oauth.refresh_token, store, Side.SALESFORCE),
            client_secret=secret.get_secret_value() if secret else "",
        )
    elif conn.jwt is not None:
        key_file = Path(conn.jwt.private_key_file)
        try:
            key = key_file.read_text()
        except OSError as exc:
            raise ConfigError(
                "config",
                "connections.salesforce.jwt.private_key_file",
                f"cannot read {key_file}: {exc.strerror}",
                "point it at the PEM private key of the connected app's certificate",
            ) from exc
        auth = JwtBearerGrant(
            login_url=login,
            client_id=conn.jwt.client_id,
            username=conn.jwt.username,
            private_key=key,
        )
    else:
        assert conn.password is not None
        pw = conn.password
        auth = PasswordGrant(
            login_url=login,
            client_id=pw.client_id or "",
            client_secret=pw.client_secret.get_secret_value() if pw.client_secret else "",
            username=pw.username,
            password=pw.password.get_secret_value(),
            security_token=pw.security_token.get_secret_value() if pw.security_token else "",
        )
    return SalesforceClient(
        conn.instance_url,
        auth=auth,
        api_version=conn.api_version,
        transport=transport,
        policy=policy,
        verify=verify,
        governor=governor or salesforce_governor(share=config.budgets.salesforce.daily_share),
    )


def side_client(
    config: HubforceConfig,
    side: Side,
    *,
    store: Store | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    policy: RetryPolicy | None = None,
    verify: bool | str = True,
    governor: Governor | None = None,
) -> HubSpotClient | SalesforceClient:
    """The client of one side from `config` (`hubspot_client` or `salesforce_client`)."""
    build = hubspot_client if side is Side.HUBSPOT else salesforce_client
    return build(
        config, store=store, transport=transport, policy=policy, verify=verify, governor=governor
    )


@asynccontextmanager
async def sync_context(
    config: HubforceConfig,
    *,
    options: CycleOptions | None = None,
    store: Store | None = None,
    transports: Transports | None = None,
    policy: RetryPolicy | None = None,
    verify: bool | str = True,
    governors: dict[Side, Governor] | None = None,
    connect: bool = True,
) -> AsyncIterator[SyncContext]:
    """Open clients and store for `config`; close what it opened when the block ends, also
    when building a later part fails. `connect=False` leaves the Salesforce login to the
    first call (a long-running loop then meets refused credentials inside a cycle, where
    they are recorded and alerted, instead of before its first one)."""
    transports = transports or {}
    governors = governors or {}
    async with AsyncExitStack() as stack:
        if store is None:
            store = open_store(config.connections.store.url)
            stack.callback(store.close)
        hubspot = hubspot_client(
            config,
            store=store,
            transport=transports.get(Side.HUBSPOT),
            policy=policy,
            verify=verify,
            governor=governors.get(Side.HUBSPOT),
        )
        stack.push_async_callback(hubspot.aclose)
        salesforce = salesforce_client(
            config,
            store=store,
            transport=transports.get(Side.SALESFORCE),
            policy=policy,
            verify=verify,
            governor=governors.get(Side.SALESFORCE),
        )
        stack.push_async_callback(salesforce.aclose)
        if connect:
            await salesforce.connect()
        yield SyncContext(
            hubspot, salesforce, store, compile_mappings(config), options or CycleOptions()
        )
