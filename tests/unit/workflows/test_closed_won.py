"""The default config's `closed-won-customer` workflow and the `hubspot.update` action's
`associated` option: a won Opportunity makes its HubSpot deal's company and contacts customers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from hubforce.config.defaults import DEFAULT_CONFIG_YAML
from hubforce.connectors.records import AssociationLink, WriteResult
from hubforce.errors import Category, RecordFailure
from hubforce.server.events import ChangeEvent
from hubforce.sync.model import Side
from hubforce.workflows.actions import ActionRunner
from hubforce.workflows.engine import WorkflowEngine, fields_needed
from hubforce.workflows.model import HubSpotUpdate, SalesforceChanged, WorkflowsConfig
from hubforce.workflows.runs import MemoryLedger

DEFAULTS = WorkflowsConfig.model_validate(
    {"workflows": yaml.safe_load(DEFAULT_CONFIG_YAML)["workflows"]}
).workflows
CLOSED_WON = next(w for w in DEFAULTS if w.name == "closed-won-customer")


class AssociatedHubSpot:
    """Deal 7 is associated with company 3 and contacts 5 and 6; deal 8 with nothing."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.links = {("deals", "companies", "7"): ["3"], ("deals", "contacts", "7"): ["5", "6"]}
        self.refuse = refuse or set()
        self.updates: list[tuple[str, str, dict[str, Any]]] = []

    async def update(
        self, object_type: str, updates: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[WriteResult]:
        out = []
        for i, (rid, values) in enumerate(updates):
            if rid in self.refuse:
                failure = RecordFailure.of(Category.PICKLIST, "INVALID_OPTION", "bad stage")
                out.append(WriteResult(i, False, rid, failure=failure))
                continue
            self.updates.append((object_type, rid, dict(values)))
            out.append(WriteResult(i, True, rid))
        return out

    async def read_associations(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, list[AssociationLink]]:
        return {
            rid: [AssociationLink(rid, to) for to in self.links.get((from_type, to_type, rid), [])]
            for rid in ids
        }


class OpportunityReader:
    """Reads Opportunities as ClientRecordReader does: fields, plus the linked twin's ids."""

    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.records = records
        self.fields: list[list[str]] = []

    async def read_record(
        self, side: Side, object_type: str, record_id: str, fields: Sequence[str]
    ) -> dict[str, Any] | None:
        assert (side, object_type) == (Side.SALESFORCE, "Opportunity")
        self.fields.append(list(fields))
        return dict(self.records[record_id])


def opportunity_event(record_id: str, kind: str = "updated", at: int = 1000) -> ChangeEvent:
    return ChangeEvent(Side.SALESFORCE, "Opportunity", record_id, kind, at, f"poll:{at}")


def run_closed_won(
    hs: AssociatedHubSpot, records: dict[str, dict[str, Any]], events: list[ChangeEvent]
) -> list[tuple[str, str | None, dict[str, Any]]]:
    engine = WorkflowEngine(
        [CLOSED_WON],
        reader=OpportunityReader(records),
        runner=ActionRunner(hubspot=hs),
        ledger=MemoryLedger(),
    )

    async def go() -> list[tuple[str, str | None, dict[str, Any]]]:
        out = []
        for event in events:
            for run in await engine.handle(event):
                detail = run.actions[0].detail if run.actions else {}
                out.append((run.status, run.error, detail))
        return out

    return asyncio.run(go())


WON = {"StageName": "Closed Won", "hubspot_id": "7", "salesforce_id": "006A"}


def test_the_default_config_ships_both_workflows_and_closed_won_reads_the_stage() -> None:
    assert [w.name for w in DEFAULTS] == ["form-to-lead", "closed-won-customer"]
    trigger = CLOSED_WON.trigger
    assert isinstance(trigger, SalesforceChanged)
    assert (trigger.sobject, trigger.on) == ("Opportunity", "updated")  # unquoted `on:` in YAML
    assert fields_needed(CLOSED_WON) == ["StageName"]  # hubspot_id comes from the store


def test_a_won_opportunity_makes_the_deals_company_and_contacts_customers() -> None:
    hs = AssociatedHubSpot()
    runs = run_closed_won(hs, {"006A": WON}, [opportunity_event("006A")])
    assert runs == [("succeeded", None, {"updated": {"companies": ["3"], "contacts": ["5", "6"]}})]
    customer = {"lifecyclestage": "customer"}
    assert hs.updates == [
        ("companies", "3", customer),
        ("contacts", "5", customer),
        ("contacts", "6", customer),
    ]


def test_other_stages_unlinked_opportunities_and_creations_change_nothing() -> None:
    hs = AssociatedHubSpot()
    records = {
        "006A": {**WON, "StageName": "Negotiation/Review"},
        "006B": {"StageName": "Closed Won"},  # no HubSpot deal linked yet
        "006C": WON,
    }
    events = [
        opportunity_event("006A"),
        opportunity_event("006B"),
        opportunity_event("006C", kind="created"),  # `on: updated` only
    ]
    runs = run_closed_won(hs, records, events)
    assert [(status, error) for status, error, _ in runs] == [
        ("skipped", "condition not met"),
        ("skipped", "condition not met"),
    ]
    assert hs.updates == []


def test_a_deal_with_no_associations_succeeds_with_nothing_updated() -> None:
    hs = AssociatedHubSpot()
    runs = run_closed_won(hs, {"006A": {**WON, "hubspot_id": "8"}}, [opportunity_event("006A")])
    assert runs == [("succeeded", None, {"updated": {}})]
    assert hs.updates == []


def test_a_refused_associated_update_fails_the_run_with_the_apis_words() -> None:
    hs = AssociatedHubSpot(refuse={"6"})
    ((status, error, detail),) = run_closed_won(hs, {"006A": WON}, [opportunity_event("006A")])
    assert status == "failed"
    assert error is not None and "INVALID_OPTION: bad stage" in error
    assert detail == {"updated": {"companies": ["3"]}, "refused": ["6"]}


def test_associated_must_name_other_types_once() -> None:
    base = {"type": "hubspot.update", "object_type": "deals", "values": {"a": "b"}}
    with pytest.raises(ValidationError, match="other object types"):
        HubSpotUpdate.model_validate({**base, "associated": ["deals"]})
    with pytest.raises(ValidationError, match="other object types"):
        HubSpotUpdate.model_validate({**base, "associated": ["contacts", "contacts"]})
    with pytest.raises(ValidationError):
        HubSpotUpdate.model_validate({**base, "associated": ["tickets"]})
