"""HubSpot wire formats: timestamps, record objects, request bodies. Values stay raw strings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from hubforce.connectors.records import RemoteRecord

#: Object type names accepted for the numeric object type ids HubSpot also uses.
OBJECT_TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals"}

#: Default HUBSPOT_DEFINED association type ids (unlabeled), per (from, to).
ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
}


def object_type_name(object_type: str) -> str:
    """ "0-1" -> "contacts"; names pass through."""
    return OBJECT_TYPE_IDS.get(object_type, object_type)


def modified_property(object_type: str) -> str:
    """The last-modified property: `lastmodifieddate` on contacts, `hs_lastmodifieddate` else."""
    return (
        "lastmodifieddate" if object_type_name(object_type) == "contacts" else "hs_lastmodifieddate"
    )


def parse_timestamp(value: Any) -> int | None:
    """ISO-8601 (`2024-01-17T19:55:04.281Z`) or epoch-ms string -> epoch ms; None if blank."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def format_timestamp(ms: int) -> str:
    """Epoch ms -> HubSpot's ISO-8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def history_timestamps(history: Mapping[str, Any] | None) -> dict[str, int]:
    """`propertiesWithHistory` -> newest change time per property (epoch ms)."""
    out: dict[str, int] = {}
    for name, versions in (history or {}).items():
        stamps = [
            parse_timestamp(v.get("timestamp")) for v in versions or () if isinstance(v, dict)
        ]
        known = [s for s in stamps if s is not None]
        if known:
            out[name] = max(known)
    return out


def record_from_wire(obj: Mapping[str, Any], object_type: str) -> RemoteRecord:
    """A `SimplePublicObject` -> RemoteRecord (values untouched, timestamps in ms)."""
    name = object_type_name(object_type)
    values: dict[str, Any] = dict(obj.get("properties") or {})
    modified = parse_timestamp(values.get(modified_property(name)))
    if modified is None:
        modified = parse_timestamp(obj.get("updatedAt")) or 0
    return RemoteRecord(
        id=str(obj["id"]),
        values=values,
        modified_at=modified,
        object_type=name,
        field_modified_at=history_timestamps(obj.get("propertiesWithHistory")),
        deleted=bool(obj.get("archived", False)),
    )


def merged_ids(record: RemoteRecord) -> list[str]:
    """Ids merged into `record` (`hs_merged_object_ids`, semicolon separated)."""
    raw = record.values.get("hs_merged_object_ids") or ""
    return [part for part in str(raw).split(";") if part]


def property_list(properties: Iterable[str], *extra: str) -> list[str]:
    """Requested properties plus the ones the connector always needs, without duplicates."""
    return list(dict.fromkeys([*properties, *extra]))


def stringify(values: Mapping[str, Any]) -> dict[str, str]:
    """Property values as HubSpot wants them on the wire: strings, None as "" (clear)."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def association_specs(pairs: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """[(to_id, type_id)] -> inline `associations` of a create input."""
    return [
        {
            "to": {"id": to_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
        }
        for to_id, type_id in pairs
    ]
