"""A refused update never loses the change: the snapshot stored after it, and which stored
failures a clean record may resolve."""

from __future__ import annotations

from typing import cast

import pytest

from hubforce.config.model import ObjectPairConfig
from hubforce.engine.bookkeeping import gather
from hubforce.engine.context import PairReport
from hubforce.engine.lookup import LinkLookup
from hubforce.engine.writing import RecordOutcome
from hubforce.errors import Category, RecordFailure
from hubforce.store import Store
from hubforce.sync.mapping import PairMapping, compile_pair
from hubforce.sync.model import Change, FieldValues, Link, RecordRef, Side, Snapshot
from hubforce.sync.operations import Update
from hubforce.sync.plan import plan_changes

HS, SF = Side.HUBSPOT, Side.SALESFORCE
REFUSED = RecordFailure.of(Category.VALIDATION_RULE, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "no")


def _mapping() -> PairMapping:
    config = ObjectPairConfig.model_validate(
        {
            "hubspot": "contacts",
            "salesforce": ["Lead"],
            "create_as": "Lead",
            "fields": [
                {"hubspot": "title", "salesforce": "Title"},
                {"hubspot": "city", "salesforce": "City"},
            ],
        }
    )
    return compile_pair("contacts", config)


def _hs(values: FieldValues) -> Change:
    return Change(RecordRef(HS, "contacts", "h1"), values, 1000)


def _sf(values: FieldValues) -> Change:
    return Change(RecordRef(SF, "Lead", "s1"), values, 1000)


def _link(snapshot: Snapshot | None) -> Link:
    return Link("contacts", "h1", "Lead", "s1", snapshot)


AGREED = Snapshot({"title": "CEO", "city": "Oslo"}, {"title": "CEO", "city": "Oslo"})


def _sf_updates(changes: list[Change], link: Link) -> list[FieldValues]:
    plan = plan_changes(_mapping(), changes, [link])
    return [op.values for op in plan.operations(SF) if isinstance(op, Update)]


def test_a_refused_update_is_planned_again_from_the_stored_snapshot() -> None:
    changes = [_hs({"title": "CTO", "city": "Oslo"})]
    [record] = plan_changes(_mapping(), changes, [_link(AGREED)]).records

    stored = record.snapshot_after({SF})

    # Both images keep the value both sides last agreed on, so the HubSpot value still
    # differs from its image and the same update is planned when the record is read again.
    assert stored == AGREED
    assert _sf_updates(changes, _link(stored)) == [{"title": "CTO"}]


def test_only_the_refused_fields_go_back_and_the_accepted_side_keeps_its_write() -> None:
    changes = [_hs({"title": "CTO", "city": "Oslo"}), _sf({"title": "CEO", "city": "Rome"})]
    [record] = plan_changes(_mapping(), changes, [_link(AGREED)]).records
    assert {op.target.side for op in record.operations if isinstance(op, Update)} == {HS, SF}

    stored = record.snapshot_after({SF})

    assert stored == Snapshot({"title": "CEO", "city": "Rome"}, {"title": "CEO", "city": "Rome"})
    # Read again (HubSpot now holds the city written to it): only the refused title is left.
    again = [_hs({"title": "CTO", "city": "Rome"}), _sf({"title": "CEO", "city": "Rome"})]
    assert stored is not None
    assert _sf_updates(again, _link(stored)) == [{"title": "CTO"}]


def test_a_never_synced_link_forgets_the_refused_fields() -> None:
    changes = [_hs({"title": "CTO", "city": "Oslo"}), _sf({"title": "CEO", "city": "Oslo"})]
    [record] = plan_changes(_mapping(), changes, [_link(None)]).records
    assert [op.target.side for op in record.operations if isinstance(op, Update)] == [HS]

    stored = record.snapshot_after({HS})  # both sides differ: compared afresh next time

    assert stored == Snapshot({"city": "Oslo"}, {"city": "Oslo"})


def test_a_refusal_without_updates_keeps_the_planned_snapshot() -> None:
    [record] = plan_changes(_mapping(), [_hs({"title": "CTO"})], [_link(AGREED)]).records
    assert record.snapshot_after({HS}) == record.snapshot


@pytest.mark.parametrize(
    ("read", "resolved_for"),
    [
        (None, {HS, SF}),  # both sides known (settling): every failure of the record
        ({HS: {"h1"}, SF: {"s1"}}, {HS, SF}),
        ({HS: {"h1"}, SF: set()}, {SF}),  # the HubSpot source was read: writes to Salesforce
        ({HS: set(), SF: {"s1"}}, {HS}),  # an unread HubSpot side proves nothing for them
    ],
)
def test_a_clean_record_resolves_only_failures_whose_source_was_read(
    read: dict[Side, set[str]] | None, resolved_for: set[Side]
) -> None:
    mapping = _mapping()
    changes = [_sf({"title": "CEO", "city": "Oslo"})]
    plan = plan_changes(mapping, changes, [_link(AGREED)])
    report = PairReport("contacts")
    lookup = LinkLookup(cast(Store, None))

    book = gather(mapping, plan.records, [RecordOutcome()], None, report, lookup, read)

    assert {side for side, (hs, sf) in book.resolved.items() if hs or sf} == resolved_for
    for side in resolved_for:
        assert book.resolved[side] == (["h1"], ["s1"])


def test_a_refused_record_resolves_nothing_and_stores_the_agreed_snapshot() -> None:
    mapping = _mapping()
    plan = plan_changes(mapping, [_hs({"title": "CTO", "city": "Oslo"})], [_link(AGREED)])
    outcome = RecordOutcome(failed={SF: REFUSED}, operations={SF: "update"})
    report = PairReport("contacts")

    book = gather(
        mapping, plan.records, [outcome], None, report, LinkLookup(cast(Store, None)), None
    )

    assert book.resolved == {HS: ([], []), SF: ([], [])}
    assert book.links["h1"].snapshot == AGREED
    [failure] = book.failures
    assert (failure.side, failure.operation, failure.hubspot_id) == ("salesforce", "update", "h1")
    assert report.failures == {"validation_rule": 1}
