"""Payload rendering for every event type, field for field as reference section 9 shows."""

from __future__ import annotations

from typing import Any

import pytest

from hubforce.emulators.hubspot.events import PortalEvent
from hubforce.emulators.hubspot.webhook_models import (
    Subscription,
    WebhookSettings,
    render_event,
)

COMMON = {"eventId": 11, "subscriptionId": 22, "portalId": 33, "appId": 44, "attemptNumber": 0}


def render(event: PortalEvent, attempt: int = 0) -> dict[str, Any]:
    return render_event(
        event, event_id=11, subscription_id=22, portal_id=33, app_id=44, attempt_number=attempt
    )


def test_creation_carries_change_flag_new() -> None:
    event = PortalEvent("contact.creation", 1246978, 1462216307945, "IMPORT")
    assert render(event) == {
        **COMMON,
        "occurredAt": 1462216307945,
        "subscriptionType": "contact.creation",
        "objectId": 1246978,
        "changeSource": "IMPORT",
        "changeFlag": "NEW",
    }


def test_property_change_carries_name_and_new_value() -> None:
    event = PortalEvent(
        "contact.propertyChange", 1246965, 1462216307945, "ACADEMY", "lifecyclestage", "subscriber"
    )
    assert render(event, attempt=3) == {
        **COMMON,
        "attemptNumber": 3,
        "occurredAt": 1462216307945,
        "subscriptionType": "contact.propertyChange",
        "objectId": 1246965,
        "changeSource": "ACADEMY",
        "propertyName": "lifecyclestage",
        "propertyValue": "subscriber",
    }


def test_property_cleared_renders_empty_string_value() -> None:
    event = PortalEvent("deal.propertyChange", 5, 1, "API", "amount", None)
    payload = render(event)
    assert (payload["propertyName"], payload["propertyValue"]) == ("amount", "")


@pytest.mark.parametrize(
    ("subscription_type", "flag"),
    [("company.deletion", "DELETED"), ("deal.restore", "RESTORED")],
)
def test_deletion_and_restore_flags(subscription_type: str, flag: str) -> None:
    payload = render(PortalEvent(subscription_type, 7, 100, "API"))
    assert payload["changeFlag"] == flag
    assert "propertyName" not in payload


def test_privacy_deletion_has_no_change_flag() -> None:
    payload = render(PortalEvent("contact.privacyDeletion", 7, 100, "GDPR"))
    assert payload["subscriptionType"] == "contact.privacyDeletion"
    assert "changeFlag" not in payload


def test_merge_carries_primary_merged_and_new_ids() -> None:
    event = PortalEvent(
        "contact.merge",
        1001,
        500,
        "CRM_UI",
        primary_object_id=1001,
        merged_object_ids=(1002,),
        new_object_id=1003,
        extra={"numberOfPropertiesMoved": 4, "sourceId": "userId:45678"},
    )
    assert render(event) == {
        **COMMON,
        "occurredAt": 500,
        "subscriptionType": "contact.merge",
        "objectId": 1001,
        "changeSource": "CRM_UI",
        "changeFlag": "MERGED",
        "primaryObjectId": 1001,
        "mergedObjectIds": [1002],
        "newObjectId": 1003,
        "numberOfPropertiesMoved": 4,
        "sourceId": "userId:45678",
    }


def test_association_change_carries_both_ends_and_flags() -> None:
    event = PortalEvent(
        "contact.associationChange",
        10,
        600,
        "API",
        association_type="CONTACT_TO_COMPANY",
        from_object_id=10,
        to_object_id=20,
        association_removed=True,
        extra={"isPrimaryAssociation": True},
    )
    assert render(event) == {
        **COMMON,
        "occurredAt": 600,
        "subscriptionType": "contact.associationChange",
        "objectId": 10,
        "changeSource": "API",
        "associationType": "CONTACT_TO_COMPANY",
        "fromObjectId": 10,
        "toObjectId": 20,
        "associationRemoved": True,
        "isPrimaryAssociation": True,
    }


def test_extra_never_overrides_documented_fields() -> None:
    event = PortalEvent("deal.creation", 3, 1, "API", extra={"objectId": 999, "sourceId": "x"})
    payload = render(event)
    assert (payload["objectId"], payload["sourceId"]) == (3, "x")


def test_catch_all_property_subscription_skips_unsubscribable_properties() -> None:
    sub = Subscription.model_validate({"subscriptionType": "contact.propertyChange"})
    assert sub.matches(PortalEvent("contact.propertyChange", 1, 1, "API", "email", "a@b.co"))
    assert not sub.matches(PortalEvent("contact.propertyChange", 1, 1, "API", "lastmodifieddate"))
    assert not sub.matches(PortalEvent("company.propertyChange", 1, 1, "API", "name", "x"))


def test_subscription_ids_are_assigned_after_the_given_ones() -> None:
    settings = WebhookSettings.model_validate(
        {
            "subscriptions": [
                {"subscriptionType": "contact.creation"},
                {"id": 40, "subscriptionType": "deal.creation"},
                {"subscriptionType": "company.creation"},
            ]
        }
    )
    settings.assign_subscription_ids()
    assert [s.id for s in settings.subscriptions] == [41, 40, 42]


def test_defaults_match_hubspot_delivery_rules() -> None:
    settings = WebhookSettings()
    assert settings.batch_size == 100
    assert settings.max_concurrent == 10
    assert settings.signature_versions == ["v1", "v3"]
    assert len(settings.retry_schedule) + 1 == 10  # ten attempts
    assert sum(settings.retry_schedule) <= 24 * 3600
