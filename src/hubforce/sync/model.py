"""The core words of the pure sync layer: sides, record references, changes, links, snapshots.

Everything here is a plain slots dataclass or a StrEnum, so that the planner can chew through
tens of thousands of records a second and the store can persist them as rows and JSON.

Canonical values (see `hubforce.sync.values`) are one of::

    None                 blank ("" and null are the same blank)
    str                  text, e-mail (lower-cased), picklist value, ISO date, record id
    bool                 checkbox
    int                  datetime as UTC epoch milliseconds
    Decimal              number, currency, percent (normalised, no float noise)
    tuple[str, ...]      multi-select, sorted and de-duplicated

Field keys: every mapped field of an object pair has one key, the HubSpot property name (or
`assoc:<pair>` for an association), used by changes, snapshots and operations alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TypeAlias

CanonicalValue: TypeAlias = str | bool | int | Decimal | tuple[str, ...] | None
"""A field value in the representation both sides share; see the module docstring."""

FieldValues: TypeAlias = dict[str, CanonicalValue]
"""Canonical values by field key."""


class Side(StrEnum):
    """One of the two systems kept in sync."""

    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"

    @property
    def other(self) -> Side:
        """The opposite side."""
        return Side.SALESFORCE if self is Side.HUBSPOT else Side.HUBSPOT


class Rule(StrEnum):
    """Which side's value a field takes (HubSpot's native connector vocabulary)."""

    TWO_WAY = "two_way"
    PREFER_SALESFORCE_UNLESS_BLANK = "prefer_salesforce_unless_blank"
    ALWAYS_SALESFORCE = "always_salesforce"
    ALWAYS_HUBSPOT = "always_hubspot"
    PREFER_HUBSPOT_UNLESS_BLANK = "prefer_hubspot_unless_blank"
    DONT_SYNC = "dont_sync"


class DeletePolicy(StrEnum):
    """What a delete on one side does to the linked record on the other side."""

    IGNORE = "ignore"  # leave the other record and the link alone
    UNLINK = "unlink"  # forget the link, leave the other record alone
    ARCHIVE = "archive"  # archive (HubSpot) / delete (Salesforce) the other record, then unlink


@dataclass(frozen=True, slots=True)
class RecordRef:
    """One record on one side: `object_type` is the vendor's type ("contacts", "Lead", ...)."""

    side: Side
    object_type: str
    id: str


@dataclass(slots=True)
class Change:
    """One record read from one side, mapped to canonical values by `mapping.to_change`.

    `values` holds only the fields that could be read and converted: a missing key means "no
    information" (the planner then trusts the snapshot), never "blank". `field_modified_at`
    gives per-field change times in epoch ms where the side tells them; others fall back to
    `modified_at`. `included` is False when the inclusion filter rejects the record.
    `converted_to` is set for a converted Salesforce Lead (the Contact it became).
    """

    ref: RecordRef
    values: FieldValues
    modified_at: int
    field_modified_at: dict[str, int] = field(default_factory=dict)
    deleted: bool = False
    included: bool = True
    converted_to: RecordRef | None = None

    def modified_at_of(self, key: str) -> int:
        """When field `key` last changed on this side (epoch ms)."""
        return self.field_modified_at.get(key, self.modified_at)


@dataclass(slots=True)
class Snapshot:
    """What each side held for each field after the last sync, in canonical values.

    Kept per side because a side may legitimately hold a different image of the same value
    (a text truncated to Salesforce's length, a default filled in for a required field): each
    side's change is detected against its own last image, so neither image ever echoes.
    """

    hubspot: FieldValues = field(default_factory=dict)
    salesforce: FieldValues = field(default_factory=dict)

    def of(self, side: Side) -> FieldValues:
        """The values last held by `side`."""
        return self.hubspot if side is Side.HUBSPOT else self.salesforce


@dataclass(slots=True)
class Link:
    """A HubSpot record and the one Salesforce record it is kept in sync with.

    `snapshot` is None for a link just made by matching and never synced: every field is then
    compared side against side and differences are settled by the field's rule.
    """

    pair: str
    hubspot_id: str
    salesforce_type: str
    salesforce_id: str
    snapshot: Snapshot | None = None

    def ref(self, side: Side, hubspot_type: str) -> RecordRef:
        """The reference of this link's record on `side`."""
        if side is Side.HUBSPOT:
            return RecordRef(Side.HUBSPOT, hubspot_type, self.hubspot_id)
        return RecordRef(Side.SALESFORCE, self.salesforce_type, self.salesforce_id)


@dataclass(frozen=True, slots=True)
class Conflict:
    """A field where the rule chose one side's value over another's; written to the audit.

    `kind` is "conflict" when both sides changed to different values (or a new link differs)
    and "override" when a one-sided change was reverted because the rule forbids it.
    """

    field: str
    hubspot_value: CanonicalValue
    salesforce_value: CanonicalValue
    winner: Side
    rule: Rule
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class Note:
    """Something a conversion did that the user should know (e.g. a truncated text)."""

    field: str
    message: str
