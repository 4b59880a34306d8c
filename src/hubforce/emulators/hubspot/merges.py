"""Merging two records: HubSpot's new-id semantics for contacts and companies.

Contacts and companies merge into a record with a new id; both old ids resolve to it (a GET by
an old id answers 200 with the new id). Deals keep the primary id. The primary's non-blank values
win; the survivor lists absorbed ids in `hs_merged_object_ids` (contacts also in
`hs_calculated_merged_vids`); associations of both move to the survivor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubforce.emulators.hubspot.events import PortalEvent
from hubforce.emulators.hubspot.exceptions import BadRequest
from hubforce.emulators.hubspot.properties import SINGULAR, iso_ms
from hubforce.emulators.hubspot.store import HistoryEntry, Record

if TYPE_CHECKING:
    from hubforce.emulators.hubspot.models import Portal

MAX_IDENTITIES = 250


def _merged_ids(record: Record) -> list[str]:
    raw = record.properties.get("hs_merged_object_ids", "")
    return [part for part in raw.split(";") if part]


def merge_records(portal: Portal, object_type: str, primary_id: str, merge_id: str) -> Record:
    """Merge `merge_id` into `primary_id`; return the surviving record."""
    primary = portal.get_object(object_type, primary_id)
    loser = portal.get_object(object_type, merge_id)
    if primary.id == loser.id:
        raise BadRequest(f"Cannot merge {SINGULAR[object_type]} {primary_id} with itself")
    absorbed = [str(primary.id), str(loser.id), *_merged_ids(primary), *_merged_ids(loser)]
    if len(absorbed) > MAX_IDENTITIES:
        raise BadRequest("Cannot have more than 250 identities on a profile", status=414)
    now = portal.clock.now_ms()
    store = portal.stores[object_type]
    new_id_semantics = object_type in ("contacts", "companies")
    survivor_id = portal.next_id if new_id_semantics else primary.id
    if new_id_semantics:
        portal.next_id += 1
    properties = {**loser.properties, **primary.properties}
    history: dict[str, list[HistoryEntry]] = {}
    for name in set(primary.history) | set(loser.history):
        entries = primary.history.get(name, []) + loser.history.get(name, [])
        history[name] = sorted(entries, key=lambda h: -h.timestamp)
    merged_ids = sorted({i for i in absorbed if i != str(survivor_id)}, key=int)
    properties["hs_merged_object_ids"] = ";".join(merged_ids)
    properties["hs_object_id"] = str(survivor_id)
    if object_type == "contacts":
        properties["hs_calculated_merged_vids"] = ";".join(f"{i}:{now}" for i in merged_ids)
        loser_email = loser.properties.get("email")
        if loser_email and loser_email != properties.get("email"):
            extra = [e for e in properties.get("hs_additional_emails", "").split(";") if e]
            properties["hs_additional_emails"] = ";".join([*extra, loser_email])
    survivor = Record(
        id=survivor_id,
        properties=properties,
        created_ms=min(primary.created_ms, loser.created_ms),
        updated_ms=now,
        history=history,
    )
    survivor.properties["createdate"] = iso_ms(survivor.created_ms)
    links = [
        *portal.associations.remove_record(object_type, primary.id),
        *portal.associations.remove_record(object_type, loser.id),
    ]
    emails = [r.properties.get("email") for r in (primary, loser)]
    for old in (primary, loser):
        store.drop(old)
        if old.id != survivor_id:
            store.aliases[old.id] = survivor_id
    portal._touch(object_type, survivor, now)
    store.records[survivor_id] = survivor
    store.index(survivor)
    for email in emails:  # both addresses keep resolving to the survivor
        if email and "email" in store.unique:
            store.unique["email"][email.lower()] = survivor_id
    for link in links:
        portal.associations.add(object_type, survivor_id, link.to_type, link.to_id, link.type_id)
    kind = SINGULAR[object_type]
    portal.events.emit(
        PortalEvent(
            f"{kind}.merge",
            survivor_id,
            now,
            primary_object_id=primary.id,
            merged_object_ids=(loser.id,),
            new_object_id=survivor_id,
            extra={"numberOfPropertiesMoved": len(set(loser.properties) - set(primary.properties))},
        )
    )
    portal.events.emit(PortalEvent(f"{kind}.deletion", loser.id, now, "API"))
    return survivor
