"""`rules.decide`: the winner per rule, including unknown and blank values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubforce.sync.model import Rule, Side
from hubforce.sync.rules import UNKNOWN, decide

HS, SF = Side.HUBSPOT, Side.SALESFORCE


@pytest.mark.parametrize(
    ("rule", "hubspot", "salesforce", "winner"),
    [
        (Rule.PREFER_SALESFORCE_UNLESS_BLANK, "a", "b", SF),
        (Rule.PREFER_SALESFORCE_UNLESS_BLANK, "a", None, HS),
        (Rule.PREFER_SALESFORCE_UNLESS_BLANK, "a", (), HS),
        (Rule.PREFER_HUBSPOT_UNLESS_BLANK, "a", "b", HS),
        (Rule.PREFER_HUBSPOT_UNLESS_BLANK, None, "b", SF),
        (Rule.ALWAYS_SALESFORCE, "a", None, SF),
        (Rule.ALWAYS_HUBSPOT, None, "b", HS),
    ],
)
def test_winner_by_rule(rule: Rule, hubspot: object, salesforce: object, winner: Side) -> None:
    decision = decide(rule, hubspot, salesforce, True, True, 1, 2)  # type: ignore[arg-type]
    assert decision is not None
    assert decision[0] is winner


@pytest.mark.parametrize(
    ("rule", "hubspot", "salesforce"),
    [
        (Rule.ALWAYS_SALESFORCE, "a", UNKNOWN),
        (Rule.ALWAYS_HUBSPOT, UNKNOWN, "b"),
        (Rule.PREFER_SALESFORCE_UNLESS_BLANK, "a", UNKNOWN),
        (Rule.PREFER_HUBSPOT_UNLESS_BLANK, None, UNKNOWN),
        (Rule.DONT_SYNC, "a", "b"),
    ],
)
def test_rule_waits_when_the_value_it_needs_is_unknown(
    rule: Rule, hubspot: object, salesforce: object
) -> None:
    assert decide(rule, hubspot, salesforce, True, False, 1, 2) is None  # type: ignore[arg-type]


def test_two_way_uses_the_only_known_value() -> None:
    assert decide(Rule.TWO_WAY, "a", UNKNOWN, True, False, 1, 2) == (HS, "changed in HubSpot")
    decision = decide(Rule.TWO_WAY, UNKNOWN, "b", True, True, 9, 2)
    assert decision is not None and decision[0] is SF


@given(st.integers(), st.integers())
def test_two_way_conflict_is_newest_wins_with_salesforce_on_ties(hs_at: int, sf_at: int) -> None:
    decision = decide(Rule.TWO_WAY, "a", "b", True, True, hs_at, sf_at)
    assert decision is not None
    assert decision[0] is (HS if hs_at > sf_at else SF)


@given(st.integers(), st.integers(), st.sampled_from([None, ()]), st.booleans())
def test_two_way_first_comparison_fills_a_blank_whichever_is_newer(
    hs_at: int, sf_at: int, blank: tuple[()] | None, hubspot_blank: bool
) -> None:
    hubspot, salesforce = (blank, "kept") if hubspot_blank else ("kept", blank)
    decision = decide(Rule.TWO_WAY, hubspot, salesforce, True, True, hs_at, sf_at, first=True)
    assert decision is not None
    assert decision[0] is (SF if hubspot_blank else HS)


def test_two_way_blank_wins_by_date_once_a_value_was_agreed() -> None:
    # After a first agreement a blanking is a real edit: newest wins, as for any value.
    decision = decide(Rule.TWO_WAY, None, "old", True, True, 9, 2)
    assert decision == (HS, "newest change (HubSpot)")
