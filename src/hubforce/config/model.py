"""The configuration file, as pydantic models: connections, object pairs, mappings, policies.

One YAML file (see `hubforce.config.defaults` for the commented default) is validated by
`HubforceConfig`. Unknown keys are errors everywhere (`extra="forbid"`). Secrets are never
written inline: a secret field holds a `${ENV_VAR}` reference that is resolved at load time
from the environment (or the `env` mapping in the validation context), see `SecretRef`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hubforce.sync.model import DeletePolicy, Rule

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
PAIR_NAMES = ("contacts", "companies", "deals", "owners")


class InlineSecretError(ValueError):
    """A secret value was written in the file instead of referenced from the environment."""


class MissingEnvError(ValueError):
    """A `${VAR}` reference names a variable that is not set."""

    def __init__(self, variable: str) -> None:
        self.variable = variable
        super().__init__(f"environment variable {variable} is not set")


def _environment(info: ValidationInfo) -> Mapping[str, str]:
    context = info.context
    if isinstance(context, Mapping) and isinstance(context.get("env"), Mapping):
        env: Mapping[str, str] = context["env"]
        return env
    return os.environ


def resolve_env_ref(value: Any, info: ValidationInfo) -> Any:
    """Turn a `${VAR}` reference into the variable's value; refuse anything else."""
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise InlineSecretError("a secret must be a ${ENV_VAR} reference string")
    match = ENV_REF.match(value.strip())
    if match is None:
        raise InlineSecretError(
            "a secret is written inline; secrets may only be ${ENV_VAR} references"
        )
    variable = match.group(1)
    env = _environment(info)
    if variable not in env or env[variable] == "":
        raise MissingEnvError(variable)
    return SecretStr(env[variable])


SecretRef = Annotated[
    SecretStr,
    BeforeValidator(resolve_env_ref),
    Field(description="A ${ENV_VAR} reference; the secret itself lives in the environment."),
]
"""A secret field: `${VAR}` in the file, the variable's value (redacted in reprs) after load."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


# --- connections -------------------------------------------------------------------------


class HubSpotOAuth(_Model):
    """HubSpot OAuth 2.0 app credentials and the refresh token of the installed portal."""

    client_id: str
    client_secret: SecretRef
    refresh_token: SecretRef


class HubSpotConnection(_Model):
    """How to reach HubSpot: a private-app token or an OAuth app (exactly one)."""

    base_url: str = "https://api.hubapi.com"
    token: SecretRef | None = None
    oauth: HubSpotOAuth | None = None

    @model_validator(mode="after")
    def _one_auth(self) -> HubSpotConnection:
        if (self.token is None) == (self.oauth is None):
            raise ValueError("give exactly one of `token` (private app) or `oauth`")
        return self


class SalesforceOAuth(_Model):
    """A connected app and the refresh token from its authorization-code grant."""

    client_id: str
    client_secret: SecretRef | None = None
    refresh_token: SecretRef


class SalesforceJwt(_Model):
    """JWT bearer flow: a connected app with a certificate, and the user to act as."""

    client_id: str
    username: str
    private_key_file: str


class SalesforcePassword(_Model):
    """Username-password flow (SOAP login or OAuth password grant)."""

    username: str
    password: SecretRef
    security_token: SecretRef | None = None
    client_id: str | None = None
    client_secret: SecretRef | None = None


class SalesforceConnection(_Model):
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


class StoreConnection(_Model):
    """Where the link store lives: a SQLite file (default) or a PostgreSQL URL."""

    url: Annotated[str, BeforeValidator(_check_store_url)] = "sqlite:///hubforce.db"

    def __repr_args__(self) -> Any:  # never show a resolved URL with credentials
        return [("url", re.sub(r"://[^@/]*@", "://[redacted]@", self.url))]


class Connections(_Model):
    """Both APIs and the state store."""

    hubspot: HubSpotConnection
    salesforce: SalesforceConnection
    store: StoreConnection = StoreConnection()


# --- object pairs and field mappings -----------------------------------------------------


class ValueKind(StrEnum):
    """The canonical kind of a mapped field (decides comparison and conversion)."""

    STRING = "string"
    EMAIL = "email"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    ENUMERATION = "enumeration"
    MULTI_ENUMERATION = "multi_enumeration"
    OWNER = "owner"
    REFERENCE = "reference"


class Transform(StrEnum):
    """Conversions for field pairs whose two sides do not hold the same type."""

    DATE_TO_DATETIME = "date_to_datetime"  # HubSpot date <-> Salesforce datetime (midnight UTC)
    DATETIME_TO_DATE = "datetime_to_date"  # HubSpot datetime <-> Salesforce date (UTC day)
    FRACTION_TO_PERCENT = "fraction_to_percent"  # HubSpot 0.25 <-> Salesforce percent 25


class FieldMapping(_Model):
    """One HubSpot property kept in sync with one Salesforce field, under one rule."""

    hubspot: str
    salesforce: str | dict[str, str] = Field(
        description="Salesforce field, or per object type ({Lead: City, Contact: MailingCity})."
    )
    rule: Rule = Rule.TWO_WAY
    type: ValueKind = ValueKind.STRING
    objects: list[str] | None = Field(
        default=None, description="Only these Salesforce types (e.g. [Lead]); default all."
    )
    picklist: dict[str, str] = Field(
        default_factory=dict, description="HubSpot option value -> Salesforce picklist value."
    )
    picklist_to_hubspot: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Salesforce value -> HubSpot value entries (many-to-one maps).",
    )
    transform: Transform | None = None
    max_length: int | None = Field(default=None, gt=0, description="Salesforce field length.")


class AssociationMapping(_Model):
    """A HubSpot association kept in sync with a Salesforce lookup field."""

    hubspot: str = Field(description="Associated HubSpot object type, e.g. companies.")
    salesforce: str = Field(description="Salesforce lookup field, e.g. AccountId.")
    pair: str = Field(description="The object pair that links the associated records.")
    rule: Rule = Rule.TWO_WAY
    objects: list[str] | None = None


ConditionOperator = Literal["eq", "neq", "in", "not_in", "is_known", "is_unknown", "contains"]


class Condition(_Model):
    """One property condition on a HubSpot record's raw value."""

    property: str
    operator: ConditionOperator = "eq"
    value: str | None = None
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _operands(self) -> Condition:
        if self.operator in ("eq", "neq", "contains") and self.value is None:
            raise ValueError(f"operator {self.operator!r} needs `value`")
        if self.operator in ("in", "not_in") and not self.values:
            raise ValueError(f"operator {self.operator!r} needs `values`")
        return self


class InclusionFilter(_Model):
    """Which HubSpot records may be pushed to Salesforce: all of `all` and one of `any`."""

    all: list[Condition] = Field(default_factory=list)
    any: list[Condition] = Field(default_factory=list)


DefaultValue = str | int | float | bool


class ObjectPairConfig(_Model):
    """One HubSpot object type kept in sync with one or more Salesforce types."""

    enabled: bool = True
    hubspot: str
    salesforce: list[str] = Field(min_length=1)
    create_as: str | None = Field(
        default=None, description="Salesforce type for new HubSpot records; none = no creates."
    )
    create_in_hubspot: bool = True
    match_on: list[str] = Field(default_factory=list)
    external_id: str | None = Field(
        default=None, description="Salesforce external-id field holding the HubSpot id."
    )
    fields: list[FieldMapping] = Field(default_factory=list)
    associations: list[AssociationMapping] = Field(default_factory=list)
    defaults: dict[str, dict[str, DefaultValue]] = Field(
        default_factory=dict,
        description="Per object type, values for required fields when the record has none.",
    )
    assign: bool = Field(default=False, description="Run Salesforce assignment rules on create.")
    inclusion: InclusionFilter | None = None
    delete_policy: DeletePolicy = DeletePolicy.UNLINK

    @model_validator(mode="after")
    def _consistent(self) -> ObjectPairConfig:
        if self.create_as is not None and self.create_as not in self.salesforce:
            raise ValueError(f"create_as {self.create_as!r} is not one of {self.salesforce}")
        seen: set[str] = set()
        for mapping in self.fields:
            if mapping.hubspot in seen:
                raise ValueError(f"HubSpot property {mapping.hubspot!r} is mapped twice")
            seen.add(mapping.hubspot)
            names = mapping.salesforce if isinstance(mapping.salesforce, dict) else {}
            for name in [*(mapping.objects or ()), *names]:
                if name not in self.salesforce:
                    raise ValueError(
                        f"field {mapping.hubspot!r}: object {name!r} is not in {self.salesforce}"
                    )
        return self


# --- operations ----------------------------------------------------------------------------


class Schedule(_Model):
    """When cycles run."""

    reconcile_seconds: int = Field(default=900, ge=30)
    salesforce_poll_seconds: int = Field(default=30, ge=5)
    webhooks: bool = True


class Budget(_Model):
    """The share of one side's daily API limit hubforce may spend."""

    daily_share: float = Field(default=0.5, gt=0, le=1)


class Budgets(_Model):
    """API budgets per side."""

    hubspot: Budget = Budget()
    salesforce: Budget = Budget()


class Alerts(_Model):
    """Where alerts go (a Slack incoming webhook, by environment reference)."""

    slack_webhook_url: SecretRef | None = None
    on_recovery: bool = True


class HubforceConfig(_Model):
    """The whole configuration file."""

    version: Literal[1] = 1
    connections: Connections
    objects: dict[str, ObjectPairConfig] = Field(default_factory=dict)
    schedule: Schedule = Schedule()
    budgets: Budgets = Budgets()
    alerts: Alerts = Alerts()
    workflows: list[dict[str, Any]] = Field(
        default_factory=list, description="Workflow rules (trigger, condition, action)."
    )

    @field_validator("objects")
    @classmethod
    def _known_pairs(cls, value: dict[str, ObjectPairConfig]) -> dict[str, ObjectPairConfig]:
        for name in value:
            if name not in PAIR_NAMES:
                raise ValueError(f"unknown object pair {name!r}; known: {', '.join(PAIR_NAMES)}")
        return value
