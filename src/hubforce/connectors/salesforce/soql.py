"""Safe SOQL building: quoted literals, checked identifiers, `IN` lists chunked by size and length.

No SOQL is ever built by string formatting of raw values elsewhere: values go through
`literal()`, names through `identifier()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hubforce.errors import HubforceError

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}

#: Values per `IN (...)` and characters per query: Salesforce caps URI + headers at 16,384 bytes
#: and the query travels URL-encoded, so stay well under it.
IN_MAX_VALUES = 200
QUERY_MAX_CHARS = 6_000


class UnsafeSoql(HubforceError):
    """A name that is not a plain SOQL identifier was about to be put in a query."""


def identifier(name: str) -> str:
    """Return `name` if it is a valid field/object path (`Owner.Email`, `Ext__c`); else raise."""
    if not _IDENTIFIER.match(name):
        raise UnsafeSoql(f"not a valid Salesforce field or object name: {name!r}")
    return name


def quote(value: str) -> str:
    """A SOQL string literal with quotes, backslashes and control characters escaped."""
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in value) + "'"


def datetime_literal(ms: int) -> str:
    """Epoch ms -> unquoted SOQL dateTime literal, floored to the second (`...T10:00:00Z`)."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def literal(value: Any) -> str:
    """Any Python value -> SOQL literal (strings quoted, dates unquoted, None -> null)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return quote(str(value))


def select(
    sobject: str,
    fields: Iterable[str],
    *,
    where: str | None = None,
    order_by: Sequence[str] = (),
    limit: int | None = None,
) -> str:
    """`SELECT a, b FROM X [WHERE ...] [ORDER BY ...] [LIMIT n]` with checked names."""
    names = ", ".join(identifier(f) for f in dict.fromkeys(fields))
    soql = f"SELECT {names} FROM {identifier(sobject)}"
    if where:
        soql += f" WHERE {where}"
    if order_by:
        soql += " ORDER BY " + ", ".join(order_by)
    if limit is not None:
        soql += f" LIMIT {int(limit)}"
    return soql


def in_clause(field: str, values: Sequence[Any]) -> str:
    """`Field IN ('a', 'b')`."""
    return f"{identifier(field)} IN ({', '.join(literal(v) for v in values)})"


def chunk_values(
    values: Sequence[Any],
    *,
    max_values: int = IN_MAX_VALUES,
    max_chars: int = QUERY_MAX_CHARS,
) -> Iterator[list[Any]]:
    """Split `values` so each `IN (...)` list has at most `max_values` items and `max_chars`."""
    chunk: list[Any] = []
    size = 0
    for value in values:
        cost = len(literal(value)) + 2
        if chunk and (len(chunk) >= max_values or size + cost > max_chars):
            yield chunk
            chunk, size = [], 0
        chunk.append(value)
        size += cost
    if chunk:
        yield chunk
