"""Matching change events against workflow triggers.

HubSpot webhooks name neither the form of a submission nor a property's old value, so:
- a form submission is a change of the contact's `recent_conversion_date` (new on every
  submission, even a repeated one of the same form). Subscribe to `contact.propertyChange` of
  `recent_conversion_date`. Which form it was is confirmed by the engine through the
  submissions API (`workflows/forms.py`); a trigger's optional `form_name` is first checked on
  the record's `recent_conversion_event_name` ("<form name>" or "<page>: <form name>"), see
  `form_matches`, to spare that call for differently named forms;
- "changed from X" compares with the last value this server saw for that record and
  property (`PreviousValues`); when none was seen, a `from` trigger does not fire.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from hubforce.server.events import ChangeEvent
from hubforce.sync.model import Side
from hubforce.workflows.model import (
    FormSubmitted,
    PropertyChanged,
    RecordCreated,
    SalesforceChanged,
    Schedule,
    Trigger,
)

FORM_DATE_PROPERTY = "recent_conversion_date"
FORM_NAME_PROPERTY = "recent_conversion_event_name"


class PreviousValues:
    """The last value seen per (object type, id, property), bounded."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._values: OrderedDict[tuple[str, str, str], str | None] = OrderedDict()

    def swap(self, event: ChangeEvent) -> tuple[bool, str | None]:
        """Record the event's new value; return (known, previous value)."""
        if event.property_name is None:
            return False, None
        key = (event.object_type, event.object_id, event.property_name)
        known = key in self._values
        previous = self._values.get(key)
        self._values[key] = event.property_value
        self._values.move_to_end(key)
        if len(self._values) > self.capacity:
            self._values.popitem(last=False)
        return known, previous


def _is_form(event: ChangeEvent) -> bool:
    return (
        event.object_type == "contacts"
        and event.kind == "propertyChange"
        and event.property_name == FORM_DATE_PROPERTY
        and bool(event.property_value)
    )


def form_matches(trigger: FormSubmitted, record: Mapping[str, Any]) -> bool:
    """False if the record's latest conversion names another form than `form_name` (if set)."""
    if trigger.form_name is None:
        return True
    name = str(record.get(FORM_NAME_PROPERTY) or "")
    return name == trigger.form_name or name.endswith(f": {trigger.form_name}")


def fires(trigger: Trigger, event: ChangeEvent, previous: tuple[bool, str | None]) -> bool:
    """True if `event` fires `trigger` (the trigger's condition is checked later, on the record)."""
    hubspot = event.side is Side.HUBSPOT
    if isinstance(trigger, FormSubmitted):
        return hubspot and _is_form(event)
    if isinstance(trigger, RecordCreated):
        return hubspot and event.object_type == trigger.object_type and event.kind == "creation"
    if isinstance(trigger, PropertyChanged):
        if not hubspot or event.object_type != trigger.object_type:
            return False
        if event.kind != "propertyChange" or event.property_name != trigger.property:
            return False
        if trigger.to is not None and event.property_value != trigger.to:
            return False
        if trigger.from_ is not None:
            known, old = previous
            return known and old == trigger.from_ and old != event.property_value
        return True
    if isinstance(trigger, SalesforceChanged):
        if event.side is not Side.SALESFORCE or event.object_type != trigger.sobject:
            return False
        return trigger.on == "any" or event.kind == trigger.on
    if isinstance(trigger, Schedule):
        return False  # fired by the scheduler, never by a change
    return False


def idempotency_key(workflow: str, event: ChangeEvent) -> str:
    """Same for every redelivery of one change (eventId may differ; the change does not).

    A form run that found its submission uses `forms.submission_key` instead, which the
    catch-up builds too; this key then only records a form event that was skipped.
    """
    return ":".join(
        (
            workflow,
            event.side.value,
            event.object_type,
            event.object_id,
            event.kind,
            event.property_name or "",
            str(event.occurred_at),
        )
    )
