"""Chaos-suite helpers: a seeded workload, fault rules, and a normalised view of both sides.

A scenario runs the same seeded workload twice, once clean and once under faults, and compares
`snapshot()` of the two worlds: record contents on both sides as sorted tuples (a multiset, so a
duplicate shows up), without ids or timestamps.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

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
    seed_world(h, seed)
    edit_world(h, seed)


def seed_world(h: Harness, seed: int) -> None:
    """The workload's first half: seed both emulators and sync once."""
    h.seed(seed=seed, **WORLD)
    h.sync()


def edit_world(h: Harness, seed: int) -> None:
    """The workload's second half: seeded edits and creates on both sides, left to sync."""
    rng = random.Random(seed)
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


def cursors(h: Harness) -> dict[tuple[str, str], str | None]:
    """Every record pair's stored cursors, per side."""
    return {
        (pair, side): h.store.cursors.get(pair, side)
        for pair in ("companies", "contacts", "deals")
        for side in ("hubspot", "salesforce")
    }


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


_REFERENCE: dict[int, Snapshot] = {}


def reference(seed: int, tmp_path: Path, template: Path) -> Snapshot:
    """Both sides after a fault-free run of the seeded workload (cached per seed)."""
    if seed not in _REFERENCE:
        clean_dir = tmp_path / "reference"
        clean_dir.mkdir()
        clean = Harness(clean_dir, template=template)
        try:
            workload(clean, seed)
            for _ in range(3):
                clean.sync()
            _REFERENCE[seed] = snapshot(clean)
        finally:
            clean.close()
    return _REFERENCE[seed]


def settle(h: Harness, cycles: int = 3) -> None:
    """Clear every fault and run a few clean cycles."""
    clear_faults(h)
    for _ in range(cycles):
        h.sync()


def assert_converged(h: Harness, seed: int, tmp_path: Path, template: Path) -> None:
    """Both sides equal the fault-free reference, and the store has nothing left pending."""
    expected = reference(seed, tmp_path, template)
    actual = snapshot(h)
    assert duplicates(actual) == duplicates(expected)
    for key in expected:
        assert actual[key] == expected[key], key
    assert h.store.intents.unresolved() == []


class Loopback(httpx.AsyncBaseTransport):
    """Sends a harness's calls to its emulator served on loopback instead of in process, so
    that the test and a served process never touch the emulator's state from two threads."""

    def __init__(self, base_url: str) -> None:
        self.base = httpx.URL(base_url)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self.base.scheme, host=self.base.host, port=self.base.port
        )
        async with httpx.AsyncHTTPTransport() as wire:
            answer = await wire.handle_async_request(request)
            body = await answer.aread()
        return httpx.Response(answer.status_code, headers=answer.headers, content=body)


@contextmanager
def over_loopback(h: Harness, urls: dict[str, str]) -> Iterator[None]:
    """Route the harness's own calls (edits, snapshots) through the served emulators."""
    saved = dict(h.transports)
    h.transports.update({side: Loopback(urls[str(side)]) for side in Side})
    try:
        yield
    finally:
        h.transports.update(saved)
