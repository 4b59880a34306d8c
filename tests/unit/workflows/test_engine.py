"""Workflow engine: trigger matching, conditions, idempotency, failure handling, run records."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from hubforce.server.events import ChangeEvent
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionRunner
from hubforce.workflows.engine import WorkflowEngine, fields_needed
from hubforce.workflows.model import Workflow, WorkflowsConfig
from hubforce.workflows.runs import MemoryLedger, RunLedger
from tests.unit.workflows.fakes import FakeForms, FakeHubSpot, FakeReader, FakeSalesforce

FORM_TO_LEAD = {
    "name": "form-to-lead",
    "trigger": {"type": "hubspot.form_submitted", "form": "guid-1", "form_name": "Contact us"},
    "condition": 'email is not empty and lifecyclestage != "customer"',
    "actions": [
        {
            "type": "salesforce.create",
            "sobject": "Lead",
            "values": {"LastName": "{lastname}", "Company": "{company}", "Email": "{email}"},
            "assignment": True,
        },
        {"type": "hubspot.update", "values": {"sf_lead_id": "{action1.id}"}},
    ],
}


def form_event(contact: str, event_id: str = "1", at: int = 1000) -> ChangeEvent:
    return ChangeEvent(
        Side.HUBSPOT,
        "contacts",
        contact,
        "propertyChange",
        at,
        event_id,
        "recent_conversion_date",
        str(at),
    )


def engine(
    sf: FakeSalesforce,
    hs: FakeHubSpot,
    reader: FakeReader,
    ledger: RunLedger | None = None,
    forms: FakeForms | None = None,
) -> WorkflowEngine:
    workflows = WorkflowsConfig.model_validate({"workflows": [FORM_TO_LEAD]}).workflows
    runner = ActionRunner(salesforce=sf, hubspot=hs)
    return WorkflowEngine(
        workflows,
        reader=reader,
        runner=runner,
        ledger=ledger or MemoryLedger(),
        forms=forms or jane_submitted(1000),
    )


def jane_submitted(*times: int) -> FakeForms:
    """The submissions API after Jane (contact 51) submitted form guid-1 at `times`."""
    forms = FakeForms()
    for at in times:
        forms.submit("guid-1", "Jane@Example.com", at, contact="51")
    return forms


JANE = {
    "email": "jane@example.com",
    "lastname": "Doe",
    "company": "Acme",
    "lifecyclestage": "lead",
    "recent_conversion_event_name": "Landing: Contact us",
}


def test_form_submission_creates_one_assigned_lead_and_writes_back() -> None:
    sf, hs, reader = FakeSalesforce(), FakeHubSpot(), FakeReader({"51": JANE})
    eng = engine(sf, hs, reader, forms=jane_submitted(1000, 2000))

    async def go() -> None:
        runs = await eng.handle(form_event("51"))
        assert [r.status for r in runs] == ["succeeded"]
        # Redelivery (new eventId, same change) and a duplicate: nothing runs again.
        assert await eng.handle(form_event("51", event_id="99")) == []
        assert await eng.handle(form_event("51")) == []
        # A later submission of the same form is a new trigger.
        assert [r.status for r in await eng.handle(form_event("51", at=2000))] == ["succeeded"]

    asyncio.run(go())
    lead = ("Lead", {"LastName": "Doe", "Company": "Acme", "Email": "jane@example.com"}, True)
    assert sf.created == [lead]  # the second submission matched the Lead by Email
    assert sf.updated == [("Lead", "00Q000000000000001", lead[1], True)]
    assert hs.updates == [("contacts", "51", {"sf_lead_id": "00Q000000000000001"})] * 2
    assert sorted(reader.reads[0][1]) == [
        "company",
        "email",
        "lastname",
        "lifecyclestage",
        "recent_conversion_date",
        "recent_conversion_event_name",
    ]


def test_other_form_condition_and_stale_events_do_nothing() -> None:
    customer = {**JANE, "lifecyclestage": "customer"}
    newsletter = {**JANE, "recent_conversion_event_name": "Landing: Newsletter"}
    records = {"51": JANE, "52": customer, "53": newsletter}
    sf, hs, reader, forms = FakeSalesforce(), FakeHubSpot(), FakeReader(records), FakeForms()
    forms.submit("guid-1", "jane@example.com", 1000, contact="52")
    eng = engine(sf, hs, reader, forms=forms)
    ledger = eng.ledger

    async def go() -> None:
        (other,) = await eng.handle(form_event("53"))
        assert (other.status, other.error) == ("skipped", "another form")
        assert forms.reads == []  # form_name differs: no submissions API call
        assert await eng.handle(form_event("51", at=5), current=False) == []
        runs = await eng.handle(form_event("52"))
        assert [(r.status, r.error) for r in runs] == [("skipped", "condition not met")]
        assert len(await ledger.recent()) == 2

    asyncio.run(go())
    assert sf.created == []


def test_refused_create_is_recorded_and_may_run_again() -> None:
    sf, hs, reader = FakeSalesforce(refuse=True), FakeHubSpot(), FakeReader({"51": JANE})
    eng = engine(sf, hs, reader)

    async def go() -> None:
        (run,) = await eng.handle(form_event("51"))
        assert run.status == "failed"
        assert run.error is not None and "REQUIRED_FIELD_MISSING" in run.error
        sf.refuse = False  # fixed: HubSpot's retry of the same change now creates the Lead
        (again,) = await eng.handle(form_event("51", event_id="2"))
        assert again.status == "succeeded"

    asyncio.run(go())
    assert len(sf.created) == 1


def test_fields_needed_reads_condition_and_templates() -> None:
    workflow = Workflow.model_validate(FORM_TO_LEAD)
    assert fields_needed(workflow) == [
        "company",
        "email",
        "lastname",
        "lifecyclestage",
        "recent_conversion_date",
        "recent_conversion_event_name",
    ]


def test_config_errors_name_the_problem() -> None:
    bad = {**FORM_TO_LEAD, "condition": "email ="}
    with pytest.raises(ValidationError, match="invalid condition"):
        Workflow.model_validate(bad)
    with pytest.raises(ValidationError, match="unique"):
        WorkflowsConfig.model_validate({"workflows": [FORM_TO_LEAD, FORM_TO_LEAD]})
