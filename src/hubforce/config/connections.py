"""Connection settings: HubSpot, Salesforce and the state store."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationInfo, field_validator, model_validator

from hubforce.config.base import ENV_REF, ConfigModel, InlineSecretError, SecretRef, resolve_env_ref


class HubSpotOAuth(ConfigModel):
    """HubSpot OAuth 2.0 app credentials and the refresh token of the installed portal.

    Leave `refresh_token` out to use the one `hubforce connect hubspot` stored, encrypted, in
    the state store.
    """

    client_id: str
    client_secret: SecretRef
    refresh_token: SecretRef | None = None


class HubSpotConnection(ConfigModel):
    """How to reach HubSpot: a private-app token or an OAuth app (exactly one)."""

    base_url: str = "https://api.hubapi.com"
    token: SecretRef | None = None
    oauth: HubSpotOAuth | None = None

    @model_validator(mode="after")
    def _one_auth(self) -> HubSpotConnection:
        if (self.token is None) == (self.oauth is None):
            raise ValueError("give exactly one of `token` (private app) or `oauth`")
        return self


class SalesforceOAuth(ConfigModel):
    """A connected app and the refresh token from its authorization-code grant.

    Leave `refresh_token` out to use the one `hubforce connect salesforce` stored, encrypted, in
    the state store.
    """

    client_id: str
    client_secret: SecretRef | None = None
    refresh_token: SecretRef | None = None


class SalesforceJwt(ConfigModel):
    """JWT bearer flow: a connected app with a certificate, and the user to act as."""

    client_id: str
    username: str
    private_key_file: str


class SalesforcePassword(ConfigModel):
    """Username-password flow (SOAP login or OAuth password grant)."""

    username: str
    password: SecretRef
    security_token: SecretRef | None = None
    client_id: str | None = None
    client_secret: SecretRef | None = None


class SalesforceConnection(ConfigModel):
    """How to reach Salesforce: login/instance URL, API version and exactly one auth method."""

    login_url: str = "https://login.salesforce.com"
    instance_url: str | None = None
    api_version: str = "62.0"
    oauth: SalesforceOAuth | None = None
    jwt: SalesforceJwt | None = None
    password: SalesforcePassword | None = None

    @field_validator("api_version")
    @classmethod
    def _version_shape(cls, value: str) -> str:
        if not re.fullmatch(r"\d{2}\.0", value):
            raise ValueError("api_version looks like '62.0'")
        return value

    @model_validator(mode="after")
    def _one_auth(self) -> SalesforceConnection:
        given = [m for m in (self.oauth, self.jwt, self.password) if m is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `oauth`, `jwt` or `password`")
        return self


def _check_store_url(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, str) and ENV_REF.match(value.strip()):
        return resolve_env_ref(value, info).get_secret_value()
    if isinstance(value, str) and re.match(r"^[a-z0-9+]+://[^/@]*:[^/@]+@", value):
        raise InlineSecretError(
            "the store URL carries a password inline; write the whole URL as ${HUBFORCE_STORE_URL}"
        )
    return value


class StoreConnection(ConfigModel):
    """Where the link store lives: a SQLite file (default) or a PostgreSQL URL."""

    url: Annotated[str, BeforeValidator(_check_store_url)] = "sqlite:///hubforce.db"

    def __repr_args__(self) -> Any:  # never show a resolved URL with credentials
        return [("url", re.sub(r"://[^@/]*@", "://[redacted]@", self.url))]


class Connections(ConfigModel):
    """Both APIs and the state store."""

    hubspot: HubSpotConnection
    salesforce: SalesforceConnection
    store: StoreConnection = StoreConnection()
