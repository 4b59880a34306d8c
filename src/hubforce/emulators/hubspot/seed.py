"""Seeding: the shared world's HubSpot side, plus cheap synthetic contacts for benchmarks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hubforce.emulators.common.world import World, generate_world
from hubforce.emulators.hubspot.properties import iso_ms
from hubforce.emulators.hubspot.store import HistoryEntry, Record

if TYPE_CHECKING:
    from hubforce.emulators.hubspot.models import Portal

INDUSTRY = {
    "Technology": "COMPUTER_SOFTWARE",
    "Finance": "FINANCIAL_SERVICES",
    "Healthcare": "HOSPITAL_HEALTH_CARE",
    "Manufacturing": "MACHINERY",
    "Retail": "RETAIL",
    "Education": "EDUCATION_MANAGEMENT",
    "Energy": "OIL_ENERGY",
    "Consulting": "MANAGEMENT_CONSULTING",
}
LEAD_STATUS = {
    "Open - Not Contacted": "NEW",
    "Working - Contacted": "IN_PROGRESS",
    "Closed - Not Converted": "UNQUALIFIED",
}
OWNER_ID_BASE = 41_629_779
SEED_KEYS = {"seed", "people", "companies", "deals", "reps", "extra_contacts"}


def seed_portal(portal: Portal, params: dict[str, Any]) -> dict[str, Any]:
    """Apply `{"seed": 7, "people": 200, ..., "extra_contacts": 0}`; return the counts."""
    unknown = set(params) - SEED_KEYS
    if unknown:
        raise ValueError(f"unknown seed parameters {sorted(unknown)}; known: {sorted(SEED_KEYS)}")
    counts: dict[str, Any] = {"owners": 0, "companies": 0, "contacts": 0, "deals": 0}
    if "seed" in params:
        sizes = {k: int(params[k]) for k in ("people", "companies", "deals", "reps") if k in params}
        counts.update(seed_world(portal, generate_world(int(params["seed"]), **sizes)))
    extra = int(params.get("extra_contacts", 0))
    if extra < 0 or extra > 2_000_000:
        raise ValueError("extra_contacts must be between 0 and 2,000,000")
    if extra:
        add_synthetic_contacts(portal, extra)
    counts["extra_contacts"] = extra
    return counts


def seed_world(portal: Portal, world: World) -> dict[str, int]:
    """Owners, companies, contacts and deals that are `in_hubspot`, with associations."""
    created = iso_ms(portal.clock.now_ms())
    for rep in world.reps:
        owner_id = OWNER_ID_BASE + rep.key
        portal.owners[owner_id] = {
            "id": str(owner_id),
            "email": rep.email,
            "firstName": rep.first_name,
            "lastName": rep.last_name,
            "userId": 9_876_543 + rep.key,
            "userIdIncludingInactive": 9_876_543 + rep.key,
            "type": "PERSON",
            "archived": False,
            "createdAt": created,
            "updatedAt": created,
            "teams": [{"id": "123", "name": "Sales", "primary": True}],
        }
    owners = [str(OWNER_ID_BASE + r.key) for r in world.reps]

    def owner(key: int) -> dict[str, str]:
        return {"hubspot_owner_id": owners[key % len(owners)]} if owners else {}

    companies: dict[int, int] = {}
    for c in world.companies:
        if not c.in_hubspot:
            continue
        props = {
            "name": c.name,
            "domain": c.domain,
            "website": f"https://www.{c.domain}",
            "industry": INDUSTRY.get(c.industry, ""),
            "phone": c.phone,
            "city": c.city,
            "state": c.state,
            "country": c.country,
            "numberofemployees": str(c.employees),
            "annualrevenue": str(c.annual_revenue),
            **owner(c.key),
        }
        companies[c.key] = portal.create_object("companies", props, change_source="IMPORT").id
    contacts: dict[int, int] = {}
    names = {c.key: c.name for c in world.companies}
    for p in world.people:
        if not p.in_hubspot:
            continue
        props = {
            "email": p.email,
            "firstname": p.first_name,
            "lastname": p.last_name,
            "phone": p.phone,
            "jobtitle": p.title,
            "city": p.city,
            "state": p.state,
            "country": p.country,
            "company": names.get(p.company_key, "") if p.company_key is not None else "",
            "lifecyclestage": "lead",
            "hs_lead_status": LEAD_STATUS.get(p.lead_status, "NEW"),
            **owner(p.key),
            **p.hubspot_overrides,
        }
        record = portal.create_object("contacts", props, change_source="IMPORT")
        contacts[p.key] = record.id
        if p.company_key in companies:
            portal.associate("contacts", record.id, "companies", companies[p.company_key], 1)
    deals = 0
    for d in world.deals:
        if not d.in_hubspot or d.company_key not in companies:
            continue
        close = datetime(d.close_date.year, d.close_date.month, d.close_date.day, tzinfo=UTC)
        props = {
            "dealname": d.name,
            "amount": str(d.amount),
            "closedate": iso_ms(int(close.timestamp() * 1000)),
            "pipeline": "default",
            "dealstage": d.stage[1],
            **owner(d.key),
        }
        deal = portal.create_object("deals", props, change_source="IMPORT")
        portal.associate("deals", deal.id, "companies", companies[d.company_key], 5)
        if d.contact_key in contacts:
            portal.associate("deals", deal.id, "contacts", contacts[d.contact_key])
        deals += 1
    return {
        "owners": len(world.reps),
        "companies": len(companies),
        "contacts": len(contacts),
        "deals": deals,
    }


def add_synthetic_contacts(portal: Portal, count: int) -> None:
    """`count` plain contacts, no Faker and no events: for benchmarks (a few seconds for 100k).

    Timestamps are spread one second apart ending now, so `lastmodifieddate` windows are
    realistic; each record keeps a one-entry history for the values it was created with.
    """
    store = portal.stores["contacts"]
    now = portal.clock.now_ms()
    start = now - count * 1000
    emails = store.unique["email"]
    for i in range(count):
        record_id = portal.next_id
        portal.next_id += 1
        ms = start + i * 1000
        stamp = iso_ms(ms)
        email = f"bulk{record_id}@bulk.example"
        props = {
            "createdate": stamp,
            "email": email,
            "firstname": f"Bulk{i}",
            "lastname": "Contact",
            "hs_object_id": str(record_id),
            "lastmodifieddate": stamp,
        }
        history = {k: [HistoryEntry(v, ms, "IMPORT")] for k, v in props.items()}
        store.records[record_id] = Record(record_id, props, ms, ms, history=history)
        emails[email] = record_id
        store.modified.keys.append((ms, record_id))
    store.modified.keys.sort()
    store.modified.reindex()
