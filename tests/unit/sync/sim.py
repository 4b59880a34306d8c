"""A tiny in-memory pair of CRMs that apply plans the way the engine will, for planner tests.

Each side stores raw wire values (HubSpot strings, Salesforce JSON), written with
`mapping.to_wire` and read back with `mapping.to_change`, so the tests cover the conversions
as well as the planner. Salesforce keeps datetimes to the second, as the real API does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from hubforce.config.model import FieldMapping, ObjectPairConfig
from hubforce.sync import values as v
from hubforce.sync.mapping import PairMapping, compile_pair, to_change, to_wire
from hubforce.sync.model import Change, FieldValues, Link, Rule, Side
from hubforce.sync.operations import Create, Delete, LinkOnly, Plan, Unlink, Update
from hubforce.sync.plan import plan_changes

HS_TYPE = "contacts"
SF_TYPE = "Lead"


def _field(hubspot: str, salesforce: str, **kw: Any) -> FieldMapping:
    return FieldMapping.model_validate({"hubspot": hubspot, "salesforce": salesforce, **kw})


SIM_CONFIG = ObjectPairConfig(
    hubspot=HS_TYPE,
    salesforce=[SF_TYPE],
    create_as=SF_TYPE,
    defaults={SF_TYPE: {"Company": "[not provided]"}},
    fields=[
        _field("name", "Name", max_length=8),
        _field("email", "Email", type="email"),
        _field("amount", "Amount", type="number"),
        _field("flag", "Flag__c", type="boolean"),
        _field("day", "Day__c", type="date"),
        _field("when", "When__c", type="datetime"),
        _field("closedate", "CloseDate", transform="datetime_to_date"),
        _field("stage", "Stage", type="enumeration", picklist={"a": "A", "a2": "A", "b": "B"}),
        _field("tags", "Tags__c", type="multi_enumeration"),
        _field("company", "Company"),
        _field("pct", "Pct__c", transform="fraction_to_percent"),
        _field("p_sf", "PSF__c", rule="prefer_salesforce_unless_blank"),
        _field("p_hs", "PHS__c", rule="prefer_hubspot_unless_blank"),
        _field("a_sf", "ASF__c", rule="always_salesforce"),
        _field("a_hs", "AHS__c", rule="always_hubspot"),
        _field("skip", "Skip__c", rule="dont_sync"),
    ],
)
SIM_MAPPING: PairMapping = compile_pair("contacts", SIM_CONFIG)
SYNCED_KEYS = [spec.key for spec in SIM_MAPPING.fields_for(SF_TYPE)]
WIRE_NAMES = {
    Side.HUBSPOT: [spec.hubspot for spec in SIM_MAPPING.fields],
    Side.SALESFORCE: [spec.salesforce for spec in SIM_MAPPING.fields],
}
TWO_WAY_KEYS = [s.key for s in SIM_MAPPING.fields_for(SF_TYPE) if s.rule is Rule.TWO_WAY]


@dataclass
class World:
    """Both CRMs, the link store and a clock."""

    mapping: PairMapping = SIM_MAPPING
    hubspot: dict[str, dict[str, Any]] = field(default_factory=dict)
    salesforce: dict[str, dict[str, Any]] = field(default_factory=dict)
    modified: dict[tuple[Side, str], int] = field(default_factory=dict)
    field_modified: dict[tuple[Side, str], dict[str, int]] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    clock: int = 1_700_000_000_000
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    writes: int = 0

    def tick(self) -> int:
        """Advance the clock by one second."""
        self.clock += 1000
        return self.clock

    def put(self, side: Side, record_id: str, values: FieldValues, at: int | None = None) -> None:
        """Write canonical `values` to a record on `side` as that side's API would store them."""
        object_type = HS_TYPE if side is Side.HUBSPOT else SF_TYPE
        wire, failures, _ = to_wire(self.mapping, side, object_type, values)
        assert not failures, failures
        if side is Side.SALESFORCE:
            for name, value in list(wire.items()):
                if name == "When__c" and value is not None:  # Salesforce keeps seconds
                    ms = v.to_datetime_ms(value)
                    assert ms is not None
                    wire[name] = v.iso_from_ms(ms - ms % 1000)
        store = self.hubspot if side is Side.HUBSPOT else self.salesforce
        store.setdefault(record_id, {}).update(wire)
        stamp = at if at is not None else self.tick()
        self.modified[(side, record_id)] = stamp
        stamps = self.field_modified.setdefault((side, record_id), {})
        for name in wire:
            stamps[name] = stamp

    def read(self, side: Side, record_id: str) -> Change:
        """Read one record as a Change."""
        store = self.hubspot if side is Side.HUBSPOT else self.salesforce
        object_type = HS_TYPE if side is Side.HUBSPOT else SF_TYPE
        # An API returns every field asked for, null when unset.
        raw = dict.fromkeys(WIRE_NAMES[side]) | store[record_id]
        change, failures = to_change(
            self.mapping,
            side,
            object_type,
            record_id,
            raw,
            self.modified[(side, record_id)],
            field_modified_at=self.field_modified.get((side, record_id), {}),
        )
        assert not failures, failures
        return change

    def read_all(self) -> list[Change]:
        """Every record on both sides (a full re-read)."""
        return [self.read(Side.HUBSPOT, i) for i in sorted(self.hubspot)] + [
            self.read(Side.SALESFORCE, i) for i in sorted(self.salesforce)
        ]

    def cycle(self, changes: list[Change]) -> Plan:
        """Plan `changes` against the stored links and apply the plan."""
        plan = plan_changes(self.mapping, changes, list(self.links.values()))
        self.apply(plan)
        return plan

    def apply(self, plan: Plan) -> None:
        """Apply every operation as if each write succeeded."""
        for record in plan.records:
            hs_id = record.hubspot.id if record.hubspot else None
            sf_id = record.salesforce.id if record.salesforce else None
            for op in record.operations:
                if isinstance(op, Create):
                    new_id = f"{'S' if op.target is Side.SALESFORCE else 'H'}{next(self._ids)}"
                    self.put(op.target, new_id, op.values)
                    self.writes += 1
                    if op.target is Side.SALESFORCE:
                        sf_id = new_id
                    else:
                        hs_id = new_id
                elif isinstance(op, Update):
                    self.put(op.target.side, op.target.id, op.values)
                    self.writes += 1
                elif isinstance(op, Delete):
                    store = self.hubspot if op.target.side is Side.HUBSPOT else self.salesforce
                    store.pop(op.target.id, None)
                    self.writes += 1
                elif isinstance(op, Unlink):
                    self.links.pop(op.hubspot.id, None)
                elif isinstance(op, LinkOnly):
                    pass
            unlinked = any(isinstance(op, Unlink) for op in record.operations)
            if record.snapshot is not None and hs_id and sf_id and not unlinked:
                self.links[hs_id] = Link("contacts", hs_id, SF_TYPE, sf_id, record.snapshot)


def writes_of(plan: Plan) -> list[object]:
    """The operations of a plan that would call an API or touch a link."""
    return plan.operations()


# --- hypothesis strategies for canonical records of SIM_MAPPING ---------------------------------

_text = st.text(alphabet="ab yz", min_size=0, max_size=12).map(lambda s: s.strip() or None)
_choice = st.sampled_from(["u", "v", None])
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": _text,
    "email": st.sampled_from(["ann@x.com", "bob@x.com", None]),
    "amount": st.one_of(
        st.none(), st.decimals(min_value=-1000, max_value=1000, places=2).map(Decimal.normalize)
    ),
    "flag": st.booleans(),
    "day": st.one_of(st.none(), st.dates(date(2000, 1, 1), date(2030, 1, 1)).map(str)),
    "when": st.one_of(st.none(), st.integers(946_684_800_000, 1_900_000_000_000)),
    "closedate": st.one_of(st.none(), st.dates(date(2000, 1, 1), date(2030, 1, 1)).map(str)),
    "stage": st.sampled_from(["a", "a2", "b", None]),
    "tags": st.one_of(
        st.none(), st.sets(st.sampled_from("xyz"), min_size=1).map(lambda s: tuple(sorted(s)))
    ),
    "company": st.sampled_from(["Acme", "Globex", None]),
    "pct": st.one_of(st.none(), st.integers(0, 100).map(Decimal)),
    "p_sf": _choice,
    "p_hs": _choice,
    "a_sf": _choice,
    "a_hs": _choice,
    "skip": _choice,
}


@st.composite
def records(draw: st.DrawFn) -> FieldValues:
    keys = draw(st.sets(st.sampled_from(sorted(FIELD_VALUES)), min_size=1))
    return {key: draw(FIELD_VALUES[key]) for key in sorted(keys)}
