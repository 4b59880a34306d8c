"""State store bookkeeping speed: bulk link upserts with snapshots, audit rows, lookups.

Measures, on a fresh SQLite file (and on PostgreSQL when HUBFORCE_TEST_POSTGRES_URL is set):
- inserting 10,000 new links with per-side snapshots of 12 fields in one unit of work,
- updating the snapshots of the same 10,000 links,
- one cycle's full bookkeeping for 10,000 records in one unit of work: snapshot updates,
  3 audit rows per record, intents resolved, failures resolved, cursor moved,
- reading the 10,000 links back by HubSpot id (chunked IN lists).
Each backend runs REPEATS times on a fresh store; the table shows the best wall and CPU time
per step (records/s) and benchmarks/results/store_bookkeeping.json keeps them.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, text

from hubforce.store import AuditEntry, NewIntent, Store, open_store
from hubforce.sync.model import FieldValues, Link, Side, Snapshot

N = 10_000
REPEATS = 3
RESULTS = Path(__file__).parent / "results" / "store_bookkeeping.json"


def snapshot(i: int, version: int) -> Snapshot:
    values: FieldValues = {
        "email": f"person{i}@example.com",
        "firstname": f"First{i}",
        "lastname": f"Last{i}-{version}",
        "phone": f"+1 555 {i:07d}",
        "company": f"Company {i % 997}",
        "jobtitle": "Engineer",
        "city": "Lyon",
        "country": "FR",
        "lifecyclestage": "lead",
        "annualrevenue": Decimal(f"{i}.{version:02d}"),
        "hs_lastmodifieddate": 1_700_000_000_000 + i,
        "interests": ("a", "b"),
    }
    return Snapshot(hubspot=dict(values), salesforce=dict(values))


def links(version: int) -> list[Link]:
    return [
        Link("contacts", str(100_000 + i), "Contact", f"003{i:015d}", snapshot(i, version))
        for i in range(N)
    ]


def timed(step: Callable[[], object]) -> dict[str, float]:
    """Wall seconds and this process's CPU seconds (on a busy machine the CPU figure is the
    cost of the step itself; PostgreSQL's own work runs in the server and is only in wall)."""
    wall, cpu = time.perf_counter(), time.process_time()
    step()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def measure(store: Store) -> dict[str, dict[str, float]]:
    first, second, third = links(0), links(1), links(2)
    ids = [link.hubspot_id for link in first]
    run_id = store.runs.start()
    store.intents.record_many(
        [NewIntent("contacts", Side.SALESFORCE, hs_id, f"hs-{hs_id}") for hs_id in ids]
    )

    def insert() -> None:
        with store.transaction() as uow:
            uow.links.upsert_many(first)

    def update() -> None:
        with store.transaction() as uow:
            uow.links.upsert_many(second)

    def cycle() -> None:
        audit = [
            AuditEntry(
                run_id, "contacts", Side.SALESFORCE, link.salesforce_id, f, "a", "b", "two_way"
            )
            for link in third
            for f in ("lastname", "phone", "annualrevenue")
        ]
        created = {link.hubspot_id: link.salesforce_id for link in third}
        with store.transaction() as uow:
            uow.links.upsert_many(third)
            uow.audit.insert_many(audit)
            uow.intents.resolve_created("contacts", Side.SALESFORCE, created)
            uow.failures.resolve("contacts", hubspot_ids=ids)
            uow.cursors.set("contacts", Side.HUBSPOT, "1700000009999:109999")

    return {
        "insert 10k links + snapshots": timed(insert),
        "update 10k snapshots": timed(update),
        "cycle bookkeeping 10k (links, 30k audit, intents, cursor)": timed(cycle),
        "read 10k links by id": timed(lambda: store.links.get_many("contacts", "hubspot", ids)),
    }


def best(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per step, the fastest wall and CPU time of the repeats (the machine may be shared)."""
    return {
        step: {kind: min(run[step][kind] for run in runs) for kind in ("wall", "cpu")}
        for step in runs[0]
    }


def sqlite_run() -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "bench.db") as store:
        return measure(store)


def postgres_run(url: str) -> dict[str, dict[str, float]]:
    schema = f"hf_bench_{uuid.uuid4().hex[:8]}"
    try:
        with open_store(url, schema=schema) as store:
            return measure(store)
    finally:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def main() -> None:
    results: dict[str, dict[str, dict[str, float]]] = {}
    results["sqlite"] = best([sqlite_run() for _ in range(REPEATS)])
    url = os.environ.get("HUBFORCE_TEST_POSTGRES_URL")
    if url:
        results["postgresql"] = best([postgres_run(url) for _ in range(REPEATS)])
    load = os.getloadavg()[0]
    print(
        f"{N:,} records per step, best of {REPEATS}; load average {load:.1f}"
        f" on {os.cpu_count()} cores"
    )
    print(f"{'backend':<11} {'step':<58} {'wall s':>7} {'rec/s':>8} {'cpu s':>7} {'rec/s':>8}")
    for backend, steps in results.items():
        for step, t in steps.items():
            print(
                f"{backend:<11} {step:<58} {t['wall']:>7.3f} {N / t['wall']:>8,.0f}"
                f" {t['cpu']:>7.3f} {N / max(t['cpu'], 1e-9):>8,.0f}"
            )
    RESULTS.parent.mkdir(exist_ok=True)
    report = {"records": N, "repeats": REPEATS, "load_average": load, "seconds": results}
    RESULTS.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
