"""Webhook settings (the body of `PUT /__emulator__/webhooks`) and payload rendering.

Rendering follows reference section 9: every event carries eventId, subscriptionId, portalId,
appId, occurredAt, subscriptionType, attemptNumber, objectId and changeSource; property changes
add propertyName/propertyValue, merges add primaryObjectId/mergedObjectIds/newObjectId, and
association changes add associationType/fromObjectId/toObjectId/associationRemoved.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hubforce.emulators.hubspot.events import PortalEvent
from hubforce.emulators.hubspot.signatures import SignatureVersion

OBJECT_TYPES = ("contact", "company", "deal")
EVENT_KINDS = ("creation", "deletion", "propertyChange", "merge", "restore", "associationChange")
SUBSCRIPTION_TYPES = frozenset(
    [f"{obj}.{kind}" for obj in OBJECT_TYPES for kind in EVENT_KINDS] + ["contact.privacyDeletion"]
)
# HubSpot refuses subscriptions to these; a catch-all propertyChange skips them too.
UNSUBSCRIBABLE_PROPERTIES = frozenset(
    {"hs_lastmodifieddate", "lastmodifieddate", "num_unique_conversion_events"}
)
# About ten attempts spread over a day, as HubSpot documents (its delays are randomised).
DEFAULT_RETRY_SCHEDULE = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 14400.0, 21600.0)
DEFAULT_SIGNATURE_VERSIONS: tuple[SignatureVersion, ...] = ("v1", "v3")
_CHANGE_FLAGS = {"creation": "NEW", "deletion": "DELETED", "merge": "MERGED", "restore": "RESTORED"}


class Subscription(BaseModel):
    """One subscription: an event type and, for property changes, the property name."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: int | None = None  # assigned by the emulator when not given
    subscription_type: str = Field(alias="subscriptionType")
    # Emulator convenience: a propertyChange subscription without a name hears every property.
    property_name: str | None = Field(default=None, alias="propertyName")
    active: bool = True

    @field_validator("subscription_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in SUBSCRIPTION_TYPES:
            raise ValueError(f"unknown subscription type {value!r}")
        return value

    @field_validator("property_name")
    @classmethod
    def _subscribable(cls, value: str | None) -> str | None:
        if value in UNSUBSCRIBABLE_PROPERTIES:
            raise ValueError(f"property {value!r} cannot be subscribed to")
        return value

    def matches(self, event: PortalEvent) -> bool:
        """True if this active subscription wants `event`."""
        if not self.active or event.subscription_type != self.subscription_type:
            return False
        if not self.subscription_type.endswith(".propertyChange"):
            return True
        if self.property_name is None:
            return event.property_name not in UNSUBSCRIBABLE_PROPERTIES
        return event.property_name == self.property_name


class WebhookSettings(BaseModel):
    """Where and how the emulator delivers webhooks; every field has a usable default."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    target_url: str | None = Field(default=None, alias="targetUrl")
    app_id: int = Field(default=1160452, alias="appId")
    client_secret: str = Field(default="emulator-client-secret", alias="clientSecret")
    subscriptions: list[Subscription] = Field(default_factory=list)
    max_concurrent: int = Field(default=10, ge=1, le=100, alias="maxConcurrent")
    batch_size: int = Field(default=100, ge=1, le=100, alias="batchSize")
    signature_versions: list[SignatureVersion] = Field(
        default_factory=lambda: list(DEFAULT_SIGNATURE_VERSIONS), alias="signatureVersions"
    )
    # Seconds to wait before retry n (n = 1..len); attempts = len + 1. Emulator-clock seconds.
    retry_schedule: list[float] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE), alias="retrySchedule"
    )
    retry_jitter: float = Field(default=0.25, ge=0.0, le=1.0, alias="retryJitter")
    timeout_seconds: float = Field(default=5.0, gt=0.0, le=60.0, alias="timeoutSeconds")
    flush_interval_ms: int = Field(default=100, ge=10, le=60_000, alias="flushIntervalMs")
    # Unordered delivery: shuffle each batch with this seed (None keeps emission order).
    shuffle_seed: int | None = Field(default=None, alias="shuffleSeed")
    # At-least-once: share of delivered events sent once more, in a later batch.
    duplicate_rate: float = Field(default=0.0, ge=0.0, le=1.0, alias="duplicateRate")

    @field_validator("target_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        # HubSpot insists on https; the emulator also takes http for loopback receivers.
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"targetUrl must be an http(s) URL, got {value!r}")
        return value

    @field_validator("retry_schedule")
    @classmethod
    def _non_negative(cls, value: list[float]) -> list[float]:
        if any(delay < 0 for delay in value) or len(value) > 20:
            raise ValueError("retry delays must be >= 0 seconds, at most 20 of them")
        return value

    @model_validator(mode="after")
    def _one_shared_header(self) -> WebhookSettings:
        if {"v1", "v2"} <= set(self.signature_versions):
            raise ValueError("v1 and v2 both use X-HubSpot-Signature: choose one of them")
        return self

    def assign_subscription_ids(self, first_id: int = 1) -> None:
        """Give every subscription without an id the next free one."""
        used = {sub.id for sub in self.subscriptions if sub.id is not None}
        next_id = max([first_id - 1, *used]) + 1
        for sub in self.subscriptions:
            if sub.id is None:
                sub.id = next_id
                next_id += 1

    def public_view(self) -> dict[str, Any]:
        """The settings as JSON, with the client secret masked."""
        view = self.model_dump(by_alias=True)
        view["clientSecret"] = "***" if self.client_secret else ""
        return view


def render_event(
    event: PortalEvent,
    *,
    event_id: int,
    subscription_id: int,
    portal_id: int,
    app_id: int,
    attempt_number: int = 0,
) -> dict[str, Any]:
    """The JSON object HubSpot sends for one event to one subscription."""
    payload: dict[str, Any] = {
        "eventId": event_id,
        "subscriptionId": subscription_id,
        "portalId": portal_id,
        "appId": app_id,
        "occurredAt": event.occurred_at,
        "subscriptionType": event.subscription_type,
        "attemptNumber": attempt_number,
        "objectId": event.object_id,
        "changeSource": event.change_source,
    }
    kind = event.subscription_type.split(".", 1)[1]
    if kind in _CHANGE_FLAGS:
        payload["changeFlag"] = _CHANGE_FLAGS[kind]
    if kind == "propertyChange":
        payload["propertyName"] = event.property_name
        payload["propertyValue"] = event.property_value if event.property_value is not None else ""
    elif kind == "merge":
        payload["primaryObjectId"] = event.primary_object_id
        payload["mergedObjectIds"] = list(event.merged_object_ids)
        payload["newObjectId"] = event.new_object_id
        payload["numberOfPropertiesMoved"] = event.extra.get("numberOfPropertiesMoved", 0)
    elif kind == "associationChange":
        payload["associationType"] = event.association_type
        payload["fromObjectId"] = event.from_object_id
        payload["toObjectId"] = event.to_object_id
        payload["associationRemoved"] = event.association_removed
        payload["isPrimaryAssociation"] = bool(event.extra.get("isPrimaryAssociation", False))
    for key, value in event.extra.items():
        payload.setdefault(key, value)  # e.g. sourceId; never overrides the documented fields
    return payload
