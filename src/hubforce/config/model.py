"""The configuration file, as pydantic models: connections, object pairs, mappings, policies.

One YAML file (see `hubforce.config.defaults` for the commented default) is validated by
`HubforceConfig`. Unknown keys are errors everywhere (`extra="forbid"`). Secrets are never
written inline (`hubforce.config.base.SecretRef`); connections live in
`hubforce.config.connections`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from hubforce.config.base import (
    ENV_REF,
    ConfigModel,
    InlineSecretError,
    MissingEnvError,
    SecretRef,
    resolve_env_ref,
)
from hubforce.config.connections import (
    Connections,
    HubSpotConnection,
    HubSpotOAuth,
    SalesforceConnection,
    SalesforceJwt,
    SalesforceOAuth,
    SalesforcePassword,
    StoreConnection,
)
from hubforce.sync.model import DeletePolicy, Rule

__all__ = [  # the connection and secret types are re-exported: one import place for users
    "ENV_REF",
    "ORG_ID",
    "PAIR_NAMES",
    "Alerts",
    "AssociationMapping",
    "Budget",
    "Budgets",
    "Condition",
    "ConfigModel",
    "Connections",
    "DefaultValue",
    "FieldMapping",
    "HubSpotConnection",
    "HubSpotOAuth",
    "HubforceConfig",
    "InclusionFilter",
    "InlineSecretError",
    "MissingEnvError",
    "ObjectPairConfig",
    "SalesforceConnection",
    "SalesforceJwt",
    "SalesforceOAuth",
    "SalesforcePassword",
    "Schedule",
    "SecretRef",
    "Server",
    "StoreConnection",
    "Transform",
    "ValueKind",
    "resolve_env_ref",
]

PAIR_NAMES = ("contacts", "companies", "deals", "owners")


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


class FieldMapping(ConfigModel):
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


class AssociationMapping(ConfigModel):
    """A HubSpot association kept in sync with a Salesforce lookup field."""

    hubspot: str = Field(description="Associated HubSpot object type, e.g. companies.")
    salesforce: str = Field(description="Salesforce lookup field, e.g. AccountId.")
    pair: str = Field(description="The object pair that links the associated records.")
    rule: Rule = Rule.TWO_WAY
    objects: list[str] | None = None


ConditionOperator = Literal["eq", "neq", "in", "not_in", "is_known", "is_unknown", "contains"]


class Condition(ConfigModel):
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


class InclusionFilter(ConfigModel):
    """Which HubSpot records may be pushed to Salesforce: all of `all` and one of `any`."""

    all: list[Condition] = Field(default_factory=list)
    any: list[Condition] = Field(default_factory=list)


DefaultValue = str | int | float | bool


class ObjectPairConfig(ConfigModel):
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


class Schedule(ConfigModel):
    """When cycles run."""

    reconcile_seconds: int = Field(default=900, ge=30)
    salesforce_poll_seconds: int = Field(default=30, ge=5)
    webhooks: bool = True
    # How long a workflow run's claim outlives its last checkpoint (one per action) before
    # another pass takes it for dead; above the longest single action (connector retries).
    workflow_lease_seconds: int = Field(default=900, ge=60)


class Budget(ConfigModel):
    """The share of one side's daily API limit hubforce may spend."""

    daily_share: float = Field(default=0.5, gt=0, le=1)


class Budgets(ConfigModel):
    """API budgets per side."""

    hubspot: Budget = Budget()
    salesforce: Budget = Budget()


class Alerts(ConfigModel):
    """Where alerts go (a Slack incoming webhook, by environment reference)."""

    slack_webhook_url: SecretRef | None = None
    on_recovery: bool = True


_PUBLIC_URL = re.compile(r"^https?://[^/\s]+(/\S*)?$")
#: A Salesforce org id: 00D + 12 characters, or its 18-character form.
ORG_ID = re.compile(r"^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")


class Server(ConfigModel):
    """`hubforce run`: where it listens and the secrets it checks requests against.

    Precedence (highest first): the command's flags (`--host`, `--port`, `--public-url`),
    then the environment variables HUBFORCE_WEBHOOK_SECRET, HUBFORCE_HOOK_TOKEN and
    HUBFORCE_SALESFORCE_ORG_ID (kept as overrides for existing deployments), then this
    section, then the defaults (the webhook secret defaults to the HubSpot OAuth app's).
    """

    host: str = Field(default="127.0.0.1", min_length=1, description="Address to listen on.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port to listen on.")
    public_url: str | None = Field(
        default=None,
        description="The base URL HubSpot posts to (v3 signatures cover the exact URL).",
    )
    webhook_secret: SecretRef | None = Field(
        default=None,
        description="${ENV_VAR} holding the HubSpot app's client secret (webhook signatures).",
    )
    hook_token: SecretRef | None = Field(
        default=None, description="${ENV_VAR} holding the bearer token of POST /hooks/sync."
    )
    salesforce_org_id: str | None = Field(
        default=None,
        description="Only outbound messages from this org (15 or 18 characters) are accepted.",
    )

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not _PUBLIC_URL.match(value):
            raise ValueError(
                "public_url must be an http(s) base URL such as https://hubforce.example.com"
            )
        return value.rstrip("/") if value else value

    @field_validator("salesforce_org_id")
    @classmethod
    def _org_id(cls, value: str | None) -> str | None:
        if value is not None and not ORG_ID.match(value):
            raise ValueError(
                "salesforce_org_id must be an org id: 15 or 18 letters and digits starting "
                "with 00D (Setup > Company Information)"
            )
        return value


class HubforceConfig(ConfigModel):
    """The whole configuration file."""

    version: Literal[1] = 1
    connections: Connections
    objects: dict[str, ObjectPairConfig] = Field(default_factory=dict)
    schedule: Schedule = Schedule()
    budgets: Budgets = Budgets()
    alerts: Alerts = Alerts()
    server: Server = Server()
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
