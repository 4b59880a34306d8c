"""Field values: the stored representation and the checks Salesforce applies on write.

Stored values are plain JSON values: str, bool, int/float, None; dates as 'YYYY-MM-DD';
datetimes as the fixed-width wire string 'YYYY-MM-DDTHH:MM:SS.000+0000' (UTC), so they compare
correctly as strings.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from hubforce.emulators.salesforce.exceptions import (
    InvalidEmailAddress,
    InvalidFieldValue,
    InvalidOrNullForRestrictedPicklist,
    JsonParserError,
    StringTooLong,
)
from hubforce.emulators.salesforce.schema import FieldSchema

_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TEXT_TYPES = frozenset(
    {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist"}
)


def wire_datetime(moment: datetime) -> str:
    """A datetime as Salesforce writes it: UTC, second precision, '.000+0000'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 datetime ('Z', '+00:00' or '+0000' offsets); ValueError otherwise."""
    raw = text.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    match = re.search(r"([+-])(\d{2})(\d{2})$", raw)
    if match and raw[-5] in "+-" and raw[-3] != ":":
        raw = raw[:-5] + f"{match.group(1)}{match.group(2)}:{match.group(3)}"
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _deserialize_error(fs: FieldSchema, kind: str, value: Any) -> JsonParserError:
    token = "VALUE_STRING" if isinstance(value, str) else type(value).__name__.upper()
    return JsonParserError(
        f"Cannot deserialize instance of {kind} from {token} value {value} or request may be "
        f"missing a required field",
        [fs.name],
    )


def coerce_value(fs: FieldSchema, value: Any) -> Any:
    """Check and normalise one written value; raise the error Salesforce would."""
    if value is None or (value == "" and fs.type not in ("boolean",)):
        return None
    kind = fs.type
    if kind in _TEXT_TYPES or kind in ("id", "reference"):
        if isinstance(value, bool | list | dict):
            raise _deserialize_error(fs, "string", value)
        text = str(value)
        if kind in _TEXT_TYPES and fs.length and len(text) > fs.length:
            raise StringTooLong(
                f"{fs.label}: data value too large: {text[:40]} (max length={fs.length})",
                [fs.name],
            )
        if kind == "email" and not _EMAIL_RE.match(text):
            raise InvalidEmailAddress(f"{fs.label}: invalid email address: {text}", [fs.name])
        if kind == "picklist" and fs.restricted_picklist and text not in fs.picklist_values:
            raise InvalidOrNullForRestrictedPicklist(
                f"{fs.label}: bad value for restricted picklist field: {text}", [fs.name]
            )
        if kind == "multipicklist" and fs.restricted_picklist:
            for part in text.split(";"):
                if part not in fs.picklist_values:
                    raise InvalidOrNullForRestrictedPicklist(
                        f"{fs.label}: bad value for restricted picklist field: {part}", [fs.name]
                    )
        return text
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _deserialize_error(fs, "boolean", value)
        return value
    if kind in ("int", "double", "currency", "percent"):
        if isinstance(value, bool):
            raise _deserialize_error(fs, "double", value)
        try:
            number = float(value) if isinstance(value, str) else value
        except ValueError as exc:
            raise _deserialize_error(fs, "double", value) from exc
        if not isinstance(number, int | float):
            raise _deserialize_error(fs, "double", value)
        if kind == "int":
            if number != int(number):
                raise InvalidFieldValue(f"{fs.label}: value not of required type: {value}")
            return int(number)
        return float(number) if not isinstance(number, int) else number
    if kind == "date":
        text = str(value)[:10] if isinstance(value, str) else ""
        try:
            if not _DATE_RE.match(text):
                raise ValueError(text)
            date.fromisoformat(text)
        except ValueError as exc:
            raise _deserialize_error(fs, "date", value) from exc
        return text
    if kind == "datetime":
        if not isinstance(value, str):
            raise _deserialize_error(fs, "datetime", value)
        try:
            return wire_datetime(parse_datetime(value))
        except ValueError as exc:
            raise _deserialize_error(fs, "datetime", value) from exc
    raise InvalidFieldValue(f"{fs.label}: unsupported value {value!r}")
