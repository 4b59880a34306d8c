"""What the SOQL engine needs from the org: a schema lookup and parent-record fetches.

Small Protocols keep the engine independent of the org model (and testable with plain fakes);
the emulator's SObjectSchema / FieldSchema satisfy them structurally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Row = Mapping[str, Any]


class FieldLike(Protocol):
    """One field: canonical name, describe type and, for lookups, targets and relationship."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def reference_to(self) -> Sequence[str]: ...

    @property
    def relationship_name(self) -> str | None: ...


class ObjectLike(Protocol):
    """One sObject type with case-insensitive field and relationship lookups."""

    @property
    def name(self) -> str: ...

    def find_field(self, name: str) -> FieldLike | None:
        """The field named `name` (case-insensitive), or None."""
        ...

    def relationship(self, name: str) -> FieldLike | None:
        """The reference field whose relationship name is `name`, or None."""
        ...


SchemaLookup = Callable[[str], ObjectLike | None]
"""Case-insensitive sObject lookup; None when the org has no such type."""

ParentFetch = Callable[[str, str], Row | None]
"""(sObject, id) -> that record's stored values, or None."""


@dataclass(frozen=True)
class Hop:
    """One step up a parent relationship: read `ref_field`, find the id in one of `targets`."""

    relationship: str
    ref_field: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Column:
    """A resolved field path: the relationships to follow and the field at the end."""

    hops: tuple[Hop, ...]
    field: str
    type: str

    @property
    def header(self) -> str:
        """Canonical dotted name, e.g. `Owner.Email` (the Bulk CSV header)."""
        return ".".join([*(h.relationship for h in self.hops), self.field])


def value_kind(field_type: str) -> str:
    """Group describe types by how SOQL compares them."""
    if field_type in ("datetime", "date", "boolean"):
        return field_type
    if field_type in ("double", "currency", "percent", "int"):
        return "number"
    if field_type in ("id", "reference"):
        return "id"
    return "string"
