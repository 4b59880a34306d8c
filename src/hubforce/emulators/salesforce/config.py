"""The emulator's YAML config: credentials, custom fields and objects, and the org's rules.

Without `--config` the embedded `DEFAULT_CONFIG` is used: it adds the `HubSpot_Id__c` external-id
field to Lead, Contact, Account and Opportunity, a "Phone required when Working" validation rule
on Lead, email duplicate rules on Lead and Contact, and a round-robin Lead assignment rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CONFIG = """
org_name: Hubforce Emulator Org
credentials:
  username: admin@hubforce-emulator.example
  password: emulator-password
  security_token: EMULATORSECURITYTOKEN
  consumer_key: hubforce-emulator-consumer-key
  consumer_secret: hubforce-emulator-consumer-secret
licenses: 10
objects:
  Lead:
    fields:
      - {name: HubSpot_Id__c, type: string, length: 64, external_id: true, unique: true}
  Contact:
    fields:
      - {name: HubSpot_Id__c, type: string, length: 64, external_id: true, unique: true}
  Account:
    fields:
      - {name: HubSpot_Id__c, type: string, length: 64, external_id: true, unique: true}
      - {name: Domain__c, type: string, length: 255}
  Opportunity:
    fields:
      - {name: HubSpot_Id__c, type: string, length: 64, external_id: true, unique: true}
validation_rules:
  - object: Lead
    name: Phone_Required_When_Working
    condition: "AND(ISPICKVAL(Status, 'Working - Contacted'), ISBLANK(Phone))"
    message: "Phone is required when the Lead is being worked."
    field: Phone
duplicate_rules:
  - {name: Standard_Lead_Duplicate_Rule, object: Lead, match_fields: [Email], action: allow}
  - {name: Standard_Contact_Duplicate_Rule, object: Contact, match_fields: [Email],
     action: allow}
assignment_rules:
  - name: Standard Lead Assignment
    active: true
    entries:
      - {users: all}
"""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Credentials(_Strict):
    """What clients log in with."""

    username: str = "admin@hubforce-emulator.example"
    password: str = "emulator-password"
    security_token: str = "EMULATORSECURITYTOKEN"
    consumer_key: str = "hubforce-emulator-consumer-key"
    consumer_secret: str = "hubforce-emulator-consumer-secret"
    jwt_public_key: str | None = Field(
        default=None, description="PEM public key; when set, JWT bearer assertions are verified"
    )


class FieldSpec(_Strict):
    """A custom field (`__c`)."""

    name: str
    type: str = "string"
    label: str = ""
    length: int = 0
    required: bool = False
    external_id: bool = False
    unique: bool = False
    values: list[str] = Field(default_factory=list)
    restricted: bool = False
    reference_to: str | None = None


class ObjectSpec(_Strict):
    """Extra fields of a standard object, or a whole custom object (`__c`)."""

    label: str = ""
    key_prefix: str | None = None
    fields: list[FieldSpec] = Field(default_factory=list)


class ValidationRuleSpec(_Strict):
    """The record is rejected when `condition` is true."""

    object: str
    name: str
    condition: str
    message: str
    field: str | None = None
    active: bool = True


class DuplicateRuleSpec(_Strict):
    """Records of `object` whose `match_fields` all equal (ignoring case) an existing record's."""

    name: str
    object: str
    match_fields: list[str]
    match_objects: list[str] | None = None  # defaults to [object]
    action: Literal["allow", "block"] = "allow"
    active: bool = True
    message: str = (
        "You're creating a duplicate record. We recommend you use an existing record instead."
    )


class AssignmentEntrySpec(_Strict):
    """First entry whose criteria all match picks the owner, round robin over `users`."""

    criteria: dict[str, list[str]] = Field(default_factory=dict)
    users: list[str] | Literal["all"] = "all"  # usernames or emails of active users


class AssignmentRuleSpec(_Strict):
    """A Lead assignment rule; the active one runs when Sforce-Auto-Assign is TRUE."""

    name: str
    active: bool = False
    entries: list[AssignmentEntrySpec] = Field(default_factory=list)


class OrgConfig(_Strict):
    """The whole emulator config file."""

    org_name: str = "Hubforce Emulator Org"
    credentials: Credentials = Field(default_factory=Credentials)
    licenses: int = 10
    objects: dict[str, ObjectSpec] = Field(default_factory=dict)
    validation_rules: list[ValidationRuleSpec] = Field(default_factory=list)
    duplicate_rules: list[DuplicateRuleSpec] = Field(default_factory=list)
    assignment_rules: list[AssignmentRuleSpec] = Field(default_factory=list)


def parse_config(data: dict[str, Any]) -> OrgConfig:
    """Validate a parsed YAML/JSON mapping."""
    return OrgConfig.model_validate(data)


def default_config() -> OrgConfig:
    """The embedded default config."""
    return parse_config(yaml.safe_load(DEFAULT_CONFIG))


def load_config(path: Path) -> OrgConfig:
    """Read and validate a YAML config file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the config must be a mapping")
    return parse_config(data)
