"""Form definitions (from the emulator config) and recorded submissions.

Forms are declared under `forms:` in the HubSpot emulator's YAML config, each with a GUID, a
name, its fields (contact properties, objectTypeId 0-1) and its post-submit action. With no
`forms:` section the portal has two forms with fixed GUIDs, so demos and tests can post to them:

- "Contact us"   `CONTACT_US_GUID`    = 0d6a3b52-1c4e-4f7a-9b2d-3e5f6a7b8c90
  email (required), firstname, lastname, company, phone, message; inline thank-you message.
- "Demo request" `DEMO_REQUEST_GUID`  = 5b7e9c1d-2f4a-4c6e-8a0b-1d3f5e7a9c2b
  email, firstname, lastname, company (required), jobtitle, phone, country; redirects.
Both set `lifecyclestage=lead` on contacts that have no lifecycle stage yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

CONTACT_US_GUID = "0d6a3b52-1c4e-4f7a-9b2d-3e5f6a7b8c90"
DEMO_REQUEST_GUID = "5b7e9c1d-2f4a-4c6e-8a0b-1d3f5e7a9c2b"
CONTACT_OBJECT_TYPE_ID = "0-1"
DEFAULT_INLINE_MESSAGE = "Thanks for submitting the form."


class FormField(BaseModel):
    """One field of a form: a contact property, possibly required."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    object_type_id: str = Field(default=CONTACT_OBJECT_TYPE_ID, alias="objectTypeId")
    required: bool = False
    label: str = ""


class FormDefinition(BaseModel):
    """A form as the emulator knows it; the config may omit everything but guid and fields."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    guid: str = Field(min_length=1)
    name: str = "Untitled form"
    fields: list[FormField]
    inline_message: str = Field(default=DEFAULT_INLINE_MESSAGE, alias="inlineMessage")
    redirect_uri: str | None = Field(default=None, alias="redirectUri")
    lifecycle_stage: str | None = Field(default=None, alias="lifecycleStage")
    consent_required: bool = Field(default=False, alias="consentRequired")

    @model_validator(mode="after")
    def _contact_fields_once(self) -> FormDefinition:
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"form {self.guid}: a field name appears twice")
        others = [f.name for f in self.fields if f.object_type_id != CONTACT_OBJECT_TYPE_ID]
        if others:
            raise ValueError(
                f"form {self.guid}: only contact fields (objectTypeId 0-1) are emulated: {others}"
            )
        return self

    def field_named(self, name: str) -> FormField | None:
        """The form's field called `name`, if any."""
        return next((f for f in self.fields if f.name == name), None)

    def post_submit(self) -> dict[str, str]:
        """HubSpot's 200 body: the redirect if configured, else the inline message."""
        if self.redirect_uri:
            return {"redirectUri": self.redirect_uri}
        return {"inlineMessage": self.inline_message}


def _fields(required: set[str], *names: str) -> list[FormField]:
    return [FormField(name=n, required=n in required) for n in names]


def default_forms() -> list[FormDefinition]:
    """The two forms every emulated portal has when the config declares none."""
    return [
        FormDefinition(
            guid=CONTACT_US_GUID,
            name="Contact us",
            fields=_fields(
                {"email"}, "email", "firstname", "lastname", "company", "phone", "message"
            ),
            lifecycle_stage="lead",
        ),
        FormDefinition(
            guid=DEMO_REQUEST_GUID,
            name="Demo request",
            fields=_fields(
                {"email", "firstname", "lastname", "company"},
                "email",
                "firstname",
                "lastname",
                "company",
                "jobtitle",
                "phone",
                "country",
            ),
            redirect_uri="https://www.example.com/thanks-for-your-demo-request",
            lifecycle_stage="lead",
        ),
    ]


def load_forms(raw: list[dict[str, Any]]) -> dict[str, FormDefinition]:
    """Forms by GUID from the config's `forms:` list (the defaults when it is empty)."""
    forms = [FormDefinition.model_validate(item) for item in raw] if raw else default_forms()
    by_guid = {form.guid: form for form in forms}
    if len(by_guid) != len(forms):
        raise ValueError("two forms in the emulator config share a guid")
    return by_guid


@dataclass
class FormSubmission:
    """One accepted submission, as recorded by the emulator."""

    conversion_id: str
    form_guid: str
    submitted_at: int  # epoch ms
    values: list[dict[str, str]]
    page_url: str | None
    page_name: str | None
    contact_id: str | None  # None when the submission had no email
    created: bool
    context: dict[str, Any] = field(default_factory=dict)

    def to_public(self) -> dict[str, Any]:
        """The shape of `GET /form-integrations/v1/submissions/forms/{guid}` results."""
        item: dict[str, Any] = {
            "conversionId": self.conversion_id,
            "submittedAt": self.submitted_at,
            "values": self.values,
        }
        if self.page_url:
            item["pageUrl"] = self.page_url
        return item

    def to_control(self) -> dict[str, Any]:
        """Everything, for `GET /__emulator__/forms/{guid}/submissions`."""
        return {
            **self.to_public(),
            "formGuid": self.form_guid,
            "pageName": self.page_name,
            "contactId": self.contact_id,
            "createdContact": self.created,
            "context": self.context,
        }
