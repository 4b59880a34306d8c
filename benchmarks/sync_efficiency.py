"""Sync efficiency: API calls of one cycle against the batch lower bound, the steady state,
and the engine's own speed and memory with both APIs answered from memory.

1. Calls. Both emulators in process (httpx.ASGITransport); 1,000 HubSpot-born and 1,000
   Salesforce-born contacts are synced and linked, then 1,000 records change on each side and
   one cycle of the contacts pair runs. Calls are counted by the emulators (`/__emulator__/
   stats`) and compared with the lower bound: HubSpot reads pages of 200 and writes 100 per
   call, Salesforce reads pages of 2,000 and writes 200 per call. Goal: at most 1.1x.
2. Steady state: the cycles after it write nothing and cost only change-detection reads.
3. Engine speed: in-memory fake clients serve N changed, already linked records (half per
   side, one changed field each); one cycle plans, writes (in memory) and does all bookkeeping
   in a SQLite store. Goal: >= 20,000 records/s on one core; peak RSS under 300 MB and flat
   from 20,000 to 200,000 records (each size runs in its own process).

Run: `python benchmarks/sync_efficiency.py` (all), `--calls-only`, `--engine-only N`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, cast

import httpx
from rich.console import Console
from rich.table import Table

from hubforce.connectors.governor import hubspot_governor
from hubforce.connectors.hubspot.client import HubSpotClient
from hubforce.connectors.records import CallCounter, RecordPage, RemoteRecord, WriteResult
from hubforce.connectors.salesforce.client import SalesforceClient
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.engine.context import CycleOptions, CycleReport, SyncContext
from hubforce.engine.cycle import run_cycle
from hubforce.engine.local import local_config
from hubforce.engine.runner import compile_mappings, sync_context
from hubforce.store import open_store
from hubforce.sync.model import Link, Side, Snapshot

RESULTS = Path(__file__).parent / "results"
HS, SF = "http://hubspot.bench", "http://salesforce.bench"
TOKEN = {"Authorization": "Bearer emulator-token"}
V = "/services/data/v62.0"
CHANGED = 1000


def lower_bound(changed: int) -> dict[str, int]:
    """Fewest calls to read and write `changed` records per side with the batch APIs."""
    return {
        "hubspot": math.ceil(changed / 200) + math.ceil(changed / 100),
        "salesforce": math.ceil(changed / 2000) + math.ceil(changed / 200),
    }


# -- 1 and 2: API calls against the emulators ------------------------------------------------


class ReadsById(httpx.AsyncBaseTransport):
    """Salesforce's transport, counting the engine's SOQL reads by id (`WHERE Id IN (...)`):
    in a first sync no link has a twin to read, so these are the settle's read-backs."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if " WHERE Id IN (" in request.url.params.get("q", ""):
            self.count += 1
        return await self.inner.handle_async_request(request)


class Emulated:
    """Both emulators in process and a store; one event loop."""

    def __init__(self, tmp: Path) -> None:
        self.apps = {
            Side.HUBSPOT: create_hubspot_app(
                HubSpotEmulatorSettings(tier="enterprise", search_per_second=10_000)
            ),
            Side.SALESFORCE: create_salesforce_app(),
        }
        self.transports: dict[Side, httpx.AsyncBaseTransport] = {
            side: httpx.ASGITransport(app=app) for side, app in self.apps.items()
        }
        self.by_id = ReadsById(self.transports[Side.SALESFORCE])
        self.store = open_store(f"sqlite:///{tmp / 'bench.db'}")
        self.config = local_config(HS, SF, "sqlite://")

    async def call(self, side: Side, method: str, path: str, body: Any = None) -> Any:
        base = HS if side is Side.HUBSPOT else SF
        async with httpx.AsyncClient(
            transport=self.transports[side], base_url=base, headers=TOKEN, timeout=120
        ) as client:
            reply = await client.request(method, path, json=body)
            reply.raise_for_status()
            return reply.json() if reply.content else None

    async def cycle(self, **options: Any) -> CycleReport:
        opts = CycleOptions(pairs=("contacts",), overlap_ms=1000, **options)
        governor = hubspot_governor(burst=100_000, search_per_second=100_000)
        async with sync_context(
            self.config,
            options=opts,
            store=self.store,
            transports={**self.transports, Side.SALESFORCE: self.by_id},
            governors={Side.HUBSPOT: governor},
        ) as ctx:
            return await run_cycle(ctx)

    async def stats(self) -> dict[str, dict[str, Any]]:
        return {str(side): await self.call(side, "GET", "/__emulator__/stats") for side in Side}

    async def reset_stats(self) -> None:
        for side in Side:
            await self.call(side, "POST", "/__emulator__/stats/reset")


async def measure_calls() -> dict[str, Any]:
    """Run the calls scenario and return its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        em = Emulated(Path(tmp))
        await em.call(Side.HUBSPOT, "POST", "/__emulator__/seed", {"extra_contacts": CHANGED})
        seed = {"seed": 1, "people": 0, "companies": 0, "deals": 0, "reps": 1}
        await em.call(
            Side.SALESFORCE, "POST", "/__emulator__/seed", {**seed, "extra_leads": CHANGED}
        )
        await em.reset_stats()
        first = await em.cycle()  # links 2,000 pairs (1,000 created on each side)
        first_calls = await em.stats()
        read_back = em.by_id.count
        await asyncio.sleep(2.5)  # past the re-read overlap (Salesforce keeps seconds)
        second = await em.cycle()
        await asyncio.sleep(2.5)
        links = [
            lk for page in em.store.links.iter_pair("contacts", batch_size=5000) for lk in page
        ]
        # HubSpot-born contacts (created in Salesforce by the setup) change in HubSpot,
        # Salesforce-born Leads (created in HubSpot) change in Salesforce.
        to_sf = em.store.intents.get_many("contacts", "salesforce", [lk.hubspot_id for lk in links])
        to_hs = em.store.intents.get_many("contacts", "hubspot", [lk.salesforce_id for lk in links])
        hs_side = sorted(to_sf)[:CHANGED]
        sf_side = sorted(to_hs)[:CHANGED]
        for start in range(0, len(hs_side), 100):
            inputs = [
                {"id": h, "properties": {"jobtitle": f"Changed in HubSpot {h}"}}
                for h in hs_side[start : start + 100]
            ]
            await em.call(
                Side.HUBSPOT, "POST", "/crm/v3/objects/contacts/batch/update", {"inputs": inputs}
            )
        for start in range(0, len(sf_side), 200):
            records = [
                {"attributes": {"type": "Lead"}, "Id": i, "Title": f"Changed in Salesforce {i}"}
                for i in sf_side[start : start + 200]
            ]
            await em.call(
                Side.SALESFORCE,
                "PATCH",
                f"{V}/composite/sobjects",
                {"allOrNone": False, "records": records},
            )
        await em.reset_stats()
        started = time.perf_counter()
        changed = await em.cycle()
        seconds = time.perf_counter() - started
        calls = await em.stats()
        await asyncio.sleep(2.5)  # so that the next cycle's re-read overlap ends after them
        await em.reset_stats()
        echo = await em.cycle()  # reads the cycle's own writes back: writes nothing
        echo_calls = await em.stats()
        await em.reset_stats()
        steady = await em.cycle()
        steady_calls = await em.stats()
        em.store.close()
    bound = lower_bound(CHANGED)
    spent = {side: calls[side]["api_calls"] for side in ("hubspot", "salesforce")}
    contacts = first.pairs[0]
    return {
        "first_sync": {
            "created": contacts.created,
            "updated": contacts.updated,
            "calls": {side: first_calls[side]["api_calls"] for side in first_calls},
            "by_route": {side: first_calls[side]["by_route"] for side in first_calls},
            "read_back_records": contacts.read.get("salesforce:read_back", 0),
            "read_back_calls": read_back,
            "second_cycle_writes": second.writes,
        },
        "changed_per_side": CHANGED,
        "hs_changed": len(hs_side),
        "sf_changed": len(sf_side),
        "calls": spent,
        "calls_by_route": {side: calls[side]["by_route"] for side in calls},
        "lower_bound": bound,
        "ratio": round(sum(spent.values()) / sum(bound.values()), 3),
        "cycle_seconds": round(seconds, 2),
        "writes": changed.writes,
        "next_cycle_writes": echo.writes,
        "next_cycle_calls": {s: echo_calls[s]["api_calls"] for s in echo_calls},
        "steady_writes": steady.writes,
        "steady_calls": {s: steady_calls[s]["api_calls"] for s in steady_calls},
        "steady_by_route": {s: steady_calls[s]["by_route"] for s in steady_calls},
    }


# -- 3: engine speed and memory with both APIs answered from memory ---------------------------


def _hs_record(i: int, stamp: int, changed: bool) -> RemoteRecord:
    title = f"Title {i} (new)" if changed else f"Title {i}"
    values = {
        "email": f"person{i}@bench.example",
        "firstname": f"First{i}",
        "lastname": f"Last{i}",
        "jobtitle": title,
        "phone": f"+1 555 {i:07d}",
        "city": "Springfield",
        "lastmodifieddate": str(stamp),
    }
    return RemoteRecord(str(i), values, stamp, "contacts")


def _sf_id(i: int) -> str:
    return f"00Q{i:012d}AAA"


def _sf_record(i: int, stamp: int, changed: bool) -> dict[str, Any]:
    title = f"Title {i} (new)" if changed else f"Title {i}"
    wire = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(stamp / 1000))
    return {
        "attributes": {"type": "Lead"},
        "Id": _sf_id(i),
        "SystemModstamp": wire,
        "LastModifiedDate": wire,
        "IsDeleted": False,
        "Email": f"person{i}@bench.example",
        "FirstName": f"First{i}",
        "LastName": f"Last{i}",
        "Title": title,
        "Phone": f"+1 555 {i:07d}",
        "City": "Springfield",
        "IsConverted": False,
    }


class FakeHubSpot:
    """Answers the calls a cycle makes from memory: records are generated page by page."""

    def __init__(self, changed: range) -> None:
        self.changed = changed
        self.calls = CallCounter()
        self.written = 0

    async def changed_since(
        self, object_type: str, since: int | None, fields: Sequence[str], **_: Any
    ) -> AsyncIterator[RecordPage]:
        stamp = int(time.time() * 1000) - 60_000
        ids = self.changed
        for start in range(0, len(ids), 200):
            self.calls.count("search")
            yield RecordPage([_hs_record(i, stamp, True) for i in ids[start : start + 200]])

    async def deleted_since(self, *_: Any, **__: Any) -> AsyncIterator[RecordPage]:
        self.calls.count("list")
        return
        yield  # an async generator with no page

    async def update(self, object_type: str, updates: Sequence[Any]) -> list[WriteResult]:
        self.calls.count("batch_update")
        self.written += len(updates)
        return [WriteResult(i, True, rid) for i, (rid, _) in enumerate(updates)]

    async def find_by(self, *_: Any, **__: Any) -> list[RemoteRecord]:
        return []

    async def read(self, *_: Any, **__: Any) -> dict[str, RemoteRecord]:
        return {}

    async def aclose(self) -> None:
        return None


class FakeSalesforce:
    """Salesforce side of the fake: changed Leads by queryAll, Collections updates."""

    def __init__(self, changed: range) -> None:
        self.changed = changed
        self.calls = CallCounter()
        self.written = 0

    async def query(self, statement: str, **_: Any) -> AsyncIterator[list[dict[str, Any]]]:
        self.calls.count("queryAll")
        if " FROM Lead " not in statement:
            return
        stamp = int(time.time() * 1000) - 60_000
        ids = self.changed
        for start in range(0, len(ids), 2000):
            yield [_sf_record(i, stamp, True) for i in ids[start : start + 2000]]

    async def update(self, sobject: str, updates: Sequence[Any], **_: Any) -> list[WriteResult]:
        self.calls.count("collections_update")
        self.written += len(updates)
        return [WriteResult(i, True, rid) for i, (rid, _) in enumerate(updates)]

    async def find_by(self, *_: Any, **__: Any) -> list[RemoteRecord]:
        return []

    async def read(self, *_: Any, **__: Any) -> dict[str, RemoteRecord]:
        return {}

    async def aclose(self) -> None:
        return None


def _snapshot(i: int) -> Snapshot:
    values: dict[str, Any] = {
        "email": f"person{i}@bench.example",
        "firstname": f"First{i}",
        "lastname": f"Last{i}",
        "jobtitle": f"Title {i}",
        "phone": f"+1 555 {i:07d}",
        "city": "Springfield",
    }
    return Snapshot(dict(values), dict(values))


async def measure_engine(records: int) -> dict[str, Any]:
    """One cycle over `records` changed linked records (half per side), from memory."""
    config = local_config(HS, SF, "sqlite://")
    mappings = {"contacts": compile_mappings(config)["contacts"]}
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'engine.db'}")
        setup = time.perf_counter()
        batch: list[Link] = []
        for i in range(records):
            batch.append(Link("contacts", str(i), "Lead", _sf_id(i), _snapshot(i)))
            if len(batch) == 10_000:
                store.links.upsert_many(batch)
                batch = []
        store.links.upsert_many(batch)
        setup_seconds = time.perf_counter() - setup
        half = records // 2
        hubspot = FakeHubSpot(range(0, half))
        salesforce = FakeSalesforce(range(half, records))
        ctx = SyncContext(
            cast(HubSpotClient, hubspot),
            cast(SalesforceClient, salesforce),
            store,
            mappings,
            CycleOptions(pairs=("contacts",)),
        )
        started = time.perf_counter()
        cpu = time.process_time()
        report = await run_cycle(ctx)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu
        store.close()
    assert hubspot.written == records - half and salesforce.written == half, report
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    phases = {k: round(v, 2) for k, v in report.pairs[0].seconds.items()}
    core = phases.get("plan", 0) + phases.get("bookkeeping", 0)
    return {
        "phase_seconds": phases,
        "plan_and_bookkeeping_records_per_second": round(records / core) if core else None,
        "records": records,
        "cycle_seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "records_per_second": round(records / seconds),
        "records_per_cpu_second": round(records / cpu_seconds),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "link_setup_seconds": round(setup_seconds, 2),
        "audit_rows": records,
    }


def engine_in_subprocess(records: int) -> dict[str, Any]:
    """Run `measure_engine` in a fresh process so its peak RSS is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--engine-only", str(records), "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


# -- output ------------------------------------------------------------------------------------


def render(console: Console, calls: dict[str, Any] | None, engine: list[dict[str, Any]]) -> None:
    """Print the tables."""
    if calls is not None:
        table = Table(title=f"One cycle, {CHANGED:,} changed records per side (contacts pair)")
        for column in ("side", "API calls", "lower bound", "next cycle", "steady cycle"):
            table.add_column(column, justify="right")
        for side in ("hubspot", "salesforce"):
            table.add_row(
                side,
                str(calls["calls"][side]),
                str(calls["lower_bound"][side]),
                str(calls["next_cycle_calls"][side]),
                str(calls["steady_calls"][side]),
            )
        console.print(table)
        first = calls["first_sync"]
        console.print(
            f"setup, first sync of {CHANGED:,} + {CHANGED:,} records: calls {first['calls']}; "
            f"created {first['created']}, updated {first['updated']} (values Salesforce filled "
            f"in on create, sent back in the same cycle); the created records read back "
            f"({first['read_back_records']:,}) cost {first['read_back_calls']} Salesforce "
            f"queries; the second cycle wrote {first['second_cycle_writes']}"
        )
        goal = "ok" if calls["ratio"] <= 1.1 else "MISSED"
        console.print(
            f"ratio to the lower bound: {calls['ratio']}x (goal <= 1.1x: {goal}); "
            f"writes: cycle {calls['writes']}, next {calls['next_cycle_writes']}, "
            f"steady {calls['steady_writes']}"
        )
    if engine:
        table = Table(title="Engine speed, APIs answered from memory (plan + bookkeeping)")
        columns = ("records", "seconds", "records/s", "records/cpu-s", "plan+bookkeeping/s")
        for column in (*columns, "peak RSS MB"):
            table.add_column(column, justify="right")
        for row in engine:
            table.add_row(
                f"{row['records']:,}",
                str(row["cycle_seconds"]),
                f"{row['records_per_second']:,}",
                f"{row['records_per_cpu_second']:,}",
                f"{row['plan_and_bookkeeping_records_per_second']:,}",
                str(row["peak_rss_mb"]),
            )
        console.print(table)
        for row in engine:
            phases = ", ".join(f"{k} {v} s" for k, v in row["phase_seconds"].items())
            console.print(f"{row['records']:,} records, seconds per phase: {phases}")


def main() -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls-only", action="store_true")
    parser.add_argument("--engine-only", type=int, default=None, metavar="N")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--sizes", default="20000,200000", help="engine sizes to run")
    args = parser.parse_args()
    if args.engine_only is not None:
        result = asyncio.run(measure_engine(args.engine_only))
        if args.json:
            print(json.dumps(result))
        else:
            render(Console(), None, [result])
        return 0
    console = Console()
    calls = asyncio.run(measure_calls())
    engine = (
        [] if args.calls_only else [engine_in_subprocess(int(n)) for n in args.sizes.split(",")]
    )
    render(console, calls, engine)
    results = {"calls": calls, "engine": engine}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sync_efficiency.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
