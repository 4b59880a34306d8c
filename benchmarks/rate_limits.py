"""Rate limits: a 20,000-record sync under a tight emulated budget, paced by the governors.

Both emulators run in process (httpx.ASGITransport, one event loop). HubSpot is on the free
tier (100 calls per rolling ten seconds, search 5 per second) with a low daily limit; Salesforce
gets a low daily API allocation through `PUT /__emulator__/limits`. HubSpot is seeded with
HS_BORN synthetic contacts and Salesforce with SF_BORN synthetic Leads (the emulators' cheap
bulk seed, not counted as API calls); cycles of the contacts pair run back to back until a
cycle writes nothing. Nothing is scaled: the windows are the real ones on the real clock.

Every API call the engine sends is timed (sent, answered) by a wrapper around the emulators'
transports. Figures:
- avoidable 429s: every 429 the emulators answered (stats `by_status`). HubSpot's burst and
  search windows are known in advance and the daily figures are read from every response, so
  any 429 is one the governor could have avoided. Goal 0.
- budget share: calls each side spent against `share` x the daily limit configured. Goal <=.
- the floor the limits impose on n calls: each rolling window of `limit` calls per `seconds`
  lets n calls through no sooner than (ceil(n / limit) - 1) x seconds; the floor is the
  largest such figure over HubSpot's two windows (they are independent, so could overlap in
  time), the serial floor their sum (if reads and writes never overlapped).
- confirming searches: searches for records modified since the run began (their lower
  bound is at or after its start less the overlap), i.e. reads of the sync's own writes (the
  engine's confirming tail, and the last cycle's read). Every written HubSpot record has to be
  read back once (its last-modified date moved), 200 a search.
- (i) time to convergence: from the first cycle's start to the moment the last write of the
  sync was answered; both sides then hold the synced data. Its floor: the formula above over
  the calls converging needed that were sent up to that moment: the confirming searches are
  left out (they are not needed to converge, and counting them would raise the floor).
- (ii) time to the confirmed steady state: to the end of the first cycle that writes nothing
  (the wall time of the run). Its floor: the formula over every call, confirming searches
  included (the run is not over until its writes have been read back).
- Goal: the total wall time, (ii), within 1.2x of its floor. (i) is given with its own floor
  and verdict, as information on how soon the data is synced.

Three runs: "pacing" (both shares larger than the sync needs: only the windows bind), "pacing
with latency" (the same, each API call answered LATENCY_MS later, as real APIs are: the
emulators' latency rule; the floors ignore latency, so its ratios also show what latency
costs), and "budget" (the Salesforce share smaller than the sync needs: the governor slows
down past 90% of it, then raises RateLimited(window="budget") and the cycle stops with the
share unspent).

Run: `python benchmarks/rate_limits.py [--hs N --sf N]`; writes benchmarks/results/rate_limits.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from hubforce.connectors.governor import hubspot_governor, salesforce_governor
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.engine.context import CycleOptions, CycleReport
from hubforce.engine.cycle import run_cycle
from hubforce.engine.local import local_config
from hubforce.engine.runner import sync_context
from hubforce.errors import RateLimited
from hubforce.store import open_store
from hubforce.sync.model import Side

RESULTS = Path(__file__).parent / "results"
HS, SF = "http://hubspot.bench", "http://salesforce.bench"
TOKEN = {"Authorization": "Bearer emulator-token"}
SHARE = 0.5
HS_BURST, HS_SEARCH = 100, 5  # free tier: per ten seconds; search per second
HS_DAILY = 2_000  # share 1,000 calls: the sync needs about half of it
SF_DAILY = 1_000  # share 500: enough for the sync (about 360 calls), so only pacing binds
SF_DAILY_TIGHT = 600  # share 300: less than the sync needs, so the budget must stop it
SF_PAUSE_SCALED = 3.0  # the slow-down horizon, 900 s in production, scaled to keep this short
OVERLAP_MS = 1000  # the cycles' re-read before each cursor
#: Per-call latency of the "with latency" run (ms): typical of each API from a nearby region.
LATENCY_MS = {Side.HUBSPOT: 150, Side.SALESFORCE: 100}
_LATENCY_ROUTES = {Side.HUBSPOT: "/crm/*", Side.SALESFORCE: "/services/*"}
MAX_CYCLES = 8


@dataclass(frozen=True, slots=True)
class Call:
    """One API call of the engine: when it left and was answered (seconds from the start)."""

    side: Side
    kind: str  # "search" | "ten_second" (HubSpot's two windows) | "salesforce"
    write: bool
    sent: float
    answered: float
    confirming: bool = False  # a search for records modified since the run began


_WRITE_PATHS = ("/batch/create", "/batch/update", "/batch/upsert", "/batch/archive")


def search_lower_bound(body: bytes) -> int | None:
    """The lowest last-modified date a search asks for (its GTE filters), None without one."""
    try:
        request = json.loads(body)
        bounds = [
            int(f["value"])
            for group in request.get("filterGroups") or ()
            for f in group.get("filters") or ()
            if f.get("operator") == "GTE" and f.get("propertyName", "").endswith("lastmodifieddate")
        ]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return min(bounds) if bounds else None


def call_kind(side: Side, method: str, path: str) -> tuple[str, bool] | None:
    """(window kind, is a write) of an engine request; None for what is not an API call."""
    if "/__emulator__" in path or "/oauth" in path:
        return None
    if side is Side.SALESFORCE:
        return "salesforce", method in ("POST", "PATCH", "DELETE") and "/composite" in path
    if method == "POST" and path.endswith("/search"):
        return "search", False
    return "ten_second", method == "POST" and path.endswith(_WRITE_PATHS)


class Timed(httpx.AsyncBaseTransport):
    """An emulator's transport that records every API call the engine sends through it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, side: Side, log: list[Call]) -> None:
        self.inner = inner
        self.side = side
        self.log = log
        self.origin = time.perf_counter()
        self.run_start_ms = int(time.time() * 1000)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sent = time.perf_counter()
        response = await self.inner.handle_async_request(request)
        kind = call_kind(self.side, request.method, request.url.path)
        if kind is not None:
            now = time.perf_counter()
            lower = search_lower_bound(request.content) if kind[0] == "search" else None
            confirming = lower is not None and lower >= self.run_start_ms - OVERLAP_MS
            self.log.append(
                Call(self.side, *kind, sent - self.origin, now - self.origin, confirming)
            )
        return response


class Bench:
    """Both emulators in process, a store, and one governor per side kept across cycles."""

    def __init__(self, tmp: Path, sf_pause: float) -> None:
        apps = {
            Side.HUBSPOT: create_hubspot_app(
                HubSpotEmulatorSettings(tier="free", search_per_second=HS_SEARCH)
            ),
            Side.SALESFORCE: create_salesforce_app(),
        }
        self.transports: dict[Side, httpx.AsyncBaseTransport] = {
            side: httpx.ASGITransport(app=app) for side, app in apps.items()
        }
        self.calls: list[Call] = []
        self.timed: dict[Side, Timed] = {
            side: Timed(transport, side, self.calls) for side, transport in self.transports.items()
        }
        self.store = open_store(f"sqlite:///{tmp / 'bench.db'}")
        self.config = local_config(HS, SF, "sqlite://")
        self.governors = {
            Side.HUBSPOT: hubspot_governor(
                burst=HS_BURST, search_per_second=HS_SEARCH, share=SHARE
            ),
            Side.SALESFORCE: salesforce_governor(share=SHARE, pause=sf_pause),
        }

    async def call(self, side: Side, method: str, path: str, body: Any = None) -> Any:
        """One control call to an emulator."""
        base = HS if side is Side.HUBSPOT else SF
        async with httpx.AsyncClient(
            transport=self.transports[side], base_url=base, headers=TOKEN, timeout=120
        ) as client:
            reply = await client.request(method, path, json=body)
            reply.raise_for_status()
            return reply.json() if reply.content else None

    async def cycle(self) -> CycleReport:
        """One cycle of the contacts pair with the long-lived governors."""
        opts = CycleOptions(pairs=("contacts",), overlap_ms=OVERLAP_MS)
        async with sync_context(
            self.config,
            options=opts,
            store=self.store,
            transports=dict(self.timed),
            governors=self.governors,
        ) as ctx:
            return await run_cycle(ctx)

    def start_clock(self) -> float:
        """Zero the call log's clock now; return the moment (perf_counter)."""
        now = time.perf_counter()
        for timed in self.timed.values():
            timed.origin = now
            timed.run_start_ms = int(time.time() * 1000)
        self.calls.clear()
        return now


def window_floor(calls: int, limit: int, seconds: float) -> float:
    """Least time `calls` sends take through a rolling window of `limit` per `seconds`."""
    return max(0, math.ceil(calls / limit) - 1) * seconds if calls else 0.0


def floor_of(calls: list[Call], *, confirming: bool = True) -> dict[str, Any]:
    """HubSpot calls per window among `calls` (without confirming searches unless
    `confirming`), each window's floor, and the largest."""
    ten = sum(1 for c in calls if c.kind == "ten_second")
    search = sum(1 for c in calls if c.kind == "search" and (confirming or not c.confirming))
    floors = {
        "hubspot_ten_second": window_floor(ten, HS_BURST, 10.0),
        "hubspot_search": window_floor(search, HS_SEARCH, 1.0),
    }
    return {
        "calls": {"hubspot_ten_second": ten, "hubspot_search": search},
        "floor_seconds": floors,
        "floor": max(floors.values()),
    }


def milestone(seconds: float, calls: list[Call], *, confirming: bool = True) -> dict[str, Any]:
    """A moment of the run, the floor of the calls sent up to it, and the ratio."""
    figures = floor_of([c for c in calls if c.sent <= seconds], confirming=confirming)
    floor = figures["floor"]
    return {
        "seconds": round(seconds, 1),
        **figures,
        "ratio": round(seconds / floor, 2) if floor else None,
        "within_1_2x": bool(floor) and seconds <= 1.2 * floor,
    }


async def measure(
    hs_born: int,
    sf_born: int,
    sf_daily: int,
    sf_pause: float = 900.0,
    latency: dict[Side, int] | None = None,
) -> dict[str, Any]:
    """Seed, sync to a steady state (or the budget's pause) under the limits; the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp), sf_pause)
        await bench.call(Side.HUBSPOT, "POST", "/__emulator__/seed", {"extra_contacts": hs_born})
        seed = {"seed": 1, "people": 0, "companies": 0, "deals": 0, "reps": 1}
        await bench.call(
            Side.SALESFORCE, "POST", "/__emulator__/seed", {**seed, "extra_leads": sf_born}
        )
        hs_limits = {"tier": "free", "daily": HS_DAILY, "search_per_second": HS_SEARCH}
        await bench.call(Side.HUBSPOT, "PUT", "/__emulator__/limits", hs_limits)
        await bench.call(
            Side.SALESFORCE, "PUT", "/__emulator__/limits", {"daily_api_requests": sf_daily}
        )
        for side in Side:
            await bench.call(side, "POST", "/__emulator__/stats/reset")
            if latency:
                rule = {"route": _LATENCY_ROUTES[side], "latency_ms": latency[side]}
                await bench.call(side, "POST", "/__emulator__/faults", {"rules": [rule]})
        cycles: list[dict[str, Any]] = []
        paused: str | None = None
        steady = False
        started = bench.start_clock()
        for _ in range(MAX_CYCLES):
            t0 = time.perf_counter()
            logged = len(bench.calls)
            try:
                report = await bench.cycle()
            except RateLimited as exc:
                paused = f"{exc.side} {exc.window}, retry in {exc.retry_after:.0f} s"
                break
            own = bench.calls[logged:]
            cycles.append(
                {
                    "writes": report.writes,
                    "failures": report.failures,
                    "started": round(t0 - started, 2),
                    "seconds": round(time.perf_counter() - t0, 2),
                    "calls": {
                        "hubspot_search": sum(1 for c in own if c.kind == "search"),
                        "hubspot_ten_second": sum(1 for c in own if c.kind == "ten_second"),
                        "salesforce": sum(1 for c in own if c.kind == "salesforce"),
                    },
                }
            )
            print(f"cycle: {cycles[-1]}", file=sys.stderr)
            if report.writes == 0:
                steady = True
                break
            # No pause between cycles: the next cycle re-reads from `overlap_ms` before the
            # cursor, which covers Salesforce's whole-second SystemModstamps.
        wall = time.perf_counter() - started
        log = list(bench.calls)
        stats = {str(s): await bench.call(s, "GET", "/__emulator__/stats") for s in Side}
        links = sum(len(page) for page in bench.store.links.iter_pair("contacts", batch_size=5000))
        bench.store.close()
    hs_routes: dict[str, int] = stats["hubspot"]["by_route"]
    search_calls = sum(n for route, n in hs_routes.items() if route.endswith("/search"))
    hs_calls = stats["hubspot"]["api_calls"]
    sf_calls = stats["salesforce"]["api_calls"]
    floors = {
        "hubspot_ten_second": window_floor(hs_calls - search_calls, HS_BURST, 10.0),
        "hubspot_search": window_floor(search_calls, HS_SEARCH, 1.0),
    }
    serial = sum(floors.values())
    writes = [c.answered for c in log if c.write]
    convergence = milestone(max(writes), log, confirming=False) if writes and steady else None
    steady_state = milestone(wall, log) if steady else None
    timeline = floor_of(log)["calls"]
    return {
        "records": hs_born + sf_born,
        "latency_ms": {str(side): ms for side, ms in (latency or {}).items()},
        "hubspot_born": hs_born,
        "salesforce_born": sf_born,
        "linked": links,
        "cycles": cycles,
        "paused": paused,
        "wall_seconds": round(wall, 1),
        "calls": {"hubspot": hs_calls, "hubspot_search": search_calls, "salesforce": sf_calls},
        "by_status": {s: stats[s]["by_status"] for s in stats},
        "http_429": {s: int(stats[s]["by_status"].get("429", 0)) for s in stats},
        "budget": {"hubspot": int(HS_DAILY * SHARE), "salesforce": int(sf_daily * SHARE)},
        "daily_limit": {"hubspot": HS_DAILY, "salesforce": sf_daily},
        "salesforce_slowdown_horizon_seconds": sf_pause,
        "governor_slept_seconds": {str(s): round(g.slept, 1) for s, g in bench.governors.items()},
        "share": SHARE,
        "floor_seconds": {k: round(v, 1) for k, v in floors.items()},
        "serial_floor_seconds": round(serial, 1),
        "floor_seconds_max": round(max(floors.values()), 1),
        "wall_to_floor": round(wall / max(floors.values()), 2) if max(floors.values()) else None,
        "wall_to_serial_floor": round(wall / serial, 2) if serial else None,
        "convergence": convergence,
        "steady_state": steady_state,
        "confirming_searches": sum(1 for c in log if c.confirming),
        "timed_calls_match_stats": timeline
        == {"hubspot_ten_second": hs_calls - search_calls, "hubspot_search": search_calls},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "by_route": {s: stats[s]["by_route"] for s in stats},
    }


def render(console: Console, name: str, r: dict[str, Any]) -> None:
    """Print one scenario's table and verdicts."""
    table = Table(title=f"{name}: {r['records']:,} records (real HubSpot windows, no scaling)")
    for column in ("side", "calls", "budget (share x daily)", "429s answered", "governor slept s"):
        table.add_column(column, justify="right")
    for side in ("hubspot", "salesforce"):
        calls = str(r["calls"][side])
        if side == "hubspot":
            calls += f" ({r['calls']['hubspot_search']} search)"
        table.add_row(
            side,
            calls,
            f"{r['budget'][side]} ({r['share']} x {r['daily_limit'][side]})",
            str(r["http_429"][side]),
            str(r["governor_slept_seconds"][side]),
        )
    console.print(table)
    avoidable = sum(r["http_429"].values())
    within = all(r["calls"][s] <= r["budget"][s] for s in ("hubspot", "salesforce"))
    console.print(
        f"linked {r['linked']:,}; cycles {r['cycles']}; paused: {r['paused']}\n"
        f"avoidable 429s: {avoidable} (goal 0: {'ok' if avoidable == 0 else 'MISSED'}); "
        f"budget share respected: {'ok' if within else 'MISSED'}\n"
        f"wall {r['wall_seconds']} s; floors {r['floor_seconds']}, serial "
        f"{r['serial_floor_seconds']} s; wall / floor {r['wall_to_floor']}, wall / serial floor "
        f"{r['wall_to_serial_floor']}; load average {r['load_average']}"
    )
    for key, what in (
        (
            "convergence",
            "(i) time to convergence: the last write of the sync answered (confirming "
            "searches not counted)",
        ),
        (
            "steady_state",
            "(ii) time to the confirmed steady state: the cycle writing nothing ended",
        ),
    ):
        m = r[key]
        if m is None:
            console.print(f"{what}: not reached (paused)")
            continue
        calls = m["calls"]
        console.print(
            f"{what}: {m['seconds']} s; floor of the calls sent until then "
            f"({calls['hubspot_ten_second']} ten-second calls -> "
            f"{m['floor_seconds']['hubspot_ten_second']} s, {calls['hubspot_search']} searches -> "
            f"{m['floor_seconds']['hubspot_search']} s): {m['floor']} s -> {m['ratio']}x"
        )
    console.print(
        f"confirming searches (reads of the sync's own writes): {r['confirming_searches']}; "
        "left out of (i)'s floor, counted in (ii)'s"
    )


def main() -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hs", type=int, default=12_000, help="HubSpot-born contacts")
    parser.add_argument("--sf", type=int, default=8_000, help="Salesforce-born Leads")
    args = parser.parse_args()
    console = Console()
    pacing = asyncio.run(measure(args.hs, args.sf, SF_DAILY))
    render(console, "Pacing (budget not reached)", pacing)
    verdicts = []
    for key, name in (
        ("steady_state", "goal: (ii) total wall time"),
        ("convergence", "information: (i) convergence"),
    ):
        m = pacing[key]
        ratio = None if m is None else m["ratio"]
        verdicts.append(f"{name} {ratio}x {'ok' if m and m['within_1_2x'] else 'MISSED'}")
    console.print("wall time within 1.2x of the floor the limits impose: " + "; ".join(verdicts))
    slow = asyncio.run(measure(args.hs, args.sf, SF_DAILY, latency=LATENCY_MS))
    render(console, "Pacing with API latency (HubSpot 150 ms, Salesforce 100 ms a call)", slow)
    console.print(
        "information, with latency: "
        + "; ".join(
            f"{name} {slow[key]['ratio'] if slow[key] else None}x"
            for key, name in (("steady_state", "(ii) total"), ("convergence", "(i) convergence"))
        )
    )
    budget = asyncio.run(measure(args.hs, args.sf, SF_DAILY_TIGHT, SF_PAUSE_SCALED))
    render(console, "Budget (Salesforce share below the sync's need)", budget)
    console.print(
        "Scaling: none for HubSpot (free tier: 100 per 10 s, search 5 per s, real clock). "
        f"In the budget run the Salesforce slow-down horizon is {SF_PAUSE_SCALED} s instead "
        "of 900 s, so the spread-out sends before the pause take seconds, not minutes; the "
        "wall-time goal applies to the pacing run only (a paused sync has no finish time)."
    )
    results = {"pacing": pacing, "pacing_with_latency": slow, "budget": budget}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rate_limits.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
