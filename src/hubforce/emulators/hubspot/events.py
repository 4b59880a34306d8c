"""Portal events: what the webhook deliverer (and tests) hear about changes in the portal.

The portal's models emit one `PortalEvent` per change through its `EventBus`; the webhooks module
subscribes and turns them into signed, batched deliveries. Field names follow the webhook
payload (see reference section 9) so that rendering is a plain mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PortalEvent:
    """One change in the portal, e.g. 'contact.propertyChange' on property 'email'."""

    subscription_type: str  # contact.creation, contact.propertyChange, contact.deletion,
    #                         contact.merge, contact.associationChange, company.*, deal.*
    object_id: int
    occurred_at: int  # epoch ms on the emulator clock
    change_source: str = "API"  # CRM_UI, API, FORM, IMPORT, INTEGRATION, ...
    property_name: str | None = None
    property_value: str | None = None
    # merge events
    primary_object_id: int | None = None
    merged_object_ids: tuple[int, ...] = ()
    new_object_id: int | None = None
    # association change events
    association_type: str | None = None  # e.g. CONTACT_TO_COMPANY
    from_object_id: int | None = None
    to_object_id: int | None = None
    association_removed: bool = False
    extra: dict[str, object] = field(default_factory=dict)


EventListener = Callable[[PortalEvent], None]


class EventBus:
    """Synchronous fan-out of portal events to listeners (the deliverer queues them)."""

    def __init__(self) -> None:
        self._listeners: list[EventListener] = []

    def subscribe(self, listener: EventListener) -> None:
        """Call `listener` for every future event."""
        self._listeners.append(listener)

    def emit(self, event: PortalEvent) -> None:
        """Hand `event` to every listener."""
        for listener in self._listeners:
            listener(event)
