"""Change events as the server sees them, from HubSpot webhooks, outbound messages or hooks.

`ChangeEvent` is the one shape every intake produces; workflow triggers and the sync batcher
read only this. `parse_hubspot_batch` turns a webhook body into events or raises
`MalformedPayload` (answered with 400).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hubforce.sync.model import Side

# HubSpot subscription object names -> the engine's object type names.
HUBSPOT_OBJECT_TYPES = {"contact": "contacts", "company": "companies", "deal": "deals"}


class MalformedPayload(ValueError):
    """A body that is not the JSON shape the sender documents."""


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change to one record on one side."""

    side: Side
    object_type: str  # "contacts" on HubSpot, "Lead" on Salesforce
    object_id: str
    kind: str  # creation, propertyChange, deletion, merge, restore, associationChange, updated
    occurred_at: int  # epoch ms
    event_id: str
    property_name: str | None = None
    property_value: str | None = None
    payload: dict[str, Any] | None = None

    @property
    def dedupe_key(self) -> tuple[str, ...]:
        """Identity of the event across redeliveries (eventId alone is not unique)."""
        return (
            self.side.value,
            self.event_id,
            self.object_type,
            self.object_id,
            self.kind,
            self.property_name or "",
            str(self.occurred_at),
        )


def iso_ms(value: object) -> int | None:
    """Epoch ms of a Salesforce ISO datetime ("2026-01-02T03:04:05.000+0000"), None if not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _required(item: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = item.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedPayload(
            f"event field {key!r} missing or not {getattr(kind, '__name__', kind)}"
        )
    return value


def parse_hubspot_event(item: Any) -> ChangeEvent | None:
    """One webhook event as a ChangeEvent; None for object types the engine does not sync."""
    if not isinstance(item, dict):
        raise MalformedPayload("each event must be a JSON object")
    subscription = _required(item, "subscriptionType", str)
    obj, _, kind = subscription.partition(".")
    event_id = _required(item, "eventId", (int, str))
    occurred_at = _required(item, "occurredAt", int)
    object_id = _required(item, "objectId", (int, str))
    if obj not in HUBSPOT_OBJECT_TYPES or not kind:
        return None
    name = item.get("propertyName")
    value = item.get("propertyValue")
    return ChangeEvent(
        side=Side.HUBSPOT,
        object_type=HUBSPOT_OBJECT_TYPES[obj],
        object_id=str(object_id),
        kind=kind,
        occurred_at=occurred_at,
        event_id=str(event_id),
        property_name=name if isinstance(name, str) else None,
        property_value=None if value is None else str(value),
        payload=item,
    )


def parse_hubspot_batch(body: bytes) -> list[ChangeEvent]:
    """A webhook POST body (a JSON array of events, at most 100) as events."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedPayload(f"body is not JSON: {exc.__class__.__name__}") from None
    if not isinstance(data, list):
        raise MalformedPayload("body must be a JSON array of events")
    if len(data) > 1000:
        raise MalformedPayload("too many events in one request")
    events = [parse_hubspot_event(item) for item in data]
    return [event for event in events if event is not None]
