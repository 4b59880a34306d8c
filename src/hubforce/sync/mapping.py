"""Conversions between each side's wire values and canonical values, field by field.

`to_change` reads a record's raw wire values (HubSpot strings, Salesforce JSON) into a canonical
`Change`; `to_wire` writes canonical values back in one side's wire format; `fit` gives the image
a side will hold of a canonical value (a text cut to Salesforce's length, a default for a blank
required field). A value that cannot convert is a `RecordFailure` (type_mismatch, picklist,
association), never an exception. Association fields travel under their `assoc:<type>` key in
both directions: the engine reads and writes HubSpot associations itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from hubforce.config.model import Transform, ValueKind
from hubforce.errors import Category, RecordFailure
from hubforce.sync import values as v
from hubforce.sync.fields import (
    ASSOCIATION_PREFIX,
    READERS,
    DictLookup,
    FieldSpec,
    IdLookup,
    PairMapping,
    canonical,
    compile_pair,
)
from hubforce.sync.inclusion import is_included
from hubforce.sync.model import CanonicalValue, Change, FieldValues, Note, RecordRef, Side

__all__ = [
    "ASSOCIATION_PREFIX",
    "DictLookup",
    "FieldSpec",
    "IdLookup",
    "PairMapping",
    "canonical",
    "compile_pair",
    "fit",
    "to_change",
    "to_wire",
]

_HUNDRED = Decimal(100)
_ABSENT: Any = object()  # a field the record does not carry (distinct from a null value)


def to_change(
    mapping: PairMapping,
    side: Side,
    object_type: str,
    record_id: str,
    raw: Mapping[str, Any],
    modified_at: int,
    *,
    field_modified_at: Mapping[str, int] | None = None,
    deleted: bool = False,
    lookup: IdLookup | None = None,
) -> tuple[Change, list[RecordFailure]]:
    """Read one record's raw values into a canonical `Change` plus the fields that failed.

    A field absent from `raw` (not read), not on `object_type`, or failing to convert is left
    out of `Change.values`, so the planner falls back to the snapshot for it. Owner and
    association fields need `lookup`; without it they are left out.
    """
    values: FieldValues = {}
    stamps: dict[str, int] = {}
    failures: list[RecordFailure] = []
    hubspot = side is Side.HUBSPOT
    for key, name, fast, spec in _readers(mapping, side, object_type):
        given = raw.get(name, _ABSENT)
        if given is _ABSENT:
            continue
        try:
            value = fast(given) if fast is not None else _read(spec, hubspot, given, lookup)
        except _Skip:
            continue
        except v.ConversionError as exc:
            failures.append(_failure(Category.TYPE_MISMATCH, spec, name, str(exc)))
            continue
        except _Refused as exc:
            failures.append(_failure(exc.category, spec, name, exc.message))
            continue
        values[key] = value
        if field_modified_at:
            stamp = field_modified_at.get(name)
            if stamp is not None:
                stamps[key] = stamp
    included = is_included(mapping.inclusion, raw) if hubspot else True
    change = Change(
        ref=RecordRef(side, object_type, record_id),
        values=values,
        modified_at=modified_at,
        field_modified_at=stamps,
        deleted=deleted,
        included=included,
    )
    return change, failures


_Reader = tuple[str, str, Callable[[object], CanonicalValue] | None, FieldSpec]


def _readers(mapping: PairMapping, side: Side, object_type: str) -> list[_Reader]:
    """Per field: key, wire name, and a plain converter when no lookup or table is needed."""
    memo_key = ("readers", side, object_type)
    found: list[_Reader] | None = mapping.memo.get(memo_key)
    if found is None:
        hubspot = side is Side.HUBSPOT
        found = []
        for spec in mapping.fields_for(object_type):
            name = spec.hubspot if hubspot else spec.salesforce_for(object_type)
            plain = (
                spec.kind not in (ValueKind.OWNER, ValueKind.REFERENCE)
                and spec.transform is not Transform.FRACTION_TO_PERCENT
                and (hubspot or not spec.to_hubspot_values)
            )
            found.append((spec.key, name, READERS[spec.kind] if plain else None, spec))
        mapping.memo[memo_key] = found
    return found


def to_wire(
    mapping: PairMapping,
    side: Side,
    object_type: str,
    values: Mapping[str, CanonicalValue],
    *,
    lookup: IdLookup | None = None,
    create: bool = False,
    hubspot_id: str | None = None,
) -> tuple[dict[str, Any], list[RecordFailure], list[Note]]:
    """Canonical values as `side`'s wire fields for `object_type`, plus failures and notes.

    With `create`, the configured defaults for unmapped required fields are added and, when the
    pair has an external-id field and `hubspot_id` is given, the HubSpot id is written to it.
    """
    wire: dict[str, Any] = {}
    failures: list[RecordFailure] = []
    notes: list[Note] = []
    hubspot = side is Side.HUBSPOT
    for key, value in values.items():
        spec = mapping.spec(key)
        if not spec.applies_to(object_type) and not hubspot:
            continue
        name = spec.hubspot if hubspot else spec.salesforce_for(object_type)
        fitted, note = fit(spec, side, object_type, value)
        if note is not None:
            notes.append(note)
        try:
            wire[name] = _write(spec, hubspot, fitted, lookup)
        except _Refused as exc:
            failures.append(_failure(exc.category, spec, name, exc.message))
        except v.ConversionError as exc:
            failures.append(_failure(Category.TYPE_MISMATCH, spec, name, str(exc)))
    if create:
        for name, default in mapping.extra_defaults.get(object_type, {}).items():
            if v.is_blank(wire.get(name)):
                wire[name] = default
        if not hubspot and mapping.external_id and hubspot_id is not None:
            wire[mapping.external_id] = hubspot_id
    return wire, failures, notes


def fit(
    spec: FieldSpec, side: Side, object_type: str, value: CanonicalValue
) -> tuple[CanonicalValue, Note | None]:
    """The image `side` will hold of `value`: cut to length, or a default when blank."""
    if value is None or value == ():
        default = spec.defaults.get(object_type)
        return (default if default is not None else None), None
    if (
        side is Side.SALESFORCE
        and spec.max_length is not None
        and isinstance(value, str)
        and len(value) > spec.max_length
    ):
        cut = value[: spec.max_length].rstrip() or None
        message = f"cut from {len(value)} to {spec.max_length} characters for Salesforce"
        return cut, Note(spec.key, message)
    if (
        side is Side.SALESFORCE
        and spec.kind is ValueKind.DATETIME
        and isinstance(value, int)
        and value % 1000
    ):
        return value - value % 1000, None  # Salesforce keeps datetimes to the second
    if side is Side.SALESFORCE and spec.to_salesforce_values:
        return _round_trip(spec, value), None
    return value, None


def _round_trip(spec: FieldSpec, value: CanonicalValue) -> CanonicalValue:
    """A picklist value as it reads back from Salesforce (many-to-one maps collapse)."""
    out, back = spec.to_salesforce_values, spec.to_hubspot_values
    if isinstance(value, str) and spec.kind is ValueKind.ENUMERATION:
        mapped = out.get(value)
        return back.get(mapped, value) if mapped is not None else value
    if isinstance(value, tuple) and spec.kind is ValueKind.MULTI_ENUMERATION:
        parts = set()
        for part in value:
            mapped = out.get(part)
            parts.add(back.get(mapped, part) if mapped is not None else part)
        return tuple(sorted(parts))
    return value


class _Skip(Exception):
    """The field carries no information (e.g. an id lookup was not given)."""


class _Refused(Exception):
    def __init__(self, category: Category, message: str) -> None:
        super().__init__(message)
        self.category = category
        self.message = message


def _failure(category: Category, spec: FieldSpec, name: str, message: str) -> RecordFailure:
    return RecordFailure.of(
        category, f"HUBFORCE_{category.upper()}", f"{name}: {message}", fields=(name,)
    )


def _read(spec: FieldSpec, hubspot: bool, raw: Any, lookup: IdLookup | None) -> CanonicalValue:
    kind = spec.kind
    if kind is ValueKind.OWNER or kind is ValueKind.REFERENCE:
        ident = v.to_string(raw)
        if ident is None or hubspot:
            return ident
        if lookup is None or spec.ref_pair is None:
            raise _Skip
        found = lookup.to_hubspot(spec.ref_pair, ident)
        if found is None:
            what = "owner" if kind is ValueKind.OWNER else f"{spec.ref_pair} record"
            raise _Refused(Category.ASSOCIATION, f"{ident} has no linked HubSpot {what}")
        return found
    if spec.transform is Transform.FRACTION_TO_PERCENT:
        number = v.to_number(raw)
        return v.to_number(number * _HUNDRED) if (number is not None and hubspot) else number
    value = canonical(kind, raw)
    if hubspot or not spec.to_hubspot_values or value is None:
        return value
    if kind is ValueKind.ENUMERATION:
        return _translate(spec.to_hubspot_values, str(value), spec.salesforce)
    if kind is ValueKind.MULTI_ENUMERATION and isinstance(value, tuple):
        parts = {_translate(spec.to_hubspot_values, part, spec.salesforce) for part in value}
        return tuple(sorted(parts))
    return value


def _translate(table: Mapping[str, str], value: str, name: str) -> str:
    found = table.get(value)
    if found is None:
        raise _Refused(Category.PICKLIST, f"no mapping for picklist value {value!r}")
    return found


def _write(spec: FieldSpec, hubspot: bool, value: CanonicalValue, lookup: IdLookup | None) -> Any:
    kind = spec.kind
    if hubspot:
        return _write_hubspot(spec, value)
    if value is None:
        return None
    if kind is ValueKind.OWNER or kind is ValueKind.REFERENCE:
        if lookup is None or spec.ref_pair is None:
            raise _Refused(Category.ASSOCIATION, "no id lookup given for a linked field")
        found = lookup.to_salesforce(spec.ref_pair, str(value))
        if found is None:
            what = "user" if kind is ValueKind.OWNER else f"{spec.ref_pair} record"
            raise _Refused(Category.ASSOCIATION, f"{value} has no linked Salesforce {what}")
        return found
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if kind is ValueKind.DATE:
        text = str(value)
        if spec.transform is Transform.DATE_TO_DATETIME:
            return v.iso_from_ms(v.ms_from_date(text))
        return text
    if kind is ValueKind.DATETIME and isinstance(value, int) and not isinstance(value, bool):
        return v.iso_from_ms(value)
    if spec.to_salesforce_values and kind is ValueKind.ENUMERATION:
        return _translate(spec.to_salesforce_values, str(value), spec.hubspot)
    if kind is ValueKind.MULTI_ENUMERATION and isinstance(value, tuple):
        table = spec.to_salesforce_values
        parts = [_translate(table, part, spec.hubspot) if table else part for part in value]
        return ";".join(sorted(set(parts)))
    return value


def _write_hubspot(spec: FieldSpec, value: CanonicalValue) -> str:
    if value is None:
        return ""  # an empty string clears a HubSpot property
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if spec.transform is Transform.FRACTION_TO_PERCENT:
            value = value / _HUNDRED
        return v.format_decimal(value)
    if isinstance(value, int):
        return v.iso_from_ms(value)
    if isinstance(value, tuple):
        return ";".join(value)
    if spec.kind is ValueKind.DATE and spec.transform is Transform.DATETIME_TO_DATE:
        return v.iso_from_ms(v.ms_from_date(value))
    return value
