"""The checks a write goes through before any rule runs: writable fields, value formats,
references, computed fields, required fields and unique values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hubforce.emulators.salesforce.exceptions import (
    DuplicateValue,
    InvalidCrossReferenceKey,
    InvalidFieldForInsertUpdate,
    MalformedId,
    RequiredFieldMissing,
)
from hubforce.emulators.salesforce.ids import to18
from hubforce.emulators.salesforce.schema import OPPORTUNITY_STAGES, SObjectSchema
from hubforce.emulators.salesforce.values import coerce_value

if TYPE_CHECKING:
    from hubforce.emulators.salesforce.models import Org

Row = dict[str, Any]
_STAGES = {s[0]: s for s in OPPORTUNITY_STAGES}


def clean_values(org: Org, obj: SObjectSchema, values: Mapping[str, Any], *, creating: bool) -> Row:
    """Written values keyed by API name, coerced and checked field by field."""
    clean: Row = {}
    for key, value in values.items():
        if key == "attributes":
            continue
        fs = obj.field(key)
        if not (fs.createable if creating else fs.updateable):
            raise InvalidFieldForInsertUpdate(
                f"Unable to create/update fields: {fs.name}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                [fs.name],
            )
        coerced = coerce_value(fs, value)
        if fs.type == "reference" and coerced is not None:
            coerced = check_reference(org, fs.name, fs.label, fs.reference_to, coerced)
        clean[fs.name] = coerced
    return clean


def check_reference(org: Org, name: str, label: str, targets: list[str], value: str) -> str:
    """The 18-char id a lookup points at; it must be a live record of an allowed type."""
    try:
        rid = to18(value)
    except MalformedId as exc:
        raise MalformedId(f"{label}: id value of incorrect type: {value}", [name]) from exc
    target = org.sobject_of_id(rid)
    row = org.records[target.name].get(rid) if target and target.name in targets else None
    if row is None or row["IsDeleted"]:
        raise InvalidCrossReferenceKey(f"{label}: invalid cross reference id", [name])
    return rid


def complete_row(obj: SObjectSchema, row: Row) -> None:
    """Computed fields (Name, Opportunity stage flags), then the required-field check."""
    if "Name" in obj.fields and obj.fields["Name"].calculated:
        row["Name"] = " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
    if obj.name == "Opportunity" and row.get("StageName") in _STAGES:
        _, probability, closed, won, forecast = _STAGES[row["StageName"]]
        row["IsClosed"], row["IsWon"], row["ForecastCategoryName"] = closed, won, forecast
        if row.get("Probability") is None:
            row["Probability"] = probability
    missing = [
        f.name
        for f in obj.fields.values()
        if not f.nillable and f.createable and row.get(f.name) is None
    ]
    if missing:
        raise RequiredFieldMissing(f"Required fields are missing: [{', '.join(missing)}]", missing)


def check_unique(org: Org, obj: SObjectSchema, row: Row, exclude: str | None) -> None:
    """DUPLICATE_VALUE when a unique field's value is already held by another live record."""
    for f in obj.fields.values():
        value = row.get(f.name)
        if f.unique and value is not None and value != "":
            others = org.lookup(obj.name, f.name, str(value).lower()) - {exclude}
            if others:
                raise DuplicateValue(
                    f"duplicate value found: {f.name} duplicates value on record with id: "
                    f"{sorted(others)[0]}",
                    [f.name],
                )
