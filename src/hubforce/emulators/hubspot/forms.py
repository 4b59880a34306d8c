"""HubSpot forms: `POST /submissions/v3/integration/submit/{portalId}/{formGuid}` and friends.

A valid submission creates or updates the contact keyed on email with change source FORM (the
portal then emits `contact.creation` / `contact.propertyChange` events, which become webhooks),
sets the conversion properties (`recent_conversion_*`, `first_conversion_*`, and with source
CALCULATED the read-only `num_conversion_events`, `num_unique_conversion_events`), and is
recorded. Routes:

- `POST /submissions/v3/integration/submit/{portalId}/{formGuid}`: unauthenticated, 50 per
  rolling 10 s (429 beyond, unless the portal's limits are disabled).
- `POST /submissions/v3/integration/secure/submit/{portalId}/{formGuid}`: needs a token.
- `GET /form-integrations/v1/submissions/forms/{formGuid}?limit=&after=`: read submissions.
- `GET /__emulator__/forms`, `PUT /__emulator__/forms/{guid}`,
  `GET /__emulator__/forms/{guid}/submissions`: control.

Answers: 200 with the form's inline message or redirect; 400 `{"status":"error","message":"The
request is not valid","correlationId":...,"errors":[{"message","errorType"}]}`; 404 for a portal
or form the emulator does not know. The 400/404 texts follow HubSpot's docs example; their exact
wording for each error type is unconfirmed (reference section 8).
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from fastapi import APIRouter, Body, FastAPI, HTTPException, Query, Request
from pydantic import ValidationError
from starlette.responses import JSONResponse

from hubforce.emulators.common.limits import RollingWindow
from hubforce.emulators.common.stats import CONTROL_PREFIX
from hubforce.emulators.hubspot.exceptions import AuthenticationError, ObjectNotFound
from hubforce.emulators.hubspot.form_models import (
    FormDefinition,
    FormSubmission,
    load_forms,
)
from hubforce.emulators.hubspot.form_validation import CheckedSubmission, check_submission
from hubforce.emulators.hubspot.models import Portal

SUBMIT_PATH = "/submissions/v3/integration/submit/{portal_id}/{form_guid}"
SECURE_SUBMIT_PATH = "/submissions/v3/integration/secure/submit/{portal_id}/{form_guid}"
READ_PATH = "/form-integrations/v1/submissions/forms/{form_guid}"
UNAUTHENTICATED_LIMIT = 50  # submissions per rolling ten seconds, per portal (reference 8)


class FormsState:
    """Form definitions and recorded submissions of one portal."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.forms: dict[str, FormDefinition] = load_forms(portal.settings.forms)
        self.submissions: dict[str, list[FormSubmission]] = {}
        self.window = RollingWindow(portal.clock, UNAUTHENTICATED_LIMIT, 10.0)
        self._stores = portal.stores

    def current(self) -> FormsState:
        """After a portal reset or state import: configured forms only, no submissions."""
        if self.portal.stores is not self._stores:  # reset() and import replace the stores
            self.forms = load_forms(self.portal.settings.forms)
            self.submissions.clear()
            self.window.reset()
            self._stores = self.portal.stores
        return self

    def forms_submitted_by(self, contact_id: str) -> set[str]:
        """GUIDs of the forms this contact has submitted."""
        return {
            guid
            for guid, items in self.submissions.items()
            if any(s.contact_id == contact_id for s in items)
        }


def get_forms_state(app: FastAPI) -> FormsState:
    """The app's forms state, created from the portal's settings on first use."""
    state: FormsState | None = getattr(app.state, "forms", None)
    if state is None:
        state = FormsState(app.state.backend)
        app.state.forms = state
    return state.current()


def _form_error(status: int, message: str, errors: list[dict[str, str]] | None) -> JSONResponse:
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


def record_submission(
    state: FormsState, form: FormDefinition, checked: CheckedSubmission
) -> FormSubmission:
    """Apply a valid submission to the portal's contact and record it."""
    portal = state.portal
    submitted_at = checked.submitted_at or portal.clock.now_ms()
    page_name = checked.context.get("pageName")
    contact_id: str | None = None
    created = False
    email = checked.values.get("email")
    if email:
        contact_id, created = _upsert_contact(state, form, checked.values, submitted_at, page_name)
    submission = FormSubmission(
        conversion_id=str(uuid.uuid4()),
        form_guid=form.guid,
        submitted_at=submitted_at,
        values=checked.submitted_values,
        page_url=checked.context.get("pageUri"),
        page_name=page_name,
        contact_id=contact_id,
        created=created,
        context=checked.context,
    )
    state.submissions.setdefault(form.guid, []).append(submission)
    if contact_id is not None:
        counters = {
            "num_conversion_events": str(_count_before(portal, contact_id) + 1),
            "num_unique_conversion_events": str(len(state.forms_submitted_by(contact_id))),
        }
        portal.update_object(
            "contacts", contact_id, counters, change_source="CALCULATED", allow_read_only=True
        )
    return submission


def _count_before(portal: Portal, contact_id: str) -> int:
    value = portal.get_object("contacts", contact_id).properties.get("num_conversion_events", "0")
    return int(float(value or "0"))


def _upsert_contact(
    state: FormsState,
    form: FormDefinition,
    values: dict[str, str],
    submitted_at: int,
    page_name: object,
) -> tuple[str, bool]:
    portal = state.portal
    holder = portal.stores["contacts"].find_unique("email", values["email"])
    before = holder.properties if holder is not None and not holder.archived else {}
    # Unconfirmed how HubSpot names the conversion; "<page>: <form>" reads like its UI.
    event_name = (
        f"{page_name}: {form.name}" if isinstance(page_name, str) and page_name else form.name
    )
    properties = dict(values)
    properties["recent_conversion_event_name"] = event_name
    properties["recent_conversion_date"] = str(submitted_at)
    if not before.get("first_conversion_date"):
        properties["first_conversion_event_name"] = event_name
        properties["first_conversion_date"] = str(submitted_at)
    if form.lifecycle_stage and not before.get("lifecyclestage") and "lifecyclestage" not in values:
        properties["lifecyclestage"] = form.lifecycle_stage
    return portal.upsert_contact_by_email(properties, change_source="FORM")


def _rate_limited(state: FormsState) -> JSONResponse:
    # HubSpot's CRM 429 shape; the forms endpoint's own 429 body is unconfirmed.
    seconds = max(1, math.ceil(state.window.retry_after()))
    body = {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": "TEN_SECONDLY_ROLLING",
    }
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(seconds)})


async def _submit(
    request: Request, portal_id: str, form_guid: str, *, limited: bool
) -> JSONResponse:
    state = get_forms_state(request.app)
    portal = state.portal
    if limited and portal.limits_enabled and not state.window.try_acquire():
        return _rate_limited(state)
    form = state.forms.get(form_guid)
    if form is None or portal_id != str(portal.portal_id):
        return _form_error(404, f"Form {form_guid} not found for portal {portal_id}", None)
    try:
        body = json.loads(await request.body() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _form_error(400, f"Invalid input JSON: {exc}", None)
    if not isinstance(body, dict):
        return _form_error(400, "Invalid input JSON: expected an object", None)
    checked = check_submission(form, body, portal.catalogue["contacts"], portal.gdpr_blocklist)
    if checked.errors:
        return _form_error(400, "The request is not valid", checked.errors)
    record_submission(state, form, checked)
    return JSONResponse(form.post_submit())


def _authenticate(request: Request, portal: Portal) -> None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise AuthenticationError(
            "Authentication credentials not found. This API supports OAuth 2.0 authentication."
        )
    portal.tokens.authenticate(header[7:].strip())


def build_forms_router() -> APIRouter:
    """Forms submission, submissions read and the forms control routes."""
    router = APIRouter()

    @router.post(SUBMIT_PATH)
    async def submit(request: Request, portal_id: str, form_guid: str) -> JSONResponse:
        return await _submit(request, portal_id, form_guid, limited=True)

    @router.post(SECURE_SUBMIT_PATH)
    async def secure_submit(request: Request, portal_id: str, form_guid: str) -> JSONResponse:
        _authenticate(request, get_forms_state(request.app).portal)
        # Authenticated submissions have "higher limits" that HubSpot does not publish.
        return await _submit(request, portal_id, form_guid, limited=False)

    @router.get(READ_PATH)
    async def read_submissions(
        request: Request,
        form_guid: str,
        limit: int = Query(default=20, ge=1, le=50),
        after: str | None = None,
    ) -> dict[str, Any]:
        state = get_forms_state(request.app)
        _authenticate(request, state.portal)
        if form_guid not in state.forms:
            raise ObjectNotFound(f"Form {form_guid} not found")
        newest_first = list(reversed(state.submissions.get(form_guid, [])))
        start = int(after) if after and after.isdigit() else 0
        page = newest_first[start : start + limit]
        result: dict[str, Any] = {"results": [s.to_public() for s in page]}
        if start + limit < len(newest_first):
            nxt = str(start + limit)
            link = f"{request.url.path}?limit={limit}&after={nxt}"
            result["paging"] = {"next": {"after": nxt, "link": link}}
        return result

    @router.get(f"{CONTROL_PREFIX}/forms")
    async def list_forms(request: Request) -> dict[str, Any]:
        forms = get_forms_state(request.app).forms.values()
        return {"results": [f.model_dump(by_alias=True) for f in forms]}

    @router.put(f"{CONTROL_PREFIX}/forms/{{guid}}")
    async def put_form(request: Request, guid: str, body: dict[str, Any] = Body(...)) -> Any:
        try:
            form = FormDefinition.model_validate({**body, "guid": guid})
        except ValidationError as exc:
            raise HTTPException(status_code=400, detail=f"invalid form: {exc}") from exc
        get_forms_state(request.app).forms[guid] = form
        return form.model_dump(by_alias=True)

    @router.get(f"{CONTROL_PREFIX}/forms/{{guid}}/submissions")
    async def control_submissions(request: Request, guid: str) -> dict[str, Any]:
        state = get_forms_state(request.app)
        if guid not in state.forms:
            raise HTTPException(status_code=404, detail=f"no form {guid}")
        return {"results": [s.to_control() for s in state.submissions.get(guid, [])]}

    return router
