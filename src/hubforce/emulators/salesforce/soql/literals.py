"""SOQL literals turned into the values the org stores, so filters compare like for like.

The org keeps dateTimes as fixed-width UTC strings 'YYYY-MM-DDTHH:MM:SS.000+0000' and dates as
'YYYY-MM-DD': both order correctly as plain strings, so literals are converted to the same form
once per query instead of parsing every row's value.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_LIKE_ESCAPES = {"%", "_"}


class LiteralError(ValueError):
    """A literal the API would reject; the message is the API's tail text."""


def unescape_string(raw: str, *, for_like: bool = False) -> str:
    """Decode backslash escapes; LIKE keeps `\\%` and `\\_` escaped for the pattern compiler."""
    if "\\" not in raw:
        return raw  # the usual case (ids, e-mails), and long IN lists hold thousands of them
    out: list[str] = []
    chars = iter(raw)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
        elif nxt in _LIKE_ESCAPES and for_like:
            out.append("\\" + nxt)
        elif nxt in _LIKE_ESCAPES:
            out.append(nxt)
        else:
            raise LiteralError(f"Invalid string literal '{raw}'. Illegal escape sequence '\\{nxt}'")
    return "".join(out)


def like_regex(pattern: str) -> re.Pattern[str]:
    """Compile a LIKE pattern (`%` any run, `_` one character, case-insensitive) to a regex."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def wire_datetime(moment: datetime) -> str:
    """Format an aware datetime the way the org stores it."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def datetime_literal(text: str) -> str:
    """Convert `2024-01-01T10:00:00Z` / `...+01:00` / `...-0800` to the stored UTC form."""
    normal = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text.replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(normal)
    except ValueError:
        raise LiteralError(f"line 1:0 no viable alternative at character '{text}'") from None
    return wire_datetime(moment)


def date_literal(text: str) -> str:
    """Validate a `YYYY-MM-DD` literal."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise LiteralError(f"line 1:0 no viable alternative at character '{text}'") from None


def relative_range(name: str, n: int | None, now: datetime) -> tuple[date, date]:
    """The half-open day range [start, end) a relative date literal covers at `now` (UTC)."""
    today = now.astimezone(UTC).date()
    one = timedelta(days=1)
    week_start = today - timedelta(days=(today.weekday() + 1) % 7)  # weeks start on Sunday
    month_start = today.replace(day=1)
    year_start = today.replace(month=1, day=1)
    count = n or 0
    ranges: dict[str, tuple[date, date]] = {
        "TODAY": (today, today + one),
        "YESTERDAY": (today - one, today),
        "TOMORROW": (today + one, today + 2 * one),
        "LAST_WEEK": (week_start - 7 * one, week_start),
        "THIS_WEEK": (week_start, week_start + 7 * one),
        "NEXT_WEEK": (week_start + 7 * one, week_start + 14 * one),
        "LAST_MONTH": (_add_months(month_start, -1), month_start),
        "THIS_MONTH": (month_start, _add_months(month_start, 1)),
        "NEXT_MONTH": (_add_months(month_start, 1), _add_months(month_start, 2)),
        "LAST_90_DAYS": (today - 90 * one, today + one),
        "NEXT_90_DAYS": (today + one, today + 91 * one),
        "LAST_YEAR": (year_start.replace(year=today.year - 1), year_start),
        "THIS_YEAR": (year_start, year_start.replace(year=today.year + 1)),
        "NEXT_YEAR": (
            year_start.replace(year=today.year + 1),
            year_start.replace(year=today.year + 2),
        ),
        # LAST_N_DAYS:n covers the past n days and today; NEXT_N_DAYS:n starts tomorrow.
        "LAST_N_DAYS": (today - count * one, today + one),
        "NEXT_N_DAYS": (today + one, today + (count + 1) * one),
        "N_DAYS_AGO": (today - count * one, today - (count - 1) * one),
        "LAST_N_WEEKS": (week_start - 7 * count * one, week_start),
        "NEXT_N_WEEKS": (week_start + 7 * one, week_start + 7 * (count + 1) * one),
        "LAST_N_MONTHS": (_add_months(month_start, -count), month_start),
        "NEXT_N_MONTHS": (_add_months(month_start, 1), _add_months(month_start, count + 1)),
    }
    return ranges[name]


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    year, month = divmod(index, 12)
    day = min(first_of_month.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


def range_as_datetimes(days: tuple[date, date]) -> tuple[str, str]:
    """A day range as stored-form dateTime bounds (midnight UTC)."""
    start, end = days
    as_dt = [datetime(d.year, d.month, d.day, tzinfo=UTC) for d in (start, end)]
    return wire_datetime(as_dt[0]), wire_datetime(as_dt[1])
