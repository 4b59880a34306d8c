"""Canonical values: one representation per meaning, so that both sides compare equal.

Decisions (documented here because the planner's "no echo" depends on every one of them):

- blank: None, "" and whitespace-only strings are the same blank, represented as None.
- text: surrounding whitespace is stripped and CRLF/CR become LF, because APIs and UIs trim and
  normalise line ends; a whitespace-only edit is not a change worth a write.
- e-mail: stripped and lower-cased; addresses are case-insensitive in practice and HubSpot
  stores them lower-cased, so a case difference must not look like a change.
- picklist values stay case-sensitive (both APIs treat them so).
- number: `Decimal`, normalised; ints, floats (via their shortest repr, so no float noise) and
  decimal strings all convert, so "10" == "10.0" == 10.0. NaN and infinities are refused.
- boolean: True/False; a blank checkbox is False, because a Salesforce checkbox cannot be blank
  and blank-vs-false would otherwise echo forever.
- date: ISO "YYYY-MM-DD"; HubSpot's midnight-UTC epoch milliseconds convert to it.
- datetime: UTC epoch milliseconds (int) from ms strings, ISO-8601 with "Z", offsets or
  Salesforce's "+0000"; a bare date means midnight UTC.
- multi-select: a sorted tuple of distinct option values (";"-joined on both wires).

`encode_value`/`decode_value` make canonical values JSON-safe and back, exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from hubforce.sync.model import CanonicalValue

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS_PER_DAY = 86_400_000
_DIGITS = re.compile(r"^-?\d+$")
_SF_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")

JsonValue = None | str | bool | int | float | list[Any] | dict[str, Any]


class ConversionError(ValueError):
    """A raw value cannot become the canonical kind asked for."""


def is_blank(value: object) -> bool:
    """True for None, "" and whitespace-only strings, and empty multi-selects."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, tuple | list | frozenset | set):
        return len(value) == 0
    return False


def to_string(raw: object) -> str | None:
    """Text: stripped, line ends normalised, blank as None."""
    if type(raw) is str:  # the common case, kept fast
        if "\r" in raw:
            raw = raw.replace("\r\n", "\n").replace("\r", "\n")
        return raw.strip() or None
    if raw is None:
        return None
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, float | int | Decimal):
        number = to_number(raw)
        text = "" if number is None else format_decimal(number)
    else:
        text = str(raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


def to_email(raw: object) -> str | None:
    """E-mail: like text, lower-cased."""
    text = to_string(raw)
    return text.lower() if text is not None else None


def to_number(raw: object) -> Decimal | None:
    """Number: a normalised Decimal; ints, floats and decimal strings alike."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ConversionError(f"{raw!r} is a boolean, not a number")
    if isinstance(raw, Decimal):
        number = raw
    elif isinstance(raw, int):
        number = Decimal(raw)
    elif isinstance(raw, float):
        if not math.isfinite(raw):
            raise ConversionError(f"{raw!r} is not a finite number")
        number = Decimal(repr(raw))
    elif isinstance(raw, str):
        text = raw.strip().replace(",", "")
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ConversionError(f"{raw!r} is not a number") from None
    else:
        raise ConversionError(f"{raw!r} is not a number")
    if not number.is_finite():
        raise ConversionError(f"{raw!r} is not a finite number")
    return _normalise(number)


def _normalise(number: Decimal) -> Decimal:
    # normalize() may give 1E+1 for 10: equal and hash-equal to 10; written out by format_decimal.
    number = number.normalize()
    if number.is_zero():
        return Decimal(0)  # -0 and 0E-5 are plain zero
    return number


def format_decimal(number: Decimal) -> str:
    """A Decimal as plain digits, never in exponent notation ("10", "0.25")."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def to_boolean(raw: object) -> bool:
    """Checkbox: True/False from booleans or "true"/"false"/"1"/"0"/"yes"/"no"; blank is False."""
    if isinstance(raw, bool):
        return raw
    if is_blank(raw):
        return False
    if isinstance(raw, int | Decimal) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in ("true", "1", "yes", "y", "on"):
            return True
        if text in ("false", "0", "no", "n", "off"):
            return False
    raise ConversionError(f"{raw!r} is not a boolean")


def to_datetime_ms(raw: object) -> int | None:
    """Datetime: UTC epoch milliseconds from ms, ISO-8601 (any offset) or a bare date."""
    if is_blank(raw):
        return None
    if isinstance(raw, bool):
        raise ConversionError(f"{raw!r} is not a datetime")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float | Decimal):
        return int(raw)
    if isinstance(raw, datetime):
        moment = raw if raw.tzinfo is not None else raw.replace(tzinfo=UTC)
        return (moment - _EPOCH) // timedelta(milliseconds=1)
    if isinstance(raw, date):
        return (raw - date(1970, 1, 1)).days * _MS_PER_DAY
    if not isinstance(raw, str):
        raise ConversionError(f"{raw!r} is not a datetime")
    text = raw.strip()
    if _DIGITS.match(text):
        return int(text)
    if len(text) == 10:
        return to_datetime_ms(_parse_date(text))
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else _SF_OFFSET.sub(r"\1:\2", text)
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise ConversionError(f"{raw!r} is not a datetime") from None
    return to_datetime_ms(moment)


def to_date(raw: object) -> str | None:
    """Date: ISO "YYYY-MM-DD" from ISO dates, midnight ms (HubSpot) or datetimes (UTC day)."""
    if is_blank(raw):
        return None
    if isinstance(raw, datetime):
        ms = to_datetime_ms(raw)
        assert ms is not None
        return date_from_ms(ms)
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, str) and len(raw.strip()) == 10 and not _DIGITS.match(raw.strip()):
        return _parse_date(raw.strip()).isoformat()
    ms = to_datetime_ms(raw)
    assert ms is not None
    return date_from_ms(ms)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConversionError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def date_from_ms(ms: int) -> str:
    """The UTC calendar day of epoch milliseconds, as ISO."""
    return (date(1970, 1, 1) + timedelta(days=ms // _MS_PER_DAY)).isoformat()


def ms_from_date(iso: str) -> int:
    """Midnight UTC of an ISO day, as epoch milliseconds."""
    return (_parse_date(iso) - date(1970, 1, 1)).days * _MS_PER_DAY


def iso_from_ms(ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with milliseconds and "Z"."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_enumeration(raw: object) -> str | None:
    """Single picklist value: stripped text, case kept."""
    return to_string(raw)


def to_multi(raw: object) -> tuple[str, ...] | None:
    """Multi-select: sorted distinct values from "a;b" strings or sequences; empty is blank."""
    if is_blank(raw):
        return None
    parts: Iterable[object]
    if isinstance(raw, str):
        parts = raw.split(";")
    elif isinstance(raw, list | tuple | set | frozenset):
        parts = raw
    else:
        raise ConversionError(f"{raw!r} is not a multi-select value")
    values = sorted({text for part in parts if (text := to_string(part)) is not None})
    return tuple(values) or None


def encode_value(value: CanonicalValue) -> JsonValue:
    """A canonical value as JSON-safe data (Decimal as {"n": "..."}, tuples as lists)."""
    if isinstance(value, Decimal):
        return {"n": format_decimal(value)}
    if isinstance(value, tuple):
        return list(value)
    return value


def decode_value(data: JsonValue) -> CanonicalValue:
    """The inverse of `encode_value`."""
    if isinstance(data, dict):
        return Decimal(str(data["n"]))
    if isinstance(data, list):
        return tuple(str(item) for item in data)
    if isinstance(data, float):
        return to_number(data)
    return data
