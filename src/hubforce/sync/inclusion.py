"""The inclusion filter: which HubSpot records may be pushed to Salesforce.

Conditions read the record's raw HubSpot values (strings), so a property that is not mapped can
still decide, like HubSpot's inclusion list. Comparison is on stripped text; `in`/`eq` are
case-insensitive because users type option labels and values loosely.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubforce.config.model import Condition, InclusionFilter


def is_included(rule: InclusionFilter | None, raw: Mapping[str, Any]) -> bool:
    """True when `raw` passes every `all` condition and one `any` condition (if any given)."""
    if rule is None:
        return True
    if not all(condition_holds(c, raw) for c in rule.all):
        return False
    return not rule.any or any(condition_holds(c, raw) for c in rule.any)


def condition_holds(condition: Condition, raw: Mapping[str, Any]) -> bool:
    """Evaluate one condition against raw HubSpot values."""
    value = raw.get(condition.property)
    text = "" if value is None else str(value).strip()
    folded = text.casefold()
    op = condition.operator
    if op == "is_known":
        return text != ""
    if op == "is_unknown":
        return text == ""
    if op == "eq":
        return folded == (condition.value or "").strip().casefold()
    if op == "neq":
        return folded != (condition.value or "").strip().casefold()
    if op == "contains":
        return (condition.value or "").strip().casefold() in folded
    options = {item.strip().casefold() for item in condition.values}
    # A multi-select matches `in` when any of its options is listed.
    chosen = {part.strip().casefold() for part in text.split(";") if part.strip()}
    hit = bool(chosen & options)
    return hit if op == "in" else not hit
