"""Grouping of record failures by cause: the message with its record-specific parts masked.

"Email: invalid email address: ada@x" and "...: bob@y" are one cause (one fix, one Slack
message, one line in `hubforce errors`); "Required fields are missing: [Company]" and
"...: [LastName]" are two. The group key is pair + category + API code + masked message.
"""

from __future__ import annotations

import hashlib
import re

_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    # Salesforce ids: 15 or 18 alphanumerics with at least one digit.
    (re.compile(r"\b(?=[A-Za-z]*\d)[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?\b"), "<id>"),
    (re.compile(r"\d+"), "<n>"),
    (re.compile(r"\s+"), " "),
)
# "Email: invalid email address: not an email" -> the value after the last ": " is the
# record's own; a list or JSON tail ("missing: [Company]") names the cause and is kept.
_ECHOED_TAIL = re.compile(r"^(.*\S: )([^\[{:]{1,80})$")


def normalise_message(message: str) -> str:
    """The message with record-specific parts masked, so failures of one cause group together."""
    text = message.strip()
    tail = _ECHOED_TAIL.match(text)
    if tail is not None and not tail.group(2).rstrip().endswith("."):
        text = tail.group(1) + "<value>"
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text.strip()


def group_key(pair: str, category: str, api_code: str | None, pattern: str) -> str:
    """Stable 40-hex key of a failure group."""
    raw = "\x1f".join((pair, str(category), api_code or "", pattern))
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()
