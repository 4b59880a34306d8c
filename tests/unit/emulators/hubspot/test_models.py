"""Portal rules without HTTP: history, events, upserts, merges, archives, state round trips."""

from __future__ import annotations

import pytest

from hubforce.emulators.hubspot.events import PortalEvent
from hubforce.emulators.hubspot.exceptions import Conflict, ObjectNotFound, PropertyValidationError
from hubforce.emulators.hubspot.models import Portal


@pytest.fixture
def portal() -> Portal:
    p = Portal()
    p.clock.freeze()
    return p


@pytest.fixture
def events(portal: Portal) -> list[PortalEvent]:
    heard: list[PortalEvent] = []
    portal.events.subscribe(heard.append)
    return heard


def test_history_keeps_every_value_newest_first_with_source(portal: Portal) -> None:
    record = portal.create_object("contacts", {"email": "h@x.example", "firstname": "A"})
    t0 = portal.clock.now_ms()
    portal.clock.advance(2)
    portal.update_object("contacts", str(record.id), {"firstname": "B"}, change_source="FORM")
    history = record.history["firstname"]
    assert [(h.value, h.source_type) for h in history] == [("B", "FORM"), ("A", "API")]
    assert history[0].timestamp == t0 + 2000
    assert record.properties["lastmodifieddate"].endswith("Z")
    assert record.updated_ms == t0 + 2000


def test_unchanged_update_does_not_touch_modified_date_or_emit(
    portal: Portal, events: list[PortalEvent]
) -> None:
    record = portal.create_object("contacts", {"email": "same@x.example", "firstname": "A"})
    before = record.updated_ms
    events.clear()
    portal.clock.advance(5)
    portal.update_object("contacts", str(record.id), {"firstname": "A"})
    assert record.updated_ms == before
    assert events == []


def test_events_for_creation_and_each_changed_property(
    portal: Portal, events: list[PortalEvent]
) -> None:
    record = portal.create_object("contacts", {"email": "e@x.example", "firstname": "E"})
    kinds = [(e.subscription_type, e.property_name) for e in events]
    assert kinds[0] == ("contact.creation", None)
    assert sorted(kinds[1:]) == [
        ("contact.propertyChange", "email"),
        ("contact.propertyChange", "firstname"),
    ]
    events.clear()
    portal.update_object(
        "contacts", str(record.id), {"firstname": "F", "lastname": "G"}, change_source="CRM_UI"
    )
    assert {(e.property_name, e.property_value, e.change_source) for e in events} == {
        ("firstname", "F", "CRM_UI"),
        ("lastname", "G", "CRM_UI"),
    }


def test_upsert_contact_by_email_creates_then_updates(portal: Portal) -> None:
    contact_id, created = portal.upsert_contact_by_email(
        {"email": "Form@X.example", "firstname": "F"}, change_source="FORM"
    )
    assert created is True
    again, created_again = portal.upsert_contact_by_email(
        {"email": "form@x.example", "lastname": "L"}, change_source="FORM"
    )
    assert (again, created_again) == (contact_id, False)
    record = portal.get_object("contacts", contact_id)
    assert record.properties["lastname"] == "L"
    assert record.history["lastname"][0].source_type == "FORM"


def test_archive_frees_the_email_and_emits_deletion(
    portal: Portal, events: list[PortalEvent]
) -> None:
    record = portal.create_object("contacts", {"email": "a@x.example"})
    with pytest.raises(Conflict):
        portal.create_object("contacts", {"email": "a@x.example"})
    portal.archive_object("contacts", str(record.id))
    assert events[-1].subscription_type == "contact.deletion"
    fresh = portal.create_object("contacts", {"email": "a@x.example"})
    assert fresh.id != record.id
    assert portal.get_object("contacts", str(record.id), archived=True).archived is True


def test_contact_merge_new_id_moves_associations_and_emits(
    portal: Portal, events: list[PortalEvent]
) -> None:
    a = portal.create_object("contacts", {"email": "a@m.example", "firstname": "A"})
    b = portal.create_object("contacts", {"email": "b@m.example", "phone": "123"})
    company = portal.create_object("companies", {"name": "Co"})
    portal.associate("contacts", b.id, "companies", company.id, 1)
    events.clear()
    merged = portal.merge_objects("contacts", str(a.id), str(b.id))
    assert merged.id not in (a.id, b.id)
    assert merged.properties["phone"] == "123"
    assert merged.properties["hs_additional_emails"] == "b@m.example"
    assert portal.get_object("contacts", "b@m.example", id_property="email").id == merged.id
    assert set(portal.associations.targets("contacts", merged.id, "companies")) == {company.id}
    assert set(portal.associations.targets("companies", company.id, "contacts")) == {merged.id}
    merge_event = next(e for e in events if e.subscription_type == "contact.merge")
    assert (merge_event.primary_object_id, merge_event.merged_object_ids) == (a.id, (b.id,))
    assert merge_event.new_object_id == merged.id
    assert any(e.subscription_type == "contact.deletion" and e.object_id == b.id for e in events)


def test_deal_merge_keeps_primary_id(portal: Portal) -> None:
    a = portal.create_object("deals", {"dealname": "A", "amount": "5"})
    b = portal.create_object("deals", {"dealname": "B", "description": "kept"})
    merged = portal.merge_objects("deals", str(a.id), str(b.id))
    assert merged.id == a.id
    assert merged.properties["description"] == "kept"
    assert merged.properties["hs_merged_object_ids"] == str(b.id)
    assert portal.get_object("deals", str(b.id)).id == a.id


def test_association_events_carry_type_and_removal(
    portal: Portal, events: list[PortalEvent]
) -> None:
    deal = portal.create_object("deals", {"dealname": "D"})
    company = portal.create_object("companies", {"name": "C"})
    events.clear()
    assert portal.associate("deals", deal.id, "companies", company.id, 5) == [5, 341]
    assert [e.association_type for e in events] == ["DEAL_TO_COMPANY", "DEAL_TO_COMPANY"]
    assert [e.extra["isPrimaryAssociation"] for e in events] == [True, False]
    events.clear()
    portal.dissociate("deals", deal.id, "companies", company.id)
    assert {e.association_removed for e in events} == {True}
    assert portal.associations.targets("companies", company.id, "deals") == {}


def test_gdpr_delete_removes_for_good(portal: Portal, events: list[PortalEvent]) -> None:
    record = portal.create_object("contacts", {"email": "g@x.example"})
    portal.gdpr_delete("g@x.example", "email")
    with pytest.raises(ObjectNotFound):
        portal.get_object("contacts", str(record.id), archived=True)
    assert [e.subscription_type for e in events[-2:]] == [
        "contact.privacyDeletion",
        "contact.deletion",
    ]
    assert "g@x.example" in portal.gdpr_blocklist


def test_validation_error_lists_every_bad_property(portal: Portal) -> None:
    with pytest.raises(PropertyValidationError) as exc:
        portal.create_object("contacts", {"nope": "1", "email": "bad", "firstname": "ok"})
    assert sorted(f["name"] for f in exc.value.failures) == ["email", "nope"]


def test_state_export_import_round_trip(portal: Portal) -> None:
    portal.seed({"seed": 11, "people": 20, "companies": 6, "deals": 4, "reps": 2})
    a, b = list(portal.stores["contacts"].records)[:2]
    portal.merge_objects("contacts", str(a), str(b))
    state = portal.export_state()
    copy = Portal()
    copy.import_state(state)
    assert copy.export_state() == state
    assert copy.get_object("contacts", str(b)).id == portal.get_object("contacts", str(b)).id


def test_seed_is_deterministic_and_applies_hubspot_overrides(portal: Portal) -> None:
    counts = portal.seed({"seed": 5, "people": 40, "companies": 10, "deals": 8, "reps": 3})
    other = Portal()
    assert other.seed({"seed": 5, "people": 40, "companies": 10, "deals": 8, "reps": 3}) == counts
    emails = sorted(r.properties["email"] for r in portal.iter_live("contacts"))
    assert emails == sorted(r.properties["email"] for r in other.iter_live("contacts"))
    from hubforce.emulators.common.world import generate_world

    world = generate_world(5, people=40, companies=10, deals=8, reps=3)
    overridden = [p for p in world.people if p.in_hubspot and p.hubspot_overrides]
    for person in overridden:
        record = portal.get_object("contacts", person.email, id_property="email")
        assert record.properties["phone"] == person.hubspot_overrides["phone"]
    assert counts["contacts"] == sum(p.in_hubspot for p in world.people)
    assert len(portal.owners) == 3
