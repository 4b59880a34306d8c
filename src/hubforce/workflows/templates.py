"""Field templating from a record: `"{firstname} {lastname}"`, safely.

Only plain field names are allowed between braces (no attribute access, indexing, conversions
or format specs, unlike `str.format`), so a template can never reach anything but the record's
values. `{{` and `}}` write literal braces; a missing or empty field renders as "", or as the
fallback after a bar: `{company|Unknown}` (Salesforce requires a Lead's LastName and Company).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_.]*)(?:\|([^{}]*))?\}|[{}]")


class TemplateError(ValueError):
    """A template with a stray brace or a placeholder that is not a plain field name."""


def template_fields(template: str) -> list[str]:
    """The field names a template reads, in order; raises TemplateError if malformed."""
    names: list[str] = []
    for match in _FIELD.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if match.group(1) is None:
            raise TemplateError(
                f"template {template!r}: stray {token!r} at {match.start()}; "
                "use {field} for a value and {{ or }} for a literal brace"
            )
        names.append(match.group(1))
    return names


def render(template: str, record: Mapping[str, Any]) -> str:
    """The template with every `{field}` replaced by the record's value."""
    template_fields(template)  # validate first: a bad template never half-renders

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        value = record.get(match.group(1))
        text = "" if value is None else str(value)
        return text if text.strip() else (match.group(2) or "")

    return _FIELD.sub(substitute, template).strip()


def render_values(values: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """Render every string value as a template; other values (numbers, booleans) pass as-is."""
    return {
        key: render(value, record) if isinstance(value, str) else value
        for key, value in values.items()
    }
