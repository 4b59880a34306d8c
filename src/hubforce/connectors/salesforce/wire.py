"""Salesforce wire formats: `+0000` datetimes, record JSON with `attributes`, collection bodies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hubforce.connectors.records import RemoteRecord

#: Fields every read asks for: change detection, newest-wins, deletes and merges.
SYSTEM_FIELDS = ("Id", "SystemModstamp", "LastModifiedDate")


def parse_datetime(value: Any) -> int | None:
    """`2013-05-20T20:49:32.000+0000` (or `Z`, `+00:00`) -> epoch ms; None when blank."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def format_datetime(ms: int) -> str:
    """Epoch ms -> Salesforce's `YYYY-MM-DDThh:mm:ss.sss+0000`."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def record_from_wire(obj: Mapping[str, Any], sobject: str | None = None) -> RemoteRecord:
    """A query/retrieve record -> RemoteRecord: modified_at = SystemModstamp, fields stamped
    with LastModifiedDate (Salesforce keeps no per-field times), `attributes` dropped."""
    values = {k: v for k, v in obj.items() if k != "attributes"}
    attributes = obj.get("attributes") or {}
    object_type = sobject or str(attributes.get("type", ""))
    stamp = parse_datetime(values.get("SystemModstamp"))
    edited = parse_datetime(values.get("LastModifiedDate"))
    modified = stamp if stamp is not None else (edited or 0)
    field_times = {} if edited is None else dict.fromkeys(values, edited)
    return RemoteRecord(
        id=str(values.get("Id")),
        values=values,
        modified_at=modified,
        object_type=object_type,
        field_modified_at=field_times,
        deleted=bool(values.get("IsDeleted", False)),
    )


def collection_record(
    sobject: str, values: Mapping[str, Any], record_id: str | None = None
) -> dict[str, Any]:
    """One entry of an sObject Collections body (`attributes.type` + fields [+ id])."""
    body: dict[str, Any] = {"attributes": {"type": sobject}}
    body.update({k: v for k, v in values.items() if k not in ("attributes", "Id", "id")})
    if record_id is not None:
        body["id"] = record_id
    return body
