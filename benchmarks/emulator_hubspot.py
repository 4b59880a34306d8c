"""HubSpot emulator speed: the incremental-sync search and simple GETs over 100,000 contacts.

Serves the emulator in-process on loopback (uvicorn on a thread), seeds 100,000 synthetic
contacts, lifts the rate limits (so the limiter is not what is measured), then times:
- `lastmodifieddate >= t` sorted ascending, limit 200, at several windows (median, p95);
- GET /crm/v3/objects/contacts/{id}, sequential on one keep-alive connection for ~5 s.
The same GET probe against a bare Starlette app served the same way gives the ceiling of
this server stack on this machine at that moment (the figures move with the machine's load).
Prints a table and writes JSON to stdout and benchmarks/results/emulator_hubspot.json.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings

CONTACTS = 100_000
SEARCHES = 60
GET_SECONDS = 5.0
TOKEN = "bench-token"
GET_CLIENT = """
import http.client, sys, time
port, token, seconds, ids = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4:]
conn = http.client.HTTPConnection("127.0.0.1", port)
auth = {"Authorization": "Bearer " + token}
count, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < seconds:
    conn.request("GET", "/crm/v3/objects/contacts/" + ids[count % len(ids)], headers=auth)
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 200, reply.status
    count += 1
print(count, time.perf_counter() - t0)
"""


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _probe_gets(port: int, ids: list[str]) -> tuple[int, float]:
    """(requests, requests/s) of sequential keep-alive GETs by id for GET_SECONDS.

    The client (http.client) runs in a child process: in this process its thread would
    compete with the server's for the GIL and the figure would not be the emulator's.
    """
    probe = subprocess.run(
        [sys.executable, "-c", GET_CLIENT, str(port), TOKEN, str(GET_SECONDS), *ids],
        capture_output=True,
        text=True,
        check=True,
    )
    count, elapsed = probe.stdout.split()
    return int(count), int(count) / float(elapsed)


def _baseline_app() -> Starlette:
    """A bare Starlette app answering the same path: the ceiling of this server stack here."""

    async def record(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["record_id"], "properties": {}})

    return Starlette(routes=[Route("/crm/v3/objects/contacts/{record_id}", record)])


def main() -> dict[str, object]:
    """Run the benchmark and return the figures."""
    settings = HubSpotEmulatorSettings(static_token=TOKEN, tier="enterprise")
    with BackgroundServer(create_app(settings)) as server:
        control = httpx.Client(base_url=server.url, timeout=120)
        started = time.perf_counter()
        control.post("/__emulator__/seed", json={"extra_contacts": CONTACTS}).raise_for_status()
        seed_seconds = time.perf_counter() - started
        control.put("/__emulator__/limits", json={"enabled": False}).raise_for_status()
        api = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )
        first = api.post(
            "/crm/v3/objects/contacts/search",
            json={
                "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                "limit": 1,
            },
        ).json()
        total = first["total"]
        oldest = first["results"][0]["properties"]["lastmodifieddate"]
        oldest_ms = (
            int(time.mktime(time.strptime(oldest[:19], "%Y-%m-%dT%H:%M:%S")) * 1000)
            - time.timezone * 1000
        )
        rng = random.Random(7)
        search_ms: list[float] = []
        for _ in range(SEARCHES):
            since = oldest_ms + rng.randrange(0, CONTACTS * 1000)
            body = {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": "lastmodifieddate",
                                "operator": "GTE",
                                "value": str(since),
                            }
                        ]
                    }
                ],
                "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                "properties": ["email", "firstname", "lastname", "lastmodifieddate"],
                "limit": 200,
            }
            t0 = time.perf_counter()
            reply = api.post("/crm/v3/objects/contacts/search", json=body)
            search_ms.append((time.perf_counter() - t0) * 1000)
            reply.raise_for_status()
            assert len(reply.json()["results"]) > 0
        ids = [
            r["id"]
            for r in api.get("/crm/v3/objects/contacts", params={"limit": 100}).json()["results"]
        ]
        count, get_rps = _probe_gets(server.port, ids)
    with BackgroundServer(_baseline_app()) as bare:
        _, baseline_rps = _probe_gets(bare.port, ids)
    figures: dict[str, object] = {
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "contacts": total,
        "seed_seconds": round(seed_seconds, 2),
        "search_lastmodifieddate_asc_limit200": {
            "runs": SEARCHES,
            "median_ms": round(statistics.median(search_ms), 2),
            "p95_ms": round(_percentile(search_ms, 95), 2),
            "max_ms": round(max(search_ms), 2),
        },
        "get_by_id": {
            "requests": count,
            "baseline_bare_starlette_requests_per_second": round(baseline_rps, 1),
            "seconds": GET_SECONDS,
            "requests_per_second": round(get_rps, 1),
        },
    }
    return figures


if __name__ == "__main__":
    result = main()
    search = result["search_lastmodifieddate_asc_limit200"]
    gets = result["get_by_id"]
    assert isinstance(search, dict) and isinstance(gets, dict)
    print(f"{'measure':<48}{'value':>12}")
    load = f"{result['load_average_1m']} / {result['cpus']}"
    print(f"{'machine load average (1 min) / cpus':<48}{load:>12}")
    print(f"{'contacts seeded':<48}{result['contacts']:>12}")
    print(f"{'seed time (s)':<48}{result['seed_seconds']:>12}")
    print(f"{'search lastmodifieddate asc, median (ms)':<48}{search['median_ms']:>12}")
    print(f"{'search lastmodifieddate asc, p95 (ms)':<48}{search['p95_ms']:>12}")
    print(f"{'GET by id, sequential keep-alive (req/s)':<48}{gets['requests_per_second']:>12}")
    bare = gets["baseline_bare_starlette_requests_per_second"]
    print(f"{'  same probe, bare Starlette app (req/s)':<48}{bare:>12}")
    text = json.dumps(result, indent=2)
    print(text)
    out = Path(__file__).parent / "results" / "emulator_hubspot.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
