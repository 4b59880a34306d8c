"""Per-field rules: which side's value a field ends with, given what changed.

Every rule except `dont_sync` converges: after a plan is applied both sides hold the winner's
value (or its image, see `mapping.fit`).

- `two_way`: a one-sided change propagates (a blanking too); when both sides changed to
  different values the newest field timestamp wins, and a tie goes to Salesforce so the answer
  never depends on input order. At a link's first comparison (no value was ever agreed for the
  field) a blank never wins against a value: nothing says the blank was meant, so the value
  fills it instead of being erased.
- `always_salesforce` / `always_hubspot`: that side's value, even blank; a change on the other
  side is reverted (an "override", audited with the rule).
- `prefer_salesforce_unless_blank` / `prefer_hubspot_unless_blank`: that side's value unless it
  is blank, then the other side's value (which also fills the blank side).
"""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal, TypeAlias

from hubforce.sync.model import CanonicalValue, Rule, Side

HUBSPOT: Final = Side.HUBSPOT
SALESFORCE: Final = Side.SALESFORCE


class Unknown(Enum):
    """The value a side holds is not known (not read, and not in the snapshot)."""

    UNKNOWN = "unknown"


UNKNOWN: Final = Unknown.UNKNOWN
"""Marks a side's value as not known: neither read nor remembered."""

Current: TypeAlias = CanonicalValue | Literal[Unknown.UNKNOWN]
"""What a side holds for a field as far as the planner knows."""


def decide(
    rule: Rule,
    hubspot: Current,
    salesforce: Current,
    hubspot_changed: bool,
    salesforce_changed: bool,
    hubspot_at: int,
    salesforce_at: int,
    first: bool = False,
) -> tuple[Side, str] | None:
    """The side whose value wins and why, or None when the rule cannot decide yet.

    Called only when at least one side changed. A side whose value is UNKNOWN cannot win;
    when the rule needs it (e.g. always_salesforce with Salesforce unknown) the answer is None
    and the field waits until that side is read. `first`: no value was ever agreed for the
    field on this link (a new match), so under two_way a value beats a blank.
    """
    hs_known = hubspot is not UNKNOWN
    sf_known = salesforce is not UNKNOWN
    if rule is Rule.TWO_WAY:
        if hubspot_changed and not salesforce_changed:
            return (HUBSPOT, "changed in HubSpot") if hs_known else None
        if salesforce_changed and not hubspot_changed:
            return (SALESFORCE, "changed in Salesforce") if sf_known else None
        if not sf_known:
            return (HUBSPOT, "only HubSpot's value is known") if hs_known else None
        if not hs_known:
            return SALESFORCE, "only Salesforce's value is known"
        if first and _blank(hubspot) != _blank(salesforce):
            if _blank(hubspot):
                return SALESFORCE, "fills HubSpot's blank"
            return HUBSPOT, "fills Salesforce's blank"
        if hubspot_at > salesforce_at:
            return HUBSPOT, "newest change (HubSpot)"
        if salesforce_at > hubspot_at:
            return SALESFORCE, "newest change (Salesforce)"
        return SALESFORCE, "changed at the same time; ties go to Salesforce"
    if rule is Rule.ALWAYS_SALESFORCE:
        return (SALESFORCE, "always Salesforce") if sf_known else None
    if rule is Rule.ALWAYS_HUBSPOT:
        return (HUBSPOT, "always HubSpot") if hs_known else None
    if rule is Rule.PREFER_SALESFORCE_UNLESS_BLANK:
        return _prefer(SALESFORCE, salesforce, hubspot)
    if rule is Rule.PREFER_HUBSPOT_UNLESS_BLANK:
        return _prefer(HUBSPOT, hubspot, salesforce)
    return None  # dont_sync


def _prefer(side: Side, preferred: Current, other: Current) -> tuple[Side, str] | None:
    name = "Salesforce" if side is SALESFORCE else "HubSpot"
    if preferred is UNKNOWN:
        return None
    if not _blank(preferred):
        return side, f"prefer {name} unless blank"
    if other is UNKNOWN:
        return None
    return side.other, f"{name} is blank"


def _blank(value: Current) -> bool:
    return value is None or value == ()
