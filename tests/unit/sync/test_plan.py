"""The planner, case by case: every rule with blanks, conflicts, creates, deletes, filters."""

from __future__ import annotations

from typing import Any

import pytest

from hubforce.config.model import Condition, InclusionFilter, ObjectPairConfig
from hubforce.sync.mapping import PairMapping, compile_pair
from hubforce.sync.model import (
    CanonicalValue,
    Change,
    DeletePolicy,
    FieldValues,
    Link,
    RecordRef,
    Rule,
    Side,
    Snapshot,
)
from hubforce.sync.operations import Create, Delete, LinkOnly, Plan, Unlink, Update
from hubforce.sync.plan import plan_changes

HS, SF = Side.HUBSPOT, Side.SALESFORCE


def mapping_for(rule: Rule, **pair: object) -> PairMapping:
    config = ObjectPairConfig.model_validate(
        {
            "hubspot": "contacts",
            "salesforce": ["Lead", "Contact"],
            "create_as": "Lead",
            "fields": [
                {"hubspot": "title", "salesforce": "Title", "rule": rule.value},
                {"hubspot": "city", "salesforce": "City", "max_length": 5},
                {"hubspot": "company", "salesforce": "Company", "objects": ["Lead"]},
            ],
            "defaults": {"Lead": {"Company": "[not provided]"}},
            **pair,
        }
    )
    return compile_pair("contacts", config)


def hs(values: FieldValues, at: int = 1000, **kw: Any) -> Change:
    return Change(RecordRef(HS, "contacts", "h1"), values, at, **kw)


def sf(values: FieldValues, at: int = 1000, **kw: Any) -> Change:
    return Change(RecordRef(SF, "Lead", "s1"), values, at, **kw)


def link(title_hs: CanonicalValue, title_sf: CanonicalValue) -> Link:
    return Link("contacts", "h1", "Lead", "s1", Snapshot({"title": title_hs}, {"title": title_sf}))


def one_update(plan: Plan, side: Side) -> Update:
    updates = [op for op in plan.operations(side) if isinstance(op, Update)]
    assert len(updates) == 1, updates
    return updates[0]


# --- one side changed -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "propagates"),
    [
        (Rule.TWO_WAY, True),
        (Rule.ALWAYS_HUBSPOT, True),
        (Rule.PREFER_HUBSPOT_UNLESS_BLANK, True),
        (Rule.ALWAYS_SALESFORCE, False),
        (Rule.PREFER_SALESFORCE_UNLESS_BLANK, False),
    ],
)
def test_hubspot_change_propagates_or_is_overridden(rule: Rule, propagates: bool) -> None:
    plan = plan_changes(mapping_for(rule), [hs({"title": "CTO"})], [link("CEO", "CEO")])
    record = plan.records[0]
    if propagates:
        update = one_update(plan, SF)
        assert update.values == {"title": "CTO"}
        assert update.previous == {"title": "CEO"}
        assert plan.operations(HS) == []
        assert record.conflicts == []
    else:
        update = one_update(plan, HS)
        assert update.values == {"title": "CEO"}  # the HubSpot edit is reverted
        (conflict,) = record.conflicts
        assert (conflict.kind, conflict.winner, conflict.rule) == ("override", SF, rule)
    assert record.snapshot is not None
    expected = "CTO" if propagates else "CEO"
    assert record.snapshot.hubspot["title"] == record.snapshot.salesforce["title"] == expected


@pytest.mark.parametrize(
    ("rule", "propagates"),
    [
        (Rule.TWO_WAY, True),
        (Rule.ALWAYS_SALESFORCE, True),
        (Rule.PREFER_SALESFORCE_UNLESS_BLANK, True),
        (Rule.ALWAYS_HUBSPOT, False),
        (Rule.PREFER_HUBSPOT_UNLESS_BLANK, False),
    ],
)
def test_salesforce_change_propagates_or_is_overridden(rule: Rule, propagates: bool) -> None:
    plan = plan_changes(mapping_for(rule), [sf({"title": "CTO"})], [link("CEO", "CEO")])
    target = HS if propagates else SF
    assert one_update(plan, target).values == {"title": "CTO" if propagates else "CEO"}


def test_dont_sync_plans_nothing() -> None:
    plan = plan_changes(
        mapping_for(Rule.DONT_SYNC),
        [hs({"title": "CTO"}), sf({"title": "VP"})],
        [link("CEO", "CEO")],
    )
    assert plan.operations(HS) == plan.operations(SF) == []


# --- blanks -------------------------------------------------------------------------------


def test_two_way_blanking_propagates_and_is_reported() -> None:
    plan = plan_changes(mapping_for(Rule.TWO_WAY), [hs({"title": None})], [link("CEO", "CEO")])
    update = one_update(plan, SF)
    assert update.values == {"title": None}
    assert update.blanked == ("title",)
    assert plan.blanks() == [(RecordRef(SF, "Lead", "s1"), "title")]


def test_prefer_salesforce_unless_blank_takes_hubspot_when_salesforce_blanks() -> None:
    plan = plan_changes(
        mapping_for(Rule.PREFER_SALESFORCE_UNLESS_BLANK),
        [sf({"title": None})],
        [link("CEO", "CEO")],
    )
    update = one_update(plan, SF)  # the blank is filled back from HubSpot
    assert update.values == {"title": "CEO"}
    assert plan.operations(HS) == []


def test_prefer_salesforce_unless_blank_fills_a_blank_salesforce_from_hubspot() -> None:
    plan = plan_changes(
        mapping_for(Rule.PREFER_SALESFORCE_UNLESS_BLANK),
        [hs({"title": "CTO"})],
        [link(None, None)],
    )
    assert one_update(plan, SF).values == {"title": "CTO"}


def test_prefer_hubspot_unless_blank_keeps_hubspot_value_over_salesforce_edit() -> None:
    plan = plan_changes(
        mapping_for(Rule.PREFER_HUBSPOT_UNLESS_BLANK),
        [sf({"title": "VP"})],
        [link("CEO", "CEO")],
    )
    assert one_update(plan, SF).values == {"title": "CEO"}


def test_always_salesforce_copies_a_blank_too() -> None:
    plan = plan_changes(
        mapping_for(Rule.ALWAYS_SALESFORCE),
        [sf({"title": None})],
        [link("CEO", "CEO")],
    )
    assert one_update(plan, HS).values == {"title": None}


# --- both sides changed -------------------------------------------------------------------


@pytest.mark.parametrize(("hs_at", "sf_at", "winner"), [(2000, 1000, HS), (1000, 2000, SF)])
def test_two_way_conflict_newest_wins_and_is_audited(hs_at: int, sf_at: int, winner: Side) -> None:
    plan = plan_changes(
        mapping_for(Rule.TWO_WAY),
        [hs({"title": "CTO"}, hs_at), sf({"title": "VP"}, sf_at)],
        [link("CEO", "CEO")],
    )
    (conflict,) = plan.conflicts()
    assert conflict.kind == "conflict"
    assert conflict.winner is winner
    assert conflict.rule is Rule.TWO_WAY
    assert (conflict.hubspot_value, conflict.salesforce_value) == ("CTO", "VP")
    assert conflict.field == "title"
    loser = winner.other
    assert one_update(plan, loser).values == {"title": "CTO" if winner is HS else "VP"}


def test_two_way_tie_goes_to_salesforce_whatever_the_order() -> None:
    changes = [hs({"title": "CTO"}, 5000), sf({"title": "VP"}, 5000)]
    for ordered in (changes, list(reversed(changes))):
        plan = plan_changes(mapping_for(Rule.TWO_WAY), ordered, [link("CEO", "CEO")])
        assert plan.conflicts()[0].winner is SF
        assert one_update(plan, HS).values == {"title": "VP"}


def test_per_field_timestamps_decide_over_record_timestamps() -> None:
    plan = plan_changes(
        mapping_for(Rule.TWO_WAY),
        [hs({"title": "CTO"}, 9000, field_modified_at={"title": 500}), sf({"title": "VP"}, 1000)],
        [link("CEO", "CEO")],
    )
    assert plan.conflicts()[0].winner is SF


def test_both_sides_changed_to_the_same_value_is_no_conflict() -> None:
    plan = plan_changes(
        mapping_for(Rule.TWO_WAY),
        [hs({"title": "CTO"}), sf({"title": "CTO"})],
        [link("CEO", "CEO")],
    )
    record = plan.records[0]
    assert record.conflicts == []
    assert [type(op) for op in record.operations] == [LinkOnly]  # only the snapshot moves
    assert record.snapshot == Snapshot({"title": "CTO"}, {"title": "CTO"})


def test_the_same_batch_read_twice_keeps_the_newest_read() -> None:
    plan = plan_changes(
        mapping_for(Rule.TWO_WAY),
        [hs({"title": "B"}, 2000), hs({"title": "A"}, 1000)],
        [link("CEO", "CEO")],
    )
    assert one_update(plan, SF).values == {"title": "B"}


# --- images: cut texts and defaults ---------------------------------------------------------


def test_text_cut_for_salesforce_is_noted_and_does_not_echo() -> None:
    mapping = mapping_for(Rule.TWO_WAY)
    first = plan_changes(mapping, [hs({"city": "Amsterdam"})], [link("CEO", "CEO")])
    record = first.records[0]
    assert one_update(first, SF).values == {"city": "Amste"}
    assert [note.field for note in record.notes] == ["city"]
    assert record.snapshot is not None
    stored = Link("contacts", "h1", "Lead", "s1", record.snapshot)
    again = plan_changes(
        mapping,
        [hs({"city": "Amsterdam", "title": "CEO"}), sf({"city": "Amste", "title": "CEO"})],
        [stored],
    )
    assert again.operations() == []


def test_blank_required_field_gets_its_default_and_does_not_echo() -> None:
    mapping = mapping_for(Rule.TWO_WAY)
    plan = plan_changes(mapping, [hs({"company": None, "title": "CEO"})], [])
    (create,) = plan.operations(SF)
    assert isinstance(create, Create)
    assert create.values["company"] == "[not provided]"
    snapshot = plan.records[0].snapshot
    assert snapshot is not None
    assert snapshot.hubspot["company"] is None
    assert snapshot.salesforce["company"] == "[not provided]"
    stored = Link("contacts", "h1", "Lead", "s1", snapshot)
    again = plan_changes(
        mapping,
        [hs({"company": None, "title": "CEO"}), sf({"company": "[not provided]", "title": "CEO"})],
        [stored],
    )
    assert again.operations() == []


# --- new links, creates, deletes --------------------------------------------------------------


def test_matched_records_already_equal_are_link_only() -> None:
    fresh = Link("contacts", "h1", "Lead", "s1", None)
    plan = plan_changes(
        mapping_for(Rule.TWO_WAY),
        [hs({"title": "CEO"}), sf({"title": "CEO"})],
        [fresh],
    )
    assert [type(op) for op in plan.operations()] == [LinkOnly]


def test_matched_records_that_differ_are_settled_by_the_rule() -> None:
    fresh = Link("contacts", "h1", "Lead", "s1", None)
    plan = plan_changes(
        mapping_for(Rule.ALWAYS_HUBSPOT),
        [hs({"title": "CEO"}, 1000), sf({"title": "VP"}, 9000)],
        [fresh],
    )
    assert one_update(plan, SF).values == {"title": "CEO"}
    assert plan.conflicts()[0].rule is Rule.ALWAYS_HUBSPOT


def test_a_new_match_fills_a_blank_instead_of_erasing_the_value() -> None:
    # The newer HubSpot record is blank: nothing says the blank was meant, so the value stays.
    fresh = Link("contacts", "h1", "Lead", "s1", None)
    plan = plan_changes(
        mapping_for(Rule.TWO_WAY),
        [hs({"title": None}, 9000), sf({"title": "VP"}, 1000)],
        [fresh],
    )
    assert one_update(plan, HS).values == {"title": "VP"}
    assert not any(isinstance(op, Update) for op in plan.operations(SF))


def test_unlinked_hubspot_record_becomes_a_lead_with_assignment_flag() -> None:
    mapping = mapping_for(Rule.TWO_WAY, assign=True)
    plan = plan_changes(mapping, [hs({"title": "CEO", "city": None})], [])
    (create,) = plan.operations(SF)
    assert isinstance(create, Create)
    assert (create.object_type, create.assign, create.source.id) == ("Lead", True, "h1")
    assert create.values == {"title": "CEO", "company": "[not provided]"}  # blanks not sent


def test_unlinked_salesforce_contact_becomes_a_hubspot_contact() -> None:
    change = Change(RecordRef(SF, "Contact", "003x"), {"title": "VP", "company": "X"}, 1000)
    plan = plan_changes(mapping_for(Rule.TWO_WAY), [change], [])
    (create,) = plan.operations(HS)
    assert isinstance(create, Create)
    assert create.values == {"title": "VP"}  # Company is a Lead-only field


def test_excluded_hubspot_record_is_not_created() -> None:
    plan = plan_changes(mapping_for(Rule.TWO_WAY), [hs({"title": "CEO"}, included=False)], [])
    assert plan.operations() == []
    assert plan.records[0].skipped == "excluded by the inclusion filter"


def test_creates_off_for_the_pair() -> None:
    mapping = mapping_for(Rule.TWO_WAY, create_as=None, create_in_hubspot=False)
    plan = plan_changes(mapping, [hs({"title": "A"}), sf({"title": "B"})], [])
    assert plan.operations() == []
    assert all(record.skipped for record in plan.records)


@pytest.mark.parametrize(
    ("policy", "kinds"),
    [
        (DeletePolicy.IGNORE, []),
        (DeletePolicy.UNLINK, [Unlink]),
        (DeletePolicy.ARCHIVE, [Delete, Unlink]),
    ],
)
def test_delete_policy(policy: DeletePolicy, kinds: list[type]) -> None:
    mapping = mapping_for(Rule.TWO_WAY, delete_policy=policy.value)
    plan = plan_changes(mapping, [hs({}, deleted=True)], [link("CEO", "CEO")])
    ops = plan.records[0].operations
    assert [type(op) for op in ops] == kinds
    if policy is DeletePolicy.ARCHIVE:
        delete = ops[0]
        assert isinstance(delete, Delete)
        assert delete.target == RecordRef(SF, "Lead", "s1")


def test_converted_lead_is_not_synced_until_relinked() -> None:
    converted = sf({"title": "VP"}, converted_to=RecordRef(SF, "Contact", "003a"))
    plan = plan_changes(mapping_for(Rule.TWO_WAY), [converted], [link("CEO", "CEO")])
    assert plan.operations() == []
    assert "003a" in plan.records[0].skipped


def test_snapshot_after_a_rejected_side_reverts_both_images() -> None:
    plan = plan_changes(mapping_for(Rule.TWO_WAY), [hs({"title": "CTO"})], [link("CEO", "CEO")])
    record = plan.records[0]
    kept = record.snapshot_after(frozenset({SF}))
    # Both images go back to the agreed value, so HubSpot's CTO reads as a change again.
    assert kept == Snapshot({"title": "CEO"}, {"title": "CEO"})
    assert record.snapshot_after() == Snapshot({"title": "CTO"}, {"title": "CTO"})


def test_inclusion_filter_is_read_from_raw_hubspot_values() -> None:
    from hubforce.sync.mapping import to_change

    rule = InclusionFilter(
        all=[Condition(property="lifecyclestage", operator="in", values=["lead", "customer"])]
    )
    mapping = compile_pair(
        "contacts",
        ObjectPairConfig(hubspot="contacts", salesforce=["Lead"], create_as="Lead", inclusion=rule),
    )
    inside, _ = to_change(mapping, HS, "contacts", "1", {"lifecyclestage": "lead"}, 1)
    outside, _ = to_change(mapping, HS, "contacts", "2", {"lifecyclestage": "other"}, 1)
    assert (inside.included, outside.included) == (True, False)


def test_counts_by_kind_and_side() -> None:
    plan = plan_changes(
        mapping_for(Rule.TWO_WAY),
        [hs({"title": "CTO"}), Change(RecordRef(HS, "contacts", "h9"), {"title": "x"}, 1)],
        [link("CEO", "CEO")],
    )
    assert plan.counts() == {("update", "salesforce"): 1, ("create", "salesforce"): 1}


def test_lead_relinked_to_its_converted_contact_writes_nothing_when_values_agree() -> None:
    from tests.unit.sync.test_mapping import PAIRS

    contacts = PAIRS["contacts"]
    lead_snapshot = Snapshot(
        {"email": "a@x.example", "company": "Acme", "city": "Delft"},
        {"email": "a@x.example", "company": "Acme", "city": "Delft"},
    )
    relinked = Link("contacts", "h1", "Contact", "003a", lead_snapshot)
    contact = Change(
        RecordRef(SF, "Contact", "003a"),
        {"email": "a@x.example", "city": "Delft", "assoc:companies": "9001"},
        5000,
    )
    hubspot = Change(
        RecordRef(HS, "contacts", "h1"),
        {"email": "a@x.example", "company": "Acme", "city": "Delft", "assoc:companies": "9001"},
        4000,
    )
    plan = plan_changes(contacts, [contact, hubspot], [relinked])
    record = plan.records[0]
    assert [type(op) for op in record.operations] == [LinkOnly]
    assert record.snapshot is not None
    assert record.snapshot.salesforce["assoc:companies"] == "9001"
