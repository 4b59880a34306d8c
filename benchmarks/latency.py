"""Real-time latency of `hubforce run`: from a change in one emulator to its arrival in the other.

Both emulators are served in process on loopback ports (BackgroundServer) with their default
latency (0 ms added). The contacts are synced once (`hubforce sync --once`), then the real
command `hubforce run` is started as a subprocess with the Salesforce poll interval at its
minimum (5 s) and the HubSpot emulator delivering signed v3 webhooks to it (default flush
interval). Four phases:

- HubSpot -> Salesforce: `jobtitle` edited through the HubSpot API, timed until the linked
  Contact/Lead shows the new `Title` (SOQL `Id IN (...)` every 0.1 s).
- Form -> Lead: the "Contact us" form submitted (a new e-mail each time), timed until the seed
  workflow `form-to-lead` has created its Lead (SOQL every 0.1 s). The workflow confirms each
  submission by form GUID through the submissions API before it acts.
- Salesforce -> HubSpot: `Title` edited through the Salesforce API, timed until the linked
  HubSpot contact shows the new `jobtitle` (batch read every 0.2 s: the observer shares the
  HubSpot burst limit with the service, so it reads at most 5 times a second).
- The same with HubSpot webhooks switched off ("poll only"), as a control: the service's own
  writes to HubSpot come back as webhooks, and while a targeted sync ran a whole pair cycle
  those echoes carried Salesforce edits ahead of the poll. Targeted syncs now read only the
  given ids, so both rows should show the poll.

A change's clock starts before its write request is sent. Changes are spaced at a steady rate
and never touch a record whose previous change has not arrived yet. Every change has a
deadline; the whole run is bounded (a few minutes).
Goals: HubSpot -> Salesforce p95 < 2 s; Salesforce -> HubSpot p95 < poll interval + 2 s.

Run: `python benchmarks/latency.py [--changes 200] [--forms 50] [--rate 4]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.table import Table

from hubforce.config.defaults import DEFAULT_CONFIG_YAML
from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.hubspot.app import create_app as create_hubspot_app
from hubforce.emulators.hubspot.form_models import CONTACT_US_GUID
from hubforce.emulators.hubspot.settings import HubSpotEmulatorSettings
from hubforce.emulators.salesforce.app import create_app as create_salesforce_app
from hubforce.engine.local import EMULATOR_ENV

RESULTS = Path(__file__).parent / "results"
V = "/services/data/v62.0"
SECRET = "latency-bench-webhook-secret"
POLL_SECONDS = 5  # the minimum the config accepts
DEADLINE_S = 30.0  # a change not seen by then counts as missed
WORLD = {"seed": 11, "people": 80, "companies": 10, "deals": 0}
HS_SETTINGS = HubSpotEmulatorSettings(tier="enterprise")


@dataclass
class Pair:
    """One contact linked on both sides (matched by e-mail after the first sync)."""

    hubspot_id: str
    sobject: str
    salesforce_id: str


@dataclass
class Phase:
    """One direction's measurements."""

    name: str
    tag: str  # in the written values, so that each phase's values are new
    latencies: list[float] = field(default_factory=list)
    missed: int = 0
    inflight: dict[int, tuple[Pair, str, float]] = field(default_factory=dict)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def write_config(tmp: Path, hs_url: str, sf_url: str) -> Path:
    """The default config pointed at the emulators, polling Salesforce every POLL_SECONDS."""
    data = yaml.safe_load(DEFAULT_CONFIG_YAML)
    data["connections"] = {
        "hubspot": {"base_url": hs_url, "token": "${HUBSPOT_TOKEN}"},
        "salesforce": {
            "login_url": sf_url,
            "instance_url": sf_url,
            "api_version": "62.0",
            "password": {
                "username": "admin@hubforce-emulator.example",
                "password": "${SALESFORCE_PASSWORD}",
                "security_token": "${SALESFORCE_SECURITY_TOKEN}",
                "client_id": "hubforce-emulator-consumer-key",
                "client_secret": "${SALESFORCE_CLIENT_SECRET}",
            },
        },
        "store": {"url": f"sqlite:///{tmp / 'state.db'}"},
    }
    data["schedule"]["salesforce_poll_seconds"] = POLL_SECONDS
    path = tmp / "hubforce.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def salesforce_login(sf: httpx.AsyncClient) -> None:
    """Password-grant login; the token goes on the client."""
    response = await sf.post(
        "/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": "hubforce-emulator-consumer-key",
            "client_secret": EMULATOR_ENV["SALESFORCE_CLIENT_SECRET"],
            "username": "admin@hubforce-emulator.example",
            "password": EMULATOR_ENV["SALESFORCE_PASSWORD"]
            + EMULATOR_ENV["SALESFORCE_SECURITY_TOKEN"],
        },
    )
    response.raise_for_status()
    sf.headers["Authorization"] = f"Bearer {response.json()['access_token']}"


async def soql(sf: httpx.AsyncClient, statement: str) -> list[dict[str, Any]]:
    """Every record of a SOQL query."""
    body = (await sf.get(f"{V}/query", params={"q": statement})).raise_for_status().json()
    records: list[dict[str, Any]] = body["records"]
    while not body.get("done", True):
        body = (await sf.get(body["nextRecordsUrl"])).raise_for_status().json()
        records += body["records"]
    return records


async def linked_pairs(hs: httpx.AsyncClient, sf: httpx.AsyncClient) -> list[Pair]:
    """HubSpot contacts and the one Salesforce Contact or Lead sharing their e-mail."""
    by_email: dict[str, str] = {}
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, "properties": "email"}
        if after:
            params["after"] = after
        body = (await hs.get("/crm/v3/objects/contacts", params=params)).raise_for_status().json()
        for contact in body["results"]:
            email = contact["properties"].get("email")
            if email:
                by_email[email.lower()] = contact["id"]
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            break
    found: dict[str, list[tuple[str, str]]] = {}
    for sobject in ("Contact", "Lead"):
        for record in await soql(sf, f"SELECT Id, Email FROM {sobject}"):
            email = str(record.get("Email") or "").lower()
            found.setdefault(email, []).append((sobject, record["Id"]))
    # An e-mail on two Salesforce records (a Lead and a Contact of one person) does not say
    # which one is linked: such people are left out.
    pairs = []
    for email, records in found.items():
        if email in by_email and len(records) == 1:
            pairs.append(Pair(by_email[email], *records[0]))
    return pairs


Write = Callable[[Pair, str], Awaitable[None]]
Observe = Callable[[list[tuple[Pair, str]]], Awaitable[set[str]]]


async def run_phase(
    phase: Phase,
    pairs: list[Pair],
    *,
    changes: int,
    rate: float,
    write: Write,
    observe: Observe,
    observe_every: float,
) -> None:
    """Write `changes` values at `rate` per second; time each until `observe` sees it."""
    done_writing = asyncio.Event()

    async def writer() -> None:
        start = time.monotonic()
        busy: set[str] = set()
        cursor = 0
        for index in range(changes):
            await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
            busy = {pair.hubspot_id for pair, _, _ in phase.inflight.values()}
            while True:  # the next record with no change in flight
                pair = pairs[cursor % len(pairs)]
                cursor += 1
                if pair.hubspot_id not in busy:
                    break
                if cursor % len(pairs) == 0:
                    await asyncio.sleep(observe_every)
                    busy = {p.hubspot_id for p, _, _ in phase.inflight.values()}
            value = f"lat-{phase.tag}-{index}"
            began = time.monotonic()
            await write(pair, value)
            phase.inflight[index] = (pair, value, began)
        done_writing.set()

    async def observer() -> None:
        while not done_writing.is_set() or phase.inflight:
            await asyncio.sleep(observe_every)
            if not phase.inflight:
                continue
            snapshot = dict(phase.inflight)
            seen = await observe([(pair, value) for pair, value, _ in snapshot.values()])
            now = time.monotonic()
            for index, (_, value, began) in snapshot.items():
                if value in seen:
                    phase.latencies.append(now - began)
                    del phase.inflight[index]
                elif now - began > DEADLINE_S:
                    phase.missed += 1
                    del phase.inflight[index]

    await asyncio.gather(writer(), observer())


def summary(phase: Phase, goal_s: float) -> dict[str, Any]:
    """p50/p95/max of one phase against its goal."""
    lat = phase.latencies
    p95 = percentile(lat, 95) if lat else float("nan")
    return {
        "direction": phase.name,
        "changes": len(lat) + phase.missed,
        "arrived": len(lat),
        "missed": phase.missed,
        "p50_s": round(percentile(lat, 50), 3) if lat else None,
        "p95_s": round(p95, 3) if lat else None,
        "max_s": round(max(lat), 3) if lat else None,
        "goal_p95_s": goal_s,
        "met": bool(lat) and phase.missed == 0 and p95 < goal_s,
    }


async def measure(
    hs_url: str, sf_url: str, hooks: dict[str, Any], changes: int, forms: int, rate: float
) -> list[Phase]:
    """The four phases against the running service."""
    async with (
        httpx.AsyncClient(
            base_url=hs_url, headers={"Authorization": "Bearer emulator-token"}
        ) as hs,
        httpx.AsyncClient(base_url=sf_url) as sf,
    ):
        await salesforce_login(sf)
        pairs = await linked_pairs(hs, sf)
        if len(pairs) < 20:
            raise SystemExit(f"only {len(pairs)} linked contacts after the first sync")

        async def hs_write(pair: Pair, value: str) -> None:
            path = f"/crm/v3/objects/contacts/{pair.hubspot_id}"
            (await hs.patch(path, json={"properties": {"jobtitle": value}})).raise_for_status()

        async def sf_observe(wanted: list[tuple[Pair, str]]) -> set[str]:
            seen: set[str] = set()
            for sobject in {pair.sobject for pair, _ in wanted}:
                ids = ", ".join(f"'{p.salesforce_id}'" for p, _ in wanted if p.sobject == sobject)
                rows = await soql(sf, f"SELECT Id, Title FROM {sobject} WHERE Id IN ({ids})")
                seen |= {str(row.get("Title")) for row in rows}
            return seen

        async def form_submit(pair: Pair, value: str) -> None:
            fields = {"email": f"{value}@forms.example.com", "lastname": value, "company": "Lat"}
            body = {"fields": [{"name": k, "value": v} for k, v in fields.items()]}
            path = f"/submissions/v3/integration/submit/{HS_SETTINGS.portal_id}/{CONTACT_US_GUID}"
            (await hs.post(path, json=body)).raise_for_status()

        async def lead_observe(wanted: list[tuple[Pair, str]]) -> set[str]:
            emails = ", ".join(f"'{value}@forms.example.com'" for _, value in wanted)
            rows = await soql(sf, f"SELECT LastName FROM Lead WHERE Email IN ({emails})")
            return {str(row.get("LastName")) for row in rows}

        async def sf_write(pair: Pair, value: str) -> None:
            path = f"{V}/sobjects/{pair.sobject}/{pair.salesforce_id}"
            (await sf.patch(path, json={"Title": value})).raise_for_status()

        async def hs_observe(wanted: list[tuple[Pair, str]]) -> set[str]:
            body = {"properties": ["jobtitle"], "inputs": [{"id": p.hubspot_id} for p, _ in wanted]}
            response = await hs.post("/crm/v3/objects/contacts/batch/read", json=body)
            if response.status_code == 429:  # shared burst limit: try on the next tick
                return set()
            response.raise_for_status()
            return {str(r["properties"].get("jobtitle")) for r in response.json()["results"]}

        h2s, s2h = Phase("HS -> SF", "h2s"), Phase("SF -> HS", "s2h")
        form = Phase("HS form -> SF Lead", "form")
        poll_only = Phase("SF -> HS poll only", "poll")

        async def phase(
            run: Phase, write: Write, observe: Observe, every: float, count: int = changes
        ) -> None:
            await run_phase(
                run,
                pairs,
                changes=count,
                rate=rate,
                write=write,
                observe=observe,
                observe_every=every,
            )

        await phase(h2s, hs_write, sf_observe, 0.1)
        if forms:
            await phase(form, form_submit, lead_observe, 0.1, forms)
        await phase(s2h, sf_write, hs_observe, 0.2)
        # Control: without HubSpot webhooks (so without the echoes of the service's own
        # writes), only the SystemModstamp poll carries Salesforce changes.
        quiet = {**hooks, "subscriptions": []}
        (await hs.put("/__emulator__/webhooks", json=quiet)).raise_for_status()
        await asyncio.sleep(1.0)  # let the last echo batches go by before the clock starts
        await phase(poll_only, sf_write, hs_observe, 0.2)
        return [h2s, form, s2h, poll_only] if forms else [h2s, s2h, poll_only]


def wait_ready(process: subprocess.Popen[bytes], app_url: str, log: Path) -> None:
    """Poll /readyz until the service answers 200 (bounded)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"hubforce run exited early:\n{log.read_text()}")
        try:
            if httpx.get(app_url + "/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("hubforce run was not ready within 60 s")


def free_port() -> int:
    """A free loopback port for the service."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def metrics(app_url: str) -> dict[str, str]:
    """The service's Prometheus samples (name{labels} -> value)."""
    text = httpx.get(app_url + "/metrics").text
    lines = (line.rsplit(" ", 1) for line in text.splitlines() if line and line[0] != "#")
    return {name: value for name, value in lines}


def main() -> None:
    """Serve, sync, start `hubforce run`, measure both directions, print and save."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=200, help="changes per direction")
    parser.add_argument("--forms", type=int, default=50, help="form submissions (0: none)")
    parser.add_argument("--rate", type=float, default=4.0, help="changes per second")
    args = parser.parse_args()
    console = Console()
    load_before = os.getloadavg()
    env = {**os.environ, **EMULATOR_ENV, "HUBFORCE_WEBHOOK_SECRET": SECRET}
    with (
        tempfile.TemporaryDirectory() as tmp_name,
        BackgroundServer(create_hubspot_app(HS_SETTINGS)) as hs_srv,
        BackgroundServer(create_salesforce_app()) as sf_srv,
    ):
        tmp = Path(tmp_name)
        token = {"Authorization": "Bearer emulator-token"}
        for url in (hs_srv.url, sf_srv.url):
            httpx.post(url + "/__emulator__/seed", json=WORLD, headers=token).raise_for_status()
        config = write_config(tmp, hs_srv.url, sf_srv.url)
        hubforce = [sys.executable, "-m", "hubforce"]
        first = subprocess.run(
            [*hubforce, "sync", "--once", "-c", str(config)], env=env, capture_output=True
        )
        if first.returncode != 0:
            raise SystemExit(f"first sync failed:\n{first.stdout.decode()}{first.stderr.decode()}")
        port = free_port()
        app_url = f"http://127.0.0.1:{port}"
        log = tmp / "run.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*hubforce, "run", "-c", str(config), "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_ready(process, app_url, log)
            hooks = {
                "targetUrl": app_url + "/webhooks/hubspot",
                "clientSecret": SECRET,
                "signatureVersions": ["v3"],
                "subscriptions": [{"subscriptionType": "contact.propertyChange"}],
            }
            httpx.put(hs_srv.url + "/__emulator__/webhooks", json=hooks).raise_for_status()
            flush_ms = httpx.get(hs_srv.url + "/__emulator__/webhooks").json()["settings"]
            started = time.monotonic()
            phases = asyncio.run(
                measure(hs_srv.url, sf_srv.url, hooks, args.changes, args.forms, args.rate)
            )
            elapsed = time.monotonic() - started
            samples = metrics(app_url)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    load_after = os.getloadavg()
    # A form's Lead is a HubSpot -> Salesforce change: the same 2 s goal.
    goals = [2.0, 2.0] if args.forms else [2.0]
    goals += [POLL_SECONDS + 2.0, POLL_SECONDS + 2.0]
    rows = [summary(phase, goal) for phase, goal in zip(phases, goals, strict=True)]
    table = Table(title=f"hubforce run latency (Salesforce poll every {POLL_SECONDS} s)")
    for column in ("direction", "changes", "missed", "p50 s", "p95 s", "max s", "goal p95", "met"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["direction"],
            str(row["changes"]),
            str(row["missed"]),
            *(str(row[k]) for k in ("p50_s", "p95_s", "max_s")),
            f"< {row['goal_p95_s']} s",
            "yes" if row["met"] else "NO",
        )
    console.print(table)
    result = {
        "salesforce_poll_seconds": POLL_SECONDS,
        "webhook_flush_interval_ms": flush_ms.get("flushIntervalMs"),
        "emulator_added_latency_ms": 0,
        "rate_per_second": args.rate,
        "linked_world": WORLD,
        "elapsed_s": round(elapsed, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
        "service_metrics": {k: v for k, v in samples.items() if k.startswith("hubforce_")},
        "directions": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
