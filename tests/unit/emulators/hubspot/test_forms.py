"""Form submissions: contacts created and updated by email with change source FORM, conversion
properties, recorded submissions, and the forms API's 400/401/404 bodies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app
from hubforce.emulators.hubspot.events import PortalEvent
from hubforce.emulators.hubspot.form_models import (
    CONTACT_US_GUID,
    DEMO_REQUEST_GUID,
    load_forms,
)
from hubforce.emulators.hubspot.models import Portal
from hubforce.emulators.hubspot.properties import iso_ms
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings

PORTAL = 62515
TOKEN = {"Authorization": "Bearer emulator-token"}
SUBMITTED_AT = 1_700_000_000_000
HUTK = "0123456789abcdef0123456789abcdef"


class Harness:
    def __init__(self, app: FastAPI, client: httpx.Client) -> None:
        self.client = client
        self.portal: Portal = app.state.backend
        self.events: list[PortalEvent] = []
        self.portal.events.subscribe(self.events.append)

    def submit(
        self,
        fields: dict[str, str],
        guid: str = CONTACT_US_GUID,
        portal: int = PORTAL,
        **extra: Any,
    ) -> httpx.Response:
        body = {
            "fields": [{"objectTypeId": "0-1", "name": k, "value": v} for k, v in fields.items()],
            **extra,
        }
        return self.client.post(f"/submissions/v3/integration/submit/{portal}/{guid}", json=body)

    def contact(self, contact_id: str) -> dict[str, str]:
        return self.portal.get_object("contacts", contact_id).properties

    def only_contact_id(self) -> str:
        [record] = list(self.portal.iter_live("contacts"))
        return str(record.id)

    def errors(self, response: httpx.Response) -> list[tuple[str, str]]:
        assert response.status_code == 400, response.text
        body = response.json()
        assert (body["status"], body["message"]) == ("error", "The request is not valid")
        assert len(body["correlationId"]) == 36
        return [(e["errorType"], e["message"]) for e in body["errors"]]


@contextmanager
def served(settings: HubSpotEmulatorSettings) -> Iterator[tuple[FastAPI, httpx.Client]]:
    app = create_app(settings)
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url) as client:
        yield app, client


@pytest.fixture(scope="module")
def shared() -> Iterator[Harness]:
    with served(HubSpotEmulatorSettings()) as (app, client):
        yield Harness(app, client)


@pytest.fixture
def hs(shared: Harness) -> Harness:
    """The module's served emulator, reset: no contacts, submissions or recorded events."""
    assert shared.client.post("/__emulator__/reset").status_code == 200
    shared.events.clear()
    return shared


def test_submission_creates_contact_with_conversion_properties_and_form_events(
    hs: Harness,
) -> None:
    response = hs.submit(
        {"email": "Jane@Example.com", "firstname": "Jane"},
        submittedAt=str(SUBMITTED_AT),
        context={"hutk": HUTK, "pageUri": "https://www.example.com/contact", "pageName": "Contact"},
    )
    assert response.status_code == 200
    assert response.json() == {"inlineMessage": "Thanks for submitting the form."}
    contact_id = hs.only_contact_id()
    props = hs.contact(contact_id)
    assert props["email"] == "jane@example.com"
    assert props["firstname"] == "Jane"
    assert props["lifecyclestage"] == "lead"
    assert props["recent_conversion_event_name"] == "Contact: Contact us"
    assert props["first_conversion_event_name"] == "Contact: Contact us"
    assert props["recent_conversion_date"] == iso_ms(SUBMITTED_AT)
    assert props["first_conversion_date"] == iso_ms(SUBMITTED_AT)
    assert (props["num_conversion_events"], props["num_unique_conversion_events"]) == ("1", "1")
    kinds = [(e.subscription_type, e.change_source) for e in hs.events]
    assert kinds[0] == ("contact.creation", "FORM")
    changes = {e.property_name: (e.change_source, e.property_value) for e in hs.events[1:]}
    assert changes["email"] == ("FORM", "jane@example.com")
    assert changes["firstname"] == ("FORM", "Jane")
    assert changes["recent_conversion_event_name"] == ("FORM", "Contact: Contact us")
    assert changes["num_conversion_events"] == ("CALCULATED", "1")
    assert all(e.object_id == int(contact_id) for e in hs.events)


def test_second_submission_updates_the_same_contact_by_email(hs: Harness) -> None:
    hs.submit({"email": "jane@example.com", "firstname": "Jane"}, submittedAt=str(SUBMITTED_AT))
    contact_id = hs.only_contact_id()
    hs.portal.update_object("contacts", contact_id, {"lifecyclestage": "customer"})
    hs.events.clear()
    response = hs.submit(
        {
            "email": "JANE@example.com",
            "firstname": "Janet",
            "lastname": "Doe",
            "company": "Acme",
        },
        guid=DEMO_REQUEST_GUID,
        submittedAt=str(SUBMITTED_AT + 60_000),
    )
    assert response.json() == {
        "redirectUri": "https://www.example.com/thanks-for-your-demo-request"
    }
    assert hs.only_contact_id() == contact_id
    props = hs.contact(contact_id)
    assert (props["firstname"], props["lastname"], props["company"]) == ("Janet", "Doe", "Acme")
    assert props["lifecyclestage"] == "customer"  # a form never moves the stage back
    assert props["recent_conversion_event_name"] == "Demo request"
    assert props["first_conversion_event_name"] == "Contact us"
    assert props["first_conversion_date"] == iso_ms(SUBMITTED_AT)
    assert (props["num_conversion_events"], props["num_unique_conversion_events"]) == ("2", "2")
    assert not any(e.subscription_type == "contact.creation" for e in hs.events)
    form_changes = sorted(e.property_name or "" for e in hs.events if e.change_source == "FORM")
    assert form_changes == [
        "company",
        "firstname",
        "lastname",
        "recent_conversion_date",
        "recent_conversion_event_name",
    ]
    hs.submit({"email": "jane@example.com"}, submittedAt=str(SUBMITTED_AT + 120_000))
    props = hs.contact(contact_id)
    assert (props["num_conversion_events"], props["num_unique_conversion_events"]) == ("3", "2")


def test_submission_updates_a_contact_created_through_the_crm_api(hs: Harness) -> None:
    record = hs.portal.create_object("contacts", {"email": "sam@example.com", "lastname": "S"})
    hs.submit({"email": "sam@example.com", "firstname": "Sam"})
    assert hs.only_contact_id() == str(record.id)
    assert hs.contact(str(record.id))["firstname"] == "Sam"


def test_submission_without_email_is_recorded_without_a_contact(hs: Harness) -> None:
    custom = {"name": "Newsletter", "fields": [{"name": "firstname"}]}
    assert hs.client.put("/__emulator__/forms/news-1", json=custom).status_code == 200
    assert hs.submit({"firstname": "Anon"}, guid="news-1").status_code == 200
    assert list(hs.portal.iter_live("contacts")) == []
    [item] = hs.client.get("/__emulator__/forms/news-1/submissions").json()["results"]
    assert (item["contactId"], item["values"]) == (None, [{"name": "firstname", "value": "Anon"}])


def test_missing_required_fields_are_all_reported(hs: Harness) -> None:
    response = hs.submit({"email": "a@example.com", "firstname": "A"}, guid=DEMO_REQUEST_GUID)
    assert hs.errors(response) == [
        ("REQUIRED_FIELD", "Error in 'fields.lastname'. Required field 'lastname' is missing"),
        ("REQUIRED_FIELD", "Error in 'fields.company'. Required field 'company' is missing"),
    ]
    assert list(hs.portal.iter_live("contacts")) == []
    assert hs.events == []


def test_invalid_email(hs: Harness) -> None:
    response = hs.submit({"email": "not-an-email"})
    assert hs.errors(response) == [
        ("INVALID_EMAIL", "Error in 'fields.email'. Invalid email address")
    ]


def test_field_not_in_form_rejects_the_whole_submission(hs: Harness) -> None:
    response = hs.submit({"email": "bad", "jobtitle": "CTO"})
    assert hs.errors(response) == [
        (
            "FIELD_NOT_IN_FORM_DEFINITION",
            "Error in 'fields.jobtitle'. Field 'jobtitle' is not in the form definition",
        )
    ]
    assert hs.events == []


def test_skip_validation_accepts_other_fields_and_missing_required(hs: Harness) -> None:
    response = hs.submit(
        {"email": "x@example.com", "jobtitle": "CTO"}, guid=DEMO_REQUEST_GUID, skipValidation=True
    )
    assert response.status_code == 200
    assert hs.contact(hs.only_contact_id())["jobtitle"] == "CTO"


def test_typed_fields_are_checked_with_property_rules(hs: Harness) -> None:
    form = {
        "fields": [
            {"name": "email", "required": True},
            {"name": "annualrevenue"},
            {"name": "lifecyclestage"},
        ]
    }
    hs.client.put("/__emulator__/forms/typed", json=form)
    response = hs.submit(
        {"email": "t@example.com", "annualrevenue": "lots", "lifecyclestage": "vip"}, guid="typed"
    )
    types = [t for t, _ in hs.errors(response)]
    assert types == ["INVALID_NUMBER", "VALUE_NOT_IN_FIELD_DEFINITION"]


def test_context_values_are_validated(hs: Harness) -> None:
    response = hs.submit(
        {"email": "c@example.com"},
        context={"hutk": "nope", "pageUri": "not a url", "ipAddress": "999.1.1.1"},
    )
    assert [t for t, _ in hs.errors(response)] == [
        "INVALID_HUTK",
        "INVALID_PAGE_URI",
        "INVALID_IP_ADDRESS",
    ]


def test_consent_rules(hs: Harness) -> None:
    form = {"fields": [{"name": "email"}], "consentRequired": True}
    hs.client.put("/__emulator__/forms/gdpr", json=form)
    fields = {"email": "g@example.com"}
    assert [t for t, _ in hs.errors(hs.submit(fields, guid="gdpr"))] == [
        "MISSING_PROCESSING_CONSENT"
    ]
    no_text = {"consent": {"consentToProcess": True}}
    assert [t for t, _ in hs.errors(hs.submit(fields, "gdpr", legalConsentOptions=no_text))] == [
        "MISSING_PROCESSING_CONSENT_TEXT"
    ]
    comms = [
        {"value": True, "subscriptionTypeId": 999, "text": "Email me"},
        {"value": True, "subscriptionTypeId": 999, "text": "Again"},
        {"value": True, "subscriptionTypeId": 5},
    ]
    bad = {"consent": {"consentToProcess": True, "text": "I agree", "communications": comms}}
    assert [t for t, _ in hs.errors(hs.submit(fields, "gdpr", legalConsentOptions=bad))] == [
        "DUPLICATE_SUBSCRIPTION_TYPE_ID",
        "MISSING_COMMUNICATION_CONSENT_TEXT",
    ]
    assert [t for t, _ in hs.errors(hs.submit(fields, "gdpr", legalConsentOptions=[]))] == [
        "INVALID_LEGAL_OPTION_FORMAT"
    ]
    good = {"consent": {"consentToProcess": True, "text": "I agree", "communications": comms[:1]}}
    assert hs.submit(fields, "gdpr", legalConsentOptions=good).status_code == 200


def test_too_many_values(hs: Harness) -> None:
    body = {"fields": [{"name": "email", "value": "m@example.com"}] * 1001}
    response = hs.client.post(
        f"/submissions/v3/integration/submit/{PORTAL}/{CONTACT_US_GUID}", json=body
    )
    assert [t for t, _ in hs.errors(response)] == ["MAX_NUMBER_OF_SUBMITTED_VALUES_EXCEEDED"]


def test_gdpr_deleted_email_is_blocked(hs: Harness) -> None:
    record = hs.portal.create_object("contacts", {"email": "gone@example.com"})
    hs.portal.gdpr_delete(str(record.id))
    assert hs.errors(hs.submit({"email": "gone@example.com"})) == [
        ("BLOCKED_EMAIL", "Error in 'fields.email'. Email address is blocked")
    ]


@pytest.mark.parametrize(
    ("portal", "guid"), [(PORTAL, "00000000-0000-0000-0000-000000000000"), (1, CONTACT_US_GUID)]
)
def test_unknown_portal_or_form_is_404(hs: Harness, portal: int, guid: str) -> None:
    response = hs.submit({"email": "a@example.com"}, guid=guid, portal=portal)
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == "error"
    assert body["message"] == f"Form {guid} not found for portal {portal}"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff"])
def test_malformed_body_is_400(hs: Harness, raw: bytes) -> None:
    response = hs.client.post(
        f"/submissions/v3/integration/submit/{PORTAL}/{CONTACT_US_GUID}",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid input JSON")


def test_bad_field_shapes_are_invalid_metadata(hs: Harness) -> None:
    body = {"fields": [{"name": "email"}, "x"], "submittedAt": "yesterday"}
    response = hs.client.post(
        f"/submissions/v3/integration/submit/{PORTAL}/{CONTACT_US_GUID}", json=body
    )
    assert [t for t, _ in hs.errors(response)] == [
        "INVALID_METADATA",
        "INVALID_METADATA",
        "REQUIRED_FIELD",
        "INVALID_METADATA",
    ]


def test_secure_submit_needs_a_valid_token(hs: Harness) -> None:
    path = f"/submissions/v3/integration/secure/submit/{PORTAL}/{CONTACT_US_GUID}"
    body = {"fields": [{"name": "email", "value": "s@example.com"}]}
    anonymous = hs.client.post(path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["category"] == "INVALID_AUTHENTICATION"
    wrong = hs.client.post(path, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert hs.client.post(path, json=body, headers=TOKEN).status_code == 200
    assert hs.contact(hs.only_contact_id())["email"] == "s@example.com"


def test_read_submissions_pages_newest_first(hs: Harness) -> None:
    for i in range(3):
        hs.submit(
            {"email": f"p{i}@example.com"},
            submittedAt=str(SUBMITTED_AT + i),
            context={"pageUri": "https://www.example.com/c"},
        )
    path = f"/form-integrations/v1/submissions/forms/{CONTACT_US_GUID}"
    assert hs.client.get(path).status_code == 401
    first = hs.client.get(path, params={"limit": 2}, headers=TOKEN).json()
    assert [r["submittedAt"] for r in first["results"]] == [SUBMITTED_AT + 2, SUBMITTED_AT + 1]
    assert first["results"][0]["values"] == [{"name": "email", "value": "p2@example.com"}]
    assert first["results"][0]["pageUrl"] == "https://www.example.com/c"
    after = first["paging"]["next"]["after"]
    second = hs.client.get(path, params={"limit": 2, "after": after}, headers=TOKEN).json()
    assert [r["submittedAt"] for r in second["results"]] == [SUBMITTED_AT]
    assert "paging" not in second
    missing = hs.client.get("/form-integrations/v1/submissions/forms/nope", headers=TOKEN)
    assert (missing.status_code, missing.json()["category"]) == (404, "OBJECT_NOT_FOUND")


def test_control_lists_forms_and_submissions_with_contacts(hs: Harness) -> None:
    forms = hs.client.get("/__emulator__/forms").json()["results"]
    assert {f["guid"] for f in forms} == {CONTACT_US_GUID, DEMO_REQUEST_GUID}
    hs.submit({"email": "k@example.com"})
    [item] = hs.client.get(f"/__emulator__/forms/{CONTACT_US_GUID}/submissions").json()["results"]
    assert item["contactId"] == hs.only_contact_id()
    assert item["createdContact"] is True
    assert hs.client.get("/__emulator__/forms/nope/submissions").status_code == 404
    bad = hs.client.put("/__emulator__/forms/x", json={"fields": [{"name": ""}]})
    assert bad.status_code == 400


def test_reset_forgets_submissions_and_forms_added_since(hs: Harness) -> None:
    hs.submit({"email": "r@example.com"})
    hs.client.put("/__emulator__/forms/extra", json={"fields": [{"name": "email"}]})
    assert hs.client.post("/__emulator__/reset").status_code == 200
    path = f"/__emulator__/forms/{CONTACT_US_GUID}/submissions"
    assert hs.client.get(path).json()["results"] == []
    forms = hs.client.get("/__emulator__/forms").json()["results"]
    assert {f["guid"] for f in forms} == {CONTACT_US_GUID, DEMO_REQUEST_GUID}


def test_forms_come_from_the_config_or_the_defaults() -> None:
    assert set(load_forms([])) == {CONTACT_US_GUID, DEMO_REQUEST_GUID}
    configured = load_forms([{"guid": "g1", "name": "Webinar", "fields": [{"name": "email"}]}])
    assert list(configured) == ["g1"]
    with pytest.raises(ValueError, match="only contact fields"):
        load_forms([{"guid": "g2", "fields": [{"name": "domain", "objectTypeId": "0-2"}]}])
    with pytest.raises(ValueError, match="share a guid"):
        load_forms([{"guid": "g", "fields": []}, {"guid": "g", "fields": []}])
    with pytest.raises(ValueError, match="only contact fields"):  # at start-up, not later
        HubSpotEmulatorSettings(
            forms=[{"guid": "g", "fields": [{"name": "x", "objectTypeId": "0-3"}]}]
        )
    settings = HubSpotEmulatorSettings(forms=[{"guid": "g3", "fields": [{"name": "email"}]}])
    with served(settings) as (_, client):
        ok = client.post(
            f"/submissions/v3/integration/submit/{PORTAL}/g3",
            json={"fields": [{"name": "email", "value": "z@example.com"}]},
        )
        assert ok.json() == {"inlineMessage": "Thanks for submitting the form."}
        missing = client.post(f"/submissions/v3/integration/submit/{PORTAL}/{CONTACT_US_GUID}")
        assert missing.status_code == 404


def test_unauthenticated_submissions_are_limited_to_50_per_ten_seconds(hs: Harness) -> None:
    statuses = [hs.submit({"email": f"r{i}@example.com"}).status_code for i in range(51)]
    assert statuses == [200] * 50 + [429]
    limited = hs.submit({"email": "late@example.com"})
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    path = f"/submissions/v3/integration/secure/submit/{PORTAL}/{CONTACT_US_GUID}"
    secure = {"fields": [{"name": "email", "value": "sec@example.com"}]}
    assert hs.client.post(path, json=secure, headers=TOKEN).status_code == 200
    hs.portal.clock.advance(10.5)
    assert hs.submit({"email": "later@example.com"}).status_code == 200
