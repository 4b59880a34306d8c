"""Workflow engine: trigger matching, conditions, idempotency, failure handling, run records."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pydantic import ValidationError

from hubforce.connectors.records import RemoteRecord, WriteResult
from hubforce.errors import Category, RecordFailure
from hubforce.server.events import ChangeEvent
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionRunner
from hubforce.workflows.engine import WorkflowEngine, fields_needed
from hubforce.workflows.model import Workflow, WorkflowsConfig
from hubforce.workflows.runs import MemoryLedger, RunLedger

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


class FakeSalesforce:
    def __init__(self, refuse: bool = False) -> None:
        self.created: list[tuple[str, dict[str, Any], bool | str | None]] = []
        self.updated: list[tuple[str, str, dict[str, Any], bool | str | None]] = []
        self.refuse = refuse

    async def create(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        auto_assign: bool | str | None = None,
    ) -> list[WriteResult]:
        if self.refuse:
            failure = RecordFailure.of(
                Category.REQUIRED_FIELD, "REQUIRED_FIELD_MISSING", "LastName"
            )
            return [WriteResult(0, False, None, failure=failure)]
        out = []
        for values in records:
            self.created.append((sobject, dict(values), auto_assign))
            out.append(WriteResult(0, True, f"00Q{len(self.created):015d}", created=True))
        return out

    async def update(
        self,
        sobject: str,
        updates: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        auto_assign: bool | str | None = None,
    ) -> list[WriteResult]:
        self.updated += [(sobject, rid, dict(v), auto_assign) for rid, v in updates]
        return [WriteResult(i, True, rid) for i, (rid, _) in enumerate(updates)]

    async def find_by(
        self,
        sobject: str,
        field: str,
        values: Sequence[Any],
        fields: Sequence[str],
        *,
        where: str | None = None,
    ) -> list[RemoteRecord]:
        return [
            RemoteRecord(self.ids[i], dict(v), 0, sobject)
            for i, (s, v, _) in enumerate(self.created)
            if s == sobject and v.get(field) in values
        ]

    @property
    def ids(self) -> list[str]:
        return [f"00Q{n:015d}" for n in range(1, len(self.created) + 1)]


class FakeHubSpot:
    def __init__(self) -> None:
        self.updates: list[tuple[str, str, dict[str, Any]]] = []

    async def update(
        self, object_type: str, updates: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[WriteResult]:
        self.updates += [(object_type, rid, dict(values)) for rid, values in updates]
        return [WriteResult(i, True, rid) for i, (rid, _) in enumerate(updates)]


class FakeReader:
    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.records = records
        self.reads: list[tuple[str, list[str]]] = []

    async def read_record(
        self, side: Side, object_type: str, record_id: str, fields: Sequence[str]
    ) -> dict[str, Any] | None:
        self.reads.append((record_id, list(fields)))
        record = self.records.get(record_id)
        return None if record is None else {k: record.get(k) for k in fields}


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
    sf: FakeSalesforce, hs: FakeHubSpot, reader: FakeReader, ledger: RunLedger | None = None
) -> WorkflowEngine:
    workflows = WorkflowsConfig.model_validate({"workflows": [FORM_TO_LEAD]}).workflows
    runner = ActionRunner(salesforce=sf, hubspot=hs)
    return WorkflowEngine(workflows, reader=reader, runner=runner, ledger=ledger or MemoryLedger())


JANE = {
    "email": "jane@example.com",
    "lastname": "Doe",
    "company": "Acme",
    "lifecyclestage": "lead",
    "recent_conversion_event_name": "Landing: Contact us",
}


def test_form_submission_creates_one_assigned_lead_and_writes_back() -> None:
    sf, hs, reader = FakeSalesforce(), FakeHubSpot(), FakeReader({"51": JANE})
    eng = engine(sf, hs, reader)

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
        "recent_conversion_event_name",
    ]


def test_other_form_condition_and_stale_events_do_nothing() -> None:
    customer = {**JANE, "lifecyclestage": "customer"}
    newsletter = {**JANE, "recent_conversion_event_name": "Landing: Newsletter"}
    records = {"51": JANE, "52": customer, "53": newsletter}
    sf, hs, reader = FakeSalesforce(), FakeHubSpot(), FakeReader(records)
    eng = engine(sf, hs, reader)
    ledger = eng.ledger

    async def go() -> None:
        (other,) = await eng.handle(form_event("53"))
        assert (other.status, other.error) == ("skipped", "another form")
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
        "recent_conversion_event_name",
    ]


def test_config_errors_name_the_problem() -> None:
    bad = {**FORM_TO_LEAD, "condition": "email ="}
    with pytest.raises(ValidationError, match="invalid condition"):
        Workflow.model_validate(bad)
    with pytest.raises(ValidationError, match="unique"):
        WorkflowsConfig.model_validate({"workflows": [FORM_TO_LEAD, FORM_TO_LEAD]})
