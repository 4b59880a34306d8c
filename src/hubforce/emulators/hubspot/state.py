"""Portal state export and import (the control API's `GET`/`PUT /__emulator__/state`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubforce.emulators.hubspot.properties import PropertyDef
from hubforce.emulators.hubspot.store import Record

if TYPE_CHECKING:
    from hubforce.emulators.hubspot.models import Portal


def export_portal(portal: Portal) -> dict[str, Any]:
    """All data as JSON-ready values."""
    return {
        "portal_id": portal.portal_id,
        "next_id": portal.next_id,
        "objects": {
            t: {
                "records": [r.to_state() for r in s.records.values()],
                "aliases": {str(k): v for k, v in s.aliases.items()},
            }
            for t, s in portal.stores.items()
        },
        "custom_properties": {
            t: [vars(p) for p in props.values() if not p.hubspot_defined]
            for t, props in portal.catalogue.items()
        },
        "associations": [vars(link) for link in portal.associations.all_links()],
        "owners": list(portal.owners.values()),
    }


def import_portal(portal: Portal, state: dict[str, Any]) -> None:
    """Replace all data with an exported state."""
    portal.reset()
    for object_type, props in state.get("custom_properties", {}).items():
        for raw in props:
            prop = PropertyDef(**raw)
            portal.catalogue[object_type][prop.name] = prop
            if prop.has_unique_value:
                portal.stores[object_type].unique.setdefault(prop.name, {})
    for object_type, data in state.get("objects", {}).items():
        store = portal.store(object_type)
        for raw in sorted(data.get("records", []), key=lambda r: int(r["id"])):
            record = Record.from_state(raw)
            store.records[record.id] = record
            if not record.archived:
                store.index(record)
        store.aliases = {int(k): int(v) for k, v in data.get("aliases", {}).items()}
    for link in state.get("associations", []):
        portal.associations.add(
            link["from_type"], link["from_id"], link["to_type"], link["to_id"], link["type_id"]
        )
    portal.owners = {int(o["id"]): o for o in state.get("owners", [])}
    portal.next_id = int(state.get("next_id", portal.next_id))
