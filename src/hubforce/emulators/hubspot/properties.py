"""Property definitions and value validation (the default catalogue is in `catalogue.py`).

Values are strings on the wire. `normalize_value` checks one value against its definition and
returns the stored form (emails lowercased, dates `YYYY-MM-DD`, datetimes ISO-8601 with millis),
or a failure dict in HubSpot's per-property format (`error`, `message`, `name`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

OBJECT_TYPES = {"contacts": "0-1", "companies": "0-2", "deals": "0-3"}
TYPE_IDS = {v: k for k, v in OBJECT_TYPES.items()}
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
DEFAULT_PROPERTIES = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
}
VALUE_TYPES = {"bool", "date", "datetime", "enumeration", "number", "phone_number", "string"}
FIELD_TYPES = {
    "booleancheckbox",
    "calculation_equation",
    "checkbox",
    "date",
    "file",
    "html",
    "number",
    "phonenumber",
    "radio",
    "select",
    "text",
    "textarea",
}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NUMBER_RE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


@dataclass
class PropertyDef:
    """One property definition, as the Properties API shows it."""

    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    group_name: str = "contactinformation"
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    read_only_value: bool = False
    has_unique_value: bool = False
    hubspot_defined: bool = True
    external_options: bool = False
    referenced_object_type: str | None = None
    calculated: bool = False
    display_order: int = -1
    created_at: str = "2019-08-06T02:41:08.029Z"
    updated_at: str = "2019-08-06T02:41:08.029Z"

    def option_values(self) -> list[str]:
        """The allowed enumeration values, in display order."""
        return [str(o["value"]) for o in self.options]


def failure(name: str, error: str, message: str) -> dict[str, Any]:
    """One per-property failure in HubSpot's format."""
    return {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
    }


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as HubSpot's ISO-8601 UTC timestamp with millis."""
    return (
        datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    )


def parse_datetime_ms(value: str) -> int | None:
    """Epoch ms from an ms-epoch string, an ISO datetime or a date; None if unreadable."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return int(
                datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC).timestamp()
                * 1000
            )
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _normalize_date(prop: PropertyDef, value: str) -> str | dict[str, Any]:
    ms = parse_datetime_ms(value)
    if ms is None:
        return failure(prop.name, "INVALID_DATE", f"{value} is not a valid date for {prop.name}")
    if ms % 86_400_000:
        return failure(
            prop.name,
            "INVALID_DATE",
            f"{value} is at {iso_ms(ms)[11:23]} UTC; date property {prop.name} needs midnight UTC",
        )
    return iso_ms(ms)[:10]


def normalize_value(
    prop: PropertyDef, value: object, *, stages: tuple[str, list[str]] | None = None
) -> str | dict[str, Any]:
    """The stored string for `value`, or a failure dict saying why it is invalid."""
    if value is None:
        return ""
    if not isinstance(value, str):
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        else:
            return failure(
                prop.name, "INVALID_TYPE", f"{value!r} is not a valid value for {prop.name}"
            )
    if value == "":
        return ""
    kind = prop.type
    if kind != "string" and value != value.strip():
        return failure(
            prop.name, "INVALID_WHITESPACE", f"{value!r} has leading or trailing whitespace"
        )
    if kind == "string":
        if prop.name in ("email", "hs_additional_emails") and prop.hubspot_defined:
            if prop.name == "email" and not EMAIL_RE.match(value.strip()):
                return failure(prop.name, "INVALID_EMAIL", f"Email address {value} is invalid")
            return value.strip().lower()
        return value
    if kind == "number":
        if not NUMBER_RE.match(value):
            return failure(
                prop.name,
                "INVALID_INTEGER" if "." not in value else "INVALID_FLOAT",
                f"{value} is not a valid number for {prop.name}",
            )
        try:
            Decimal(value)
        except InvalidOperation:
            return failure(prop.name, "INVALID_FLOAT", f"{value} is not a valid number")
        return value
    if kind == "bool":
        if value.lower() not in ("true", "false"):
            return failure(
                prop.name, "INVALID_BOOLEAN", f"{value} is not a valid boolean; use true or false"
            )
        return value.lower()
    if kind == "date":
        return _normalize_date(prop, value)
    if kind == "datetime":
        ms = parse_datetime_ms(value)
        if ms is None:
            return failure(
                prop.name, "INVALID_DATETIME", f"{value} is not a valid datetime for {prop.name}"
            )
        return iso_ms(ms)
    if kind == "enumeration":
        if prop.name == "dealstage" and stages is not None:
            pipeline_id, stage_ids = stages
            if value not in stage_ids:
                return failure(
                    prop.name,
                    "INVALID_OPTION",
                    f"{value} is not a valid pipeline stage ID. Valid options are: "
                    f"pipelineId={pipeline_id} : [{', '.join(stage_ids)}]",
                )
            return value
        if prop.external_options:
            return value
        allowed = prop.option_values()
        parts = value.split(";") if prop.field_type == "checkbox" else [value]
        bad = [p for p in parts if p not in allowed]
        if bad:
            return failure(
                prop.name,
                "INVALID_OPTION",
                f"{bad[0]} was not one of the allowed options: [{', '.join(allowed)}]",
            )
        return value
    return value  # phone_number and anything newer: stored as given
