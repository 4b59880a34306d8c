"""Chaos-suite helpers: a seeded workload, fault rules, and a normalised view of both sides.

A scenario runs the same seeded workload twice, once clean and once under faults, and compares
`snapshot()` of the two worlds: record contents on both sides as sorted tuples (a multiset, so a
duplicate shows up), without ids or timestamps.
"""

from __future__ import annotations

import random
from typing import Any

from hubforce.sync.model import Side
from tests.e2e.conftest import Harness

WORLD = {"people": 16, "companies": 5, "deals": 4}
HS_FIELDS = {
    "contacts": (
        "email",
        "firstname",
        "lastname",
        "jobtitle",
        "phone",
        "company",
        "hs_lead_status",
    ),
    "companies": ("name", "website", "phone", "city"),
    "deals": ("dealname", "amount"),
}
SF_FIELDS = {
    "Lead": ("Email", "FirstName", "LastName", "Title", "Phone", "Company", "Status"),
    "Contact": ("Email", "FirstName", "LastName", "Title", "Phone"),
    "Account": ("Name", "Website", "Phone", "BillingCity"),
    "Opportunity": ("Name", "Amount"),
}
Snapshot = dict[str, list[tuple[Any, ...]]]


def _norm(value: Any) -> Any:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(value) if isinstance(value, str) and "." in value else value
    except ValueError:
        return value


def snapshot(h: Harness) -> Snapshot:
    """Both sides' records as sorted tuples of their synced fields."""
    out: Snapshot = {}
    for object_type, hs_names in HS_FIELDS.items():
        rows = h.hs_all(object_type, ",".join(hs_names))
        out[f"hubspot:{object_type}"] = sorted(
            (tuple(_norm(r["properties"].get(n)) for n in hs_names) for r in rows), key=repr
        )
    for sobject, sf_names in SF_FIELDS.items():
        rows = h.soql(f"SELECT {', '.join(sf_names)} FROM {sobject}")
        out[f"salesforce:{sobject}"] = sorted(
            (tuple(_norm(r.get(n)) for n in sf_names) for r in rows), key=repr
        )
    return out


def duplicates(snap: Snapshot) -> dict[str, list[Any]]:
    """Emails (people) or names (companies, deals) that occur more than once on one side."""
    found: dict[str, list[Any]] = {}
    for key, rows in snap.items():
        keys = [row[0] for row in rows if row[0] is not None]
        repeated = sorted({k for k in keys if keys.count(k) > 1}, key=repr)
        if repeated:
            found[key] = repeated
    return found


def workload(h: Harness, seed: int) -> None:
    """Seed both emulators, sync once, then edit and create records on both sides (seeded)."""
    rng = random.Random(seed)
    h.seed(seed=seed, **WORLD)
    h.sync()
    contacts = sorted(h.hs_all("contacts", "email"), key=lambda r: r["properties"]["email"] or "")
    edited = rng.sample(contacts, 4)
    for n, record in enumerate(edited):
        h.hs_patch("contacts", record["id"], {"jobtitle": f"Chaos title {seed}-{n}"})
    for n in range(5):
        h.call(
            Side.HUBSPOT,
            "POST",
            "/crm/v3/objects/contacts",
            {
                "properties": {
                    "email": f"hs{seed}-{n}@chaos.example",
                    "firstname": f"Hs{rng.randint(100, 999)}",
                    "lastname": "Chaos",
                    "company": "Chaos Ltd",
                }
            },
        )
    leads = sorted(h.soql("SELECT Id, Email FROM Lead"), key=lambda r: r["Email"] or "")
    touched = {c["properties"]["email"] for c in edited}
    for n, lead in enumerate(rng.sample([x for x in leads if x["Email"] not in touched], 3)):
        h.sf_patch("Lead", lead["Id"], {"Phone": f"+1 555 01{seed % 10}{n}"})
    for n in range(4):
        h.call(
            Side.SALESFORCE,
            "POST",
            "/services/data/v62.0/sobjects/Lead",
            {
                "LastName": f"Sf{rng.randint(100, 999)}",
                "Company": "Chaos Inc",
                "Email": f"sf{seed}-{n}@chaos.example",
            },
        )


def set_faults(h: Harness, side: Side, *rules: dict[str, Any]) -> None:
    """Replace one emulator's fault rules."""
    h.call(side, "POST", "/__emulator__/faults", {"rules": list(rules)})


def clear_faults(h: Harness) -> None:
    """Remove every fault rule on both emulators."""
    for side in Side:
        h.call(side, "DELETE", "/__emulator__/faults")


def fired(h: Harness, side: Side) -> int:
    """How many times the current fault rules of one emulator fired."""
    body = h.call(side, "GET", "/__emulator__/faults")
    return sum(int(rule["fired"]) for rule in body["rules"])
