"""Workflow declarations (the `workflows:` list of the config): trigger -> condition -> actions.

```yaml
workflows:
  - name: form-to-lead
    trigger: {type: hubspot.form_submitted, form: 5f0c...}   # form_name: optional pre-filter
    condition: 'email is not empty and lifecyclestage != "customer"'
    actions:
      - type: salesforce.create
        sobject: Lead
        values: {FirstName: "{firstname}", LastName: "{lastname}", Email: "{email}",
                 Company: "{company}", LeadSource: "Web"}
        assignment: true          # Sforce-Auto-Assign TRUE, or an assignment rule id
```

Conditions and templates are checked when the config loads, so a typo fails at start-up
with the workflow's name rather than at the first event.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hubforce.sync.model import Side
from hubforce.workflows.conditions import ConditionError, parse_condition
from hubforce.workflows.templates import TemplateError, template_fields

HUBSPOT_OBJECTS = Literal["contacts", "companies", "deals"]
SALESFORCE_WRITABLE = Literal["Lead", "Contact", "Opportunity"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _check_condition(value: str | None) -> str | None:
    if value is not None and value.strip():
        try:
            parse_condition(value)
        except ConditionError as exc:
            raise ValueError(str(exc)) from None
    return value


def _check_templates(values: dict[str, Any]) -> dict[str, Any]:
    for key, value in values.items():
        if isinstance(value, str):
            try:
                template_fields(value)
            except TemplateError as exc:
                raise ValueError(f"{key}: {exc}") from None
    return values


class FormSubmitted(_Strict):
    """A submission of the HubSpot form `form` (GUID), confirmed through the submissions API.

    Webhooks carry no form id: the contact's `recent_conversion_date` change fires the trigger
    and the submission is then found by form GUID, e-mail and time. `form_name`, when given,
    is a cheap pre-filter on the contact's `recent_conversion_event_name` (no API call for a
    submission of a differently named form).
    """

    type: Literal["hubspot.form_submitted"]
    form: str = Field(min_length=1, max_length=200, description="form GUID")
    form_name: str | None = Field(default=None, min_length=1)


class RecordCreated(_Strict):
    """A HubSpot record created."""

    type: Literal["hubspot.record_created"]
    object_type: HUBSPOT_OBJECTS = "contacts"


class PropertyChanged(_Strict):
    """A HubSpot property changed, optionally to and/or from given values."""

    type: Literal["hubspot.property_changed"]
    object_type: HUBSPOT_OBJECTS = "contacts"
    property: str = Field(min_length=1)
    to: str | None = None
    from_: str | None = Field(default=None, alias="from")


class SalesforceChanged(_Strict):
    """A Salesforce record created or updated, with an optional condition on its fields."""

    type: Literal["salesforce.record_changed"]
    sobject: str = Field(min_length=1)
    on: Literal["created", "updated", "any"] = "any"
    where: str | None = None

    _where = field_validator("where")(_check_condition)

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        # YAML 1.1 (PyYAML) reads an unquoted `on:` key as the boolean True.
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data


class Schedule(_Strict):
    """Every `every_seconds`, with no record (actions see an empty record)."""

    type: Literal["schedule"]
    every_seconds: int = Field(ge=60)


Trigger = Annotated[
    FormSubmitted | RecordCreated | PropertyChanged | SalesforceChanged | Schedule,
    Field(discriminator="type"),
]


class SalesforceCreate(_Strict):
    """Create a Salesforce record; `assignment` sets Sforce-Auto-Assign (TRUE or a rule id)."""

    type: Literal["salesforce.create"]
    sobject: SALESFORCE_WRITABLE
    values: dict[str, Any]
    assignment: bool | str = True
    # A record of `sobject` whose field already has the rendered value is updated (with the
    # same assignment) instead: the sync, a retry or a person may have created it already.
    match_on: str | None = "Email"

    _values = field_validator("values")(_check_templates)


class SalesforceUpdate(_Strict):
    """Update the Salesforce record whose id the `record_id` template renders."""

    type: Literal["salesforce.update"]
    sobject: SALESFORCE_WRITABLE
    record_id: str = "{Id}"
    values: dict[str, Any]
    assignment: bool | str = False

    _values = field_validator("values")(_check_templates)


class HubSpotUpdate(_Strict):
    """Update a HubSpot record (e.g. lifecyclestage = customer); with `associated`, update
    instead the records of those types associated with it (a won deal's company and contacts).
    """

    type: Literal["hubspot.update"]
    object_type: HUBSPOT_OBJECTS = "contacts"
    record_id: str = "{hs_object_id}"
    values: dict[str, Any]
    associated: list[HUBSPOT_OBJECTS] = Field(
        default_factory=list,
        description="Update the records of these types associated with the record, not it.",
    )

    _values = field_validator("values")(_check_templates)

    @model_validator(mode="after")
    def _other_types(self) -> HubSpotUpdate:
        if self.object_type in self.associated or len(set(self.associated)) < len(self.associated):
            raise ValueError(
                f"associated: list other object types than {self.object_type!r}, each once"
            )
        return self


class SlackPost(_Strict):
    """Post a templated message to a Slack channel (token from the config's Slack secret)."""

    type: Literal["slack"]
    channel: str
    text: str

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        template_fields(value)
        return value


class OutboundWebhook(_Strict):
    """POST the templated `body` as JSON to a catch hook (Zapier, Make, ...)."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    body: dict[str, Any] = Field(default_factory=dict)

    _body = field_validator("body")(_check_templates)


Action = Annotated[
    SalesforceCreate | SalesforceUpdate | HubSpotUpdate | SlackPost | OutboundWebhook,
    Field(discriminator="type"),
]


def action_side(action: Action) -> Side | None:
    """The side an action calls (None: Slack or an outbound webhook)."""
    if isinstance(action, (SalesforceCreate, SalesforceUpdate)):
        return Side.SALESFORCE
    if isinstance(action, HubSpotUpdate):
        return Side.HUBSPOT
    return None


class Workflow(_Strict):
    """One workflow: when `trigger` fires and `condition` holds, run `actions` in order."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    enabled: bool = True
    trigger: Trigger
    condition: str | None = None
    actions: list[Action] = Field(min_length=1)

    _condition = field_validator("condition")(_check_condition)

    @property
    def actions_digest(self) -> str:
        """A fingerprint of the action list: a run resumed by position checks it is the same."""
        body = json.dumps([a.model_dump(mode="json") for a in self.actions], sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    @model_validator(mode="after")
    def _schedule_has_no_record_actions(self) -> Workflow:
        if isinstance(self.trigger, Schedule) and self.condition:
            raise ValueError("a schedule trigger has no record to test a condition on")
        return self


class WorkflowsConfig(_Strict):
    """The `workflows:` section."""

    workflows: list[Workflow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> WorkflowsConfig:
        names = [w.name for w in self.workflows]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"workflow names must be unique: {', '.join(duplicates)}")
        return self
